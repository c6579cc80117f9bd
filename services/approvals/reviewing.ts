import type { Approval, Review } from './approval.js';
import { isPlanned, tally } from './approval.js';
import type { ApprovalStore } from './approval-store.js';

/** Someone deciding: a replay-UI user (token or sign-in). */
export interface Reviewer {
  name: string;
  roles: readonly string[];
}

export interface ReviewAnswer {
  /** HTTP status: 200 counted, 403 refused (recorded, not counted), 404 unknown, 409 no longer pending. */
  status: 200 | 403 | 404 | 409;
  code: string;
  message: string;
  approval?: Approval;
  review?: Review;
}

/** Whether `reviewer` is the run's own actor: by the `approvals.people` table, or the same name. */
export function isSelf(approval: Approval, reviewer: Reviewer, people: Readonly<Record<string, readonly string[]>>): boolean {
  const actor = approval.run.actor;
  if (!actor) return false;
  return reviewer.name === actor || (people[reviewer.name] ?? []).includes(actor);
}

export function mayReview(approval: Approval, reviewer: Reviewer): boolean {
  return approval.approvers.users.includes(reviewer.name) || reviewer.roles.some((r) => approval.approvers.roles.includes(r));
}

/**
 * A verdict from a reviewer. Refusals (self-approval, not eligible) are stored too, so the session's
 * chain records them, but they never count; the gateway holding the statement makes the decision.
 */
export async function submitReview(
  store: ApprovalStore,
  people: Readonly<Record<string, readonly string[]>>,
  id: string,
  reviewer: Reviewer,
  verdict: 'approve' | 'reject',
  reason: string | undefined,
): Promise<ReviewAnswer> {
  const approval = await store.get(id);
  if (!approval) return { status: 404, code: 'TG_APPROVAL_UNKNOWN', message: `no approval ${id}: check the id in the NOTICE or \`trailgate approvals list\`` };
  if (approval.state !== 'pending') return { status: 409, code: 'TG_APPROVAL_DECIDED', message: `approval ${id} is already ${approval.state}; nothing held waits for it`, approval };
  if (isPlanned(approval) && Date.now() >= Date.parse(approval.expiresAt)) {
    // Nobody holds a connection for a planned approval, so nobody's timer expired it: the late review does.
    await store.settle(id, 'expired', [], `approval ${id} expired at ${approval.expiresAt} without a decision`);
    return { status: 409, code: 'TG_APPROVAL_DECIDED', message: `approval ${id} expired at ${approval.expiresAt}; the job must ask again`, approval: { ...approval, state: 'expired' } };
  }
  const at = new Date().toISOString();
  const base = { approvalId: id, reviewer: reviewer.name, verdict, ...(reason ? { reason } : {}), at };
  let review: Review;
  let refusal: { code: string; message: string } | null = null;
  const self = isSelf(approval, reviewer, people);
  if (!mayReview(approval, reviewer)) {
    review = { ...base, counted: false, refusedReason: 'not-eligible' };
    refusal = { code: 'TG_APPROVAL_NOT_ELIGIBLE', message: `${reviewer.name} is not an eligible approver of rule ${approval.rule} (roles ${approval.approvers.roles.join(', ') || 'none'}${approval.approvers.users.length ? `, users ${approval.approvers.users.join(', ')}` : ''})` };
  } else if (self && verdict === 'approve' && !approval.allowSelfApproval) {
    review = { ...base, counted: false, refusedReason: 'self' };
    refusal = { code: 'TG_APPROVAL_SELF', message: `${reviewer.name} is the actor of the run that asked (${approval.run.actor}): another person must approve it` };
  } else if (verdict === 'approve' && tally(await store.reviews(id)).approvers.includes(reviewer.name)) {
    review = { ...base, counted: false, refusedReason: 'duplicate' };
  } else {
    review = { ...base, counted: true, ...(self ? { selfApproval: true } : {}) };
  }
  const stored = await store.review(review);
  if (stored === 'decided') return { status: 409, code: 'TG_APPROVAL_DECIDED', message: `approval ${id} was decided meanwhile`, approval };
  if (stored === 'unknown') return { status: 404, code: 'TG_APPROVAL_UNKNOWN', message: `no approval ${id}` };
  if (refusal) return { status: 403, ...refusal, approval, review };
  if (isPlanned(approval)) await decidePlanned(store, approval);
  const note = review.refusedReason === 'duplicate' ? `${reviewer.name} had already approved; counted once` : `${verdict === 'approve' ? 'approval' : 'rejection'} by ${reviewer.name} recorded`;
  return { status: 200, code: 'TG_APPROVAL_REVIEWED', message: note, approval, review };
}

/** A statement set or window is decided where its reviews arrive: the quorum approves it, a counted rejection rejects it. */
async function decidePlanned(store: ApprovalStore, approval: Approval): Promise<void> {
  const { approvers, rejectedBy } = tally(await store.reviews(approval.id));
  if (rejectedBy) await store.settle(approval.id, 'rejected', [rejectedBy.reviewer], rejectedBy.reason ?? 'no reason given');
  else if (approvers.length >= approval.quorum) await store.settle(approval.id, 'approved', approvers);
}
