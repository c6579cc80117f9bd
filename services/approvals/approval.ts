import { createHash, randomBytes } from 'node:crypto';
import { jcs } from '../../events/canonical-json.js';
import type { ApprovalDecidedData, ApprovalReviewedData, ApprovalRun, JobIdentity, ParameterValue } from '../../events/index.js';

export type ApprovalState = 'pending' | ApprovalDecidedData['state'];

/** One held statement or command, as every gateway and reviewer sees it. */
export interface Approval {
  id: string;
  rule: string;
  target: string;
  kind: 'statement' | 'command';
  text: string;
  textSha256: string;
  parametersSha256?: string;
  parameters?: ParameterValue[];
  run: ApprovalRun;
  /** The verified claims of the job that asked. */
  identity: JobIdentity;
  quorum: number;
  approvers: { roles: string[]; users: string[] };
  allowSelfApproval: boolean;
  sessionId: string;
  instance: string;
  createdAt: string;
  expiresAt: string;
  state: ApprovalState;
  deciders: string[];
  decidedAt?: string;
  reason?: string;
}

export type Review = ApprovalReviewedData;

/** `apr_` and 20 random characters: unguessable, so a link alone decides nothing without a sign-in. */
export function newApprovalId(): string {
  return `apr_${randomBytes(15).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** Surrounding whitespace and a final semicolon do not change a statement; anything inside might (a literal's spaces). */
export function normalisedText(text: string): string {
  return text.trim().replace(/;\s*$/, '').trimEnd();
}

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

export function parametersDigest(parameters: readonly ParameterValue[] | undefined): string | undefined {
  return parameters && parameters.length ? sha256Hex(jcs(parameters) ?? '') : undefined;
}

/** The run an approval is bound to, from the job's verified claims. */
export function runOf(identity: JobIdentity): ApprovalRun {
  const ci = identity.ci;
  const run: ApprovalRun = {};
  if (ci.repository) run.repository = ci.repository;
  if (ci.workflow) run.workflow = ci.workflow;
  if (ci.ref) run.ref = ci.ref;
  if (ci.runId) run.runId = ci.runId;
  if (ci.runAttempt) run.runAttempt = ci.runAttempt;
  if (ci.actor) run.actor = ci.actor;
  if (ci.environment) run.environment = ci.environment;
  return run;
}

/** Counted approvals by distinct people, and the first counted rejection. */
export function tally(reviews: readonly Review[]): { approvers: string[]; rejectedBy: Review | undefined } {
  const approvers: string[] = [];
  let rejectedBy: Review | undefined;
  for (const r of reviews) {
    if (!r.counted) continue;
    if (r.verdict === 'reject') rejectedBy ??= r;
    else if (!approvers.includes(r.reviewer)) approvers.push(r.reviewer);
  }
  return { approvers, rejectedBy };
}
