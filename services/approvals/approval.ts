import { createHash, randomBytes } from 'node:crypto';
import { jcs } from '../../events/canonical-json.js';
import type { ApprovalDecidedData, ApprovalRequestedData, ApprovalReviewedData, ApprovalRun, JobIdentity, ParameterValue } from '../../events/index.js';
import { normalisedStatement } from './statement-text.js';

export type ApprovalState = 'pending' | ApprovalDecidedData['state'];

/** One held statement or command, as every gateway and reviewer sees it. */
export interface Approval {
  id: string;
  rule: string;
  target: string;
  /** One held statement or command; or, asked for ahead by the job (plan and apply), a statement set or a time window. */
  kind: ApprovalKind;
  /** As recorded: detector hits replaced by markers (`[masked:card]`); the digests are of what was sent. */
  text: string;
  textSha256: string;
  parametersSha256?: string;
  parameters?: ParameterValue[];
  /** statement-set: each statement's digests (and recorded text); a statement of the run matching one runs unheld. */
  statements?: PlannedStatement[];
  /** window: seconds from the decision during which the rule holds nothing of the run. */
  windowSeconds?: number;
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
export type ApprovalKind = 'statement' | 'command' | 'statement-set' | 'window';
export type PlannedStatement = NonNullable<ApprovalRequestedData['statements']>[number];

/** Approvals nobody holds a connection for: the reviewers' side decides them at the quorum. */
export function isPlanned(a: Pick<Approval, 'kind'>): boolean {
  return a.kind === 'statement-set' || a.kind === 'window';
}

/** `apr_` and 20 random characters: unguessable, so a link alone decides nothing without a sign-in. */
export function newApprovalId(): string {
  return `apr_${randomBytes(15).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** The text an approval binds: comments and runs of whitespace outside literals and quoted names do not count, all else does. */
export function normalisedText(text: string): string {
  return normalisedStatement(text);
}

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

export function parametersDigest(parameters: readonly ParameterValue[] | undefined): string | undefined {
  return parameters && parameters.length ? sha256Hex(jcs(parameters) ?? '') : undefined;
}

/** Whether two runs are the same run attempt: repository, workflow, ref, run id and attempt all equal (and present). */
export function sameRun(a: ApprovalRun, b: ApprovalRun): boolean {
  if (!a.runId || !a.repository) return false;
  return a.repository === b.repository && a.workflow === b.workflow && a.ref === b.ref && a.runId === b.runId && (a.runAttempt ?? '1') === (b.runAttempt ?? '1');
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
