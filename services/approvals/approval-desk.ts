import type { EventDataByType, JobIdentity, ParameterValue } from '../../events/index.js';
import { compileGlob, type GlobMatcher } from '../gateway/policy/glob.js';
import { newApprovalId, normalisedText, parametersDigest, runOf, sha256Hex, tally, type Approval } from './approval.js';
import type { ApprovalStore } from './approval-store.js';
import type { ApprovalRule, ApprovalsConfig } from './config.js';
import { DEFAULT_TRAIL, type DetectorHits, type TrailRedactor } from '../masking/detectors/trail-redactor.js';

/** What a hold records in the session's chain. */
export type ApprovalEventType = 'approval.requested' | 'approval.reviewed' | 'approval.decided';
export type ApprovalRecorder = <T extends ApprovalEventType>(type: T, data: EventDataByType[T]) => void;

export interface HoldRequest {
  rule: ApprovalRule;
  target: string;
  kind: 'statement' | 'command';
  text: string;
  parameters?: ParameterValue[];
  identity: JobIdentity;
  sessionId: string;
  record: ApprovalRecorder;
  /** A line for the waiting client (a NOTICE, a line on stderr): at once, and every heartbeat. */
  notice: (message: string) => void;
  /** The target's trail scan for the recorded and stored text (default: the default detectors; null: as sent). */
  trail?: TrailRedactor | null;
}

/** Text and parameters as the trail keeps them: the same detectors as command.started. */
export function recordedSubject(trail: TrailRedactor | null, text: string, parameters: readonly ParameterValue[] | undefined): { text: string; parameters?: ParameterValue[]; hits?: DetectorHits } {
  if (!trail) return { text, ...(parameters ? { parameters: [...parameters] } : {}) };
  const hits: DetectorHits = {};
  const out = { text: trail.text(text, hits), ...(parameters ? { parameters: trail.parameters(parameters, hits) } : {}) };
  return Object.keys(hits).length ? { ...out, hits } : out;
}

export type HoldOutcome =
  | { state: 'approved'; approvalId: string; deciders: string[] }
  | { state: 'rejected' | 'expired' | 'withdrawn' | 'abandoned'; approvalId: string; deciders: string[]; reason: string };

/** One held statement or command; it ends exactly once. */
export interface Hold {
  id: string;
  outcome: Promise<HoldOutcome>;
  /** The client cancelled (CancelRequest): answered as withdrawn. */
  withdraw(): void;
  /** The client went away or the gateway stops: recorded as abandoned at once. */
  abandon(reason?: string): void;
}

/** Notifications of requests and decisions (the webhook). */
export type ApprovalNotifier = (event: 'requested' | 'decided', approval: Approval) => void;

/** The rules of one target, compiled; null from `forTarget` when no rule names it (the session pays nothing). */
export class TargetApprovals {
  constructor(
    private readonly rules: readonly ApprovalRule[],
    readonly desk: ApprovalDesk,
    private readonly commandMatchers = rules.map((r) => r.commands.map((c) => compileGlob(c))),
  ) {}

  /** The first rule that holds a statement needing these classes. */
  statementRule(needs: readonly string[]): ApprovalRule | null {
    for (const r of this.rules) {
      if (r.classes.includes('all') || r.classes.some((c) => needs.includes(c))) return r;
    }
    return null;
  }

  commandRule(command: string): ApprovalRule | null {
    for (let i = 0; i < this.rules.length; i++) if (this.commandMatchers[i]!.some((m) => m(command))) return this.rules[i]!;
    return null;
  }
}

interface Held {
  approval: Approval;
  request: HoldRequest;
  seen: number;
  checking: boolean;
  timers: NodeJS.Timeout[];
  finish: (state: HoldOutcome['state'], deciders: string[], reason?: string) => void;
}

/**
 * The gateway's side of approvals: opens an approval for a held statement, tells the client at once and
 * every heartbeat, reads reviews from the store while anything is held, and decides by the rule's quorum.
 */
export class ApprovalDesk {
  private readonly held = new Map<string, Held>();
  private poller: NodeJS.Timeout | null = null;
  private readonly unsubscribe: () => void;
  private readonly targetMatchers: { rule: ApprovalRule; targets: GlobMatcher[] }[];

  constructor(
    readonly store: ApprovalStore,
    private readonly config: ApprovalsConfig,
    private readonly instance: string,
    private readonly notify: ApprovalNotifier = () => undefined,
    /** The gateway's clock for approved windows (tests move it). */
    readonly now: () => number = Date.now,
  ) {
    this.targetMatchers = config.rules.map((rule) => ({ rule, targets: rule.targets.map((t) => compileGlob(t)) }));
    this.unsubscribe = store.onChange((id) => {
      const h = this.held.get(id);
      if (h) void this.check(h);
    });
  }

  /** Marks what this instance held before a restart abandoned: nothing held runs after it. */
  recoverAfterRestart(): Promise<string[]> {
    return this.store.abandonInstance(this.instance);
  }

  forTarget(target: string): TargetApprovals | null {
    const rules = this.targetMatchers.filter((m) => m.targets.some((t) => t(target))).map((m) => m.rule);
    return rules.length ? new TargetApprovals(rules, this) : null;
  }

  get heldCount(): number {
    return this.held.size;
  }

  hold(req: HoldRequest): Hold {
    const { rule } = req;
    const id = newApprovalId();
    const now = Date.now();
    // The text and parameters kept are the trail's (a secret is never stored in clear), and so are the digests when
    // it masked something: a digest of the raw text would let a masked card number be found by hashing guesses.
    // What runs is the held bytes themselves, so nothing is matched against these digests.
    const sent = parametersDigest(req.parameters);
    const kept = recordedSubject(req.trail === undefined ? DEFAULT_TRAIL : req.trail, req.text, sent ? req.parameters : undefined);
    const parametersSha256 = kept.hits ? parametersDigest(kept.parameters) : sent;
    const approval: Approval = {
      id,
      rule: rule.name,
      target: req.target,
      kind: req.kind,
      text: kept.text,
      textSha256: sha256Hex(normalisedText(kept.hits ? kept.text : req.text)),
      ...(parametersSha256 ? { parametersSha256, parameters: kept.parameters! } : {}),
      run: runOf(req.identity),
      identity: req.identity,
      quorum: rule.quorum,
      approvers: { roles: [...rule.approvers.roles], users: [...rule.approvers.users] },
      allowSelfApproval: rule.allowSelfApproval,
      sessionId: req.sessionId,
      instance: this.instance,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + rule.timeoutSeconds * 1000).toISOString(),
      state: 'pending',
      deciders: [],
    };
    const link = this.config.link ? `${this.config.link.replace(/\/$/, '')}/approvals/${id}` : undefined;
    let resolve!: (o: HoldOutcome) => void;
    const outcome = new Promise<HoldOutcome>((r) => (resolve = r));
    let done = false;
    const h: Held = {
      approval,
      request: req,
      seen: 0,
      checking: false,
      timers: [],
      finish: (state, deciders, reason) => {
        if (done) return;
        done = true;
        for (const t of h.timers) clearTimeout(t);
        this.held.delete(id);
        if (this.held.size === 0) this.stopPolling();
        req.record('approval.decided', { approvalId: id, state, deciders, ...(reason ? { reason } : {}) });
        const settled: Approval = { ...approval, state, deciders, decidedAt: new Date().toISOString(), ...(reason ? { reason } : {}) };
        void this.store.settle(id, state, deciders, reason).catch(() => undefined);
        this.notify('decided', settled);
        resolve(state === 'approved' ? { state, approvalId: id, deciders } : { state, approvalId: id, deciders, reason: reason ?? state });
      },
    };
    req.record('approval.requested', {
      approvalId: id,
      rule: rule.name,
      target: req.target,
      kind: req.kind,
      text: approval.text,
      textSha256: approval.textSha256,
      ...(parametersSha256 ? { parametersSha256, parameters: approval.parameters! } : {}),
      ...(kept.hits ? { detectorHits: kept.hits } : {}),
      run: approval.run,
      quorum: rule.quorum,
      expiresAt: approval.expiresAt,
      ...(link ? { link } : {}),
    });
    this.held.set(id, h);
    req.notice(`trailgate: approval ${id} required by rule ${rule.name} (${rule.quorum} approver${rule.quorum === 1 ? '' : 's'}); waiting up to ${rule.timeoutSeconds} s${link ? `: ${link}` : ''}`);
    h.timers.push(
      setTimeout(() => h.finish('expired', [], `approval ${id} expired after ${rule.timeoutSeconds} s without a decision`), rule.timeoutSeconds * 1000),
      setInterval(() => {
        void this.store.reviews(id).then(
          (reviews) => !done && req.notice(`trailgate: still waiting for approval ${id} (${tally(reviews).approvers.length} of ${rule.quorum} approved)${link ? `: ${link}` : ''}`),
          () => undefined,
        );
      }, rule.heartbeatSeconds * 1000),
    );
    this.store.open(approval).then(
      () => {
        this.notify('requested', approval);
        this.startPolling();
      },
      (err: Error) => h.finish('abandoned', [], `the approval could not be stored: ${err.message} [TG_APPROVAL_STORE]`),
    );
    return {
      id,
      outcome,
      withdraw: () => h.finish('withdrawn', [], 'the client cancelled the statement while it waited for approval'),
      abandon: (reason) => h.finish('abandoned', [], reason ?? 'the client disconnected while the statement waited for approval'),
    };
  }

  /** A statement set or window the job asked for: stored, recorded in the asking session, announced like a hold. */
  async openPlanned(approval: Approval, record: ApprovalRecorder, hits: DetectorHits): Promise<string | undefined> {
    const link = this.config.link ? `${this.config.link.replace(/\/$/, '')}/approvals/${approval.id}` : undefined;
    await this.store.open(approval);
    record('approval.requested', {
      approvalId: approval.id,
      rule: approval.rule,
      target: approval.target,
      kind: approval.kind,
      text: approval.text,
      textSha256: approval.textSha256,
      ...(approval.statements ? { statements: approval.statements } : {}),
      ...(approval.windowSeconds ? { windowSeconds: approval.windowSeconds } : {}),
      ...(Object.keys(hits).length ? { detectorHits: hits } : {}),
      run: approval.run,
      quorum: approval.quorum,
      expiresAt: approval.expiresAt,
      ...(link ? { link } : {}),
    });
    this.notify('requested', approval);
    return link;
  }

  get pollMillis(): number {
    return this.config.pollMillis;
  }

  /** The rules that name a target, in order (for a job asking ahead). */
  rulesOf(target: string): ApprovalRule[] {
    return this.targetMatchers.filter((m) => m.targets.some((t) => t(target))).map((m) => m.rule);
  }

  private startPolling(): void {
    if (this.poller || this.held.size === 0) return;
    this.poller = setInterval(() => {
      for (const h of this.held.values()) void this.check(h);
    }, this.config.pollMillis);
  }

  private stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
  }

  /** Records reviews not yet seen and decides once the quorum (or a rejection) is in. */
  private async check(h: Held): Promise<void> {
    if (h.checking) return;
    h.checking = true;
    try {
      const reviews = await this.store.reviews(h.approval.id);
      if (!this.held.has(h.approval.id)) return;
      for (; h.seen < reviews.length; h.seen++) h.request.record('approval.reviewed', reviews[h.seen]!);
      const { approvers, rejectedBy } = tally(reviews);
      if (rejectedBy) h.finish('rejected', [rejectedBy.reviewer], rejectedBy.reason ?? 'no reason given');
      else if (approvers.length >= h.approval.quorum) h.finish('approved', approvers);
    } catch {
      // The next poll tries again; expiry still ends the hold.
    } finally {
      h.checking = false;
    }
  }

  /** Abandons everything still held (the gateway stops). */
  async close(): Promise<void> {
    for (const h of [...this.held.values()]) h.finish('abandoned', [], 'the gateway stopped while the statement was held');
    this.stopPolling();
    this.unsubscribe();
  }
}
