import type { ApprovalRecorder } from './approval-desk.js';
import { tally, type Approval, type ApprovalState } from './approval.js';
import type { ApprovalStore } from './approval-store.js';

/** Where a planned approval stands, as `trailgate approvals wait` prints it. */
export interface WatchProgress {
  id: string;
  state: ApprovalState;
  approved: number;
  quorum: number;
  expiresAt: string;
  deciders?: string[];
  reason?: string;
  /** An approved window: when it closes. */
  windowEndsAt?: string;
}

export interface Watch {
  done: Promise<WatchProgress>;
  /** The waiting client went away: the approval stays as it is (the job can wait again). */
  stop(): void;
}

/**
 * Follows a statement set or window until it is decided, for a job that waits without a database connection:
 * each review and the decision go into the waiting session's chain, progress to the client at once and every
 * heartbeat. Expiry is decided here too, since no held statement has a timer for it.
 */
export function watchApproval(o: {
  store: ApprovalStore;
  approval: Approval;
  pollMillis: number;
  heartbeatMillis: number;
  record: ApprovalRecorder;
  progress: (p: WatchProgress) => void;
}): Watch {
  const { store } = o;
  const id = o.approval.id;
  let seen = 0;
  let done = false;
  let checking = false;
  let last: WatchProgress = progressOf(o.approval, 0);
  let resolve!: (p: WatchProgress) => void;
  const finished = new Promise<WatchProgress>((r) => (resolve = r));
  const timers: NodeJS.Timeout[] = [];
  const stop = () => {
    done = true;
    for (const t of timers) clearTimeout(t);
    unsubscribe();
  };
  const check = async () => {
    if (done || checking) return;
    checking = true;
    try {
      let a = await store.get(id);
      if (!a || done) return;
      if (a.state === 'pending' && Date.now() >= Date.parse(a.expiresAt)) {
        await store.settle(id, 'expired', [], `approval ${id} expired at ${a.expiresAt} without a decision`);
        a = (await store.get(id)) ?? a;
      }
      const reviews = await store.reviews(id);
      if (done) return;
      for (; seen < reviews.length; seen++) o.record('approval.reviewed', reviews[seen]!);
      last = progressOf(a, tally(reviews).approvers.length);
      if (a.state !== 'pending') {
        o.record('approval.decided', { approvalId: id, state: a.state, deciders: a.deciders, ...(a.reason ? { reason: a.reason } : {}) });
        stop();
        resolve(last);
      }
    } catch {
      // The next poll tries again.
    } finally {
      checking = false;
    }
  };
  const unsubscribe = store.onChange((changed) => changed === id && void check());
  timers.push(
    setInterval(() => void check(), o.pollMillis),
    setInterval(() => !done && o.progress(last), o.heartbeatMillis),
    setTimeout(() => void check(), Math.max(0, Date.parse(o.approval.expiresAt) - Date.now()) + 1),
  );
  o.progress(last);
  void check();
  return { done: finished, stop };
}

function progressOf(a: Approval, approved: number): WatchProgress {
  const windowEndsAt = a.kind === 'window' && a.state === 'approved' && a.decidedAt ? new Date(Date.parse(a.decidedAt) + (a.windowSeconds ?? 0) * 1000).toISOString() : undefined;
  return {
    id: a.id,
    state: a.state,
    approved,
    quorum: a.quorum,
    expiresAt: a.expiresAt,
    ...(a.state !== 'pending' ? { deciders: a.deciders } : {}),
    ...(a.reason ? { reason: a.reason } : {}),
    ...(windowEndsAt ? { windowEndsAt } : {}),
  };
}
