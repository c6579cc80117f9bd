import type { JobIdentity, ParameterValue } from '../../events/index.js';
import type { TrailRedactor } from '../masking/detectors/trail-redactor.js';
import { addHits, type DetectorHits } from '../masking/detectors/trail-redactor.js';
import { newApprovalId, normalisedText, parametersDigest, runOf, sameRun, sha256Hex, type Approval, type PlannedStatement } from './approval.js';
import { recordedSubject } from './approval-desk.js';
import type { ApprovalStore } from './approval-store.js';
import type { ApprovalRule } from './config.js';

/** What the job asks for ahead of its apply session: a statement set, or a window of the rule's rights. */
export interface PlanRequest {
  rule: ApprovalRule;
  target: string;
  identity: JobIdentity;
  sessionId: string;
  instance: string;
  statements?: { text: string; parameters?: ParameterValue[] }[];
  windowSeconds?: number;
  trail: TrailRedactor | null;
  now: number;
}

/** A pending statement-set or window approval bound to the run; digests of what will be sent, text as the trail keeps it. */
export function plannedApproval(p: PlanRequest): { approval: Approval; hits: DetectorHits } {
  const hits: DetectorHits = {};
  const statements: PlannedStatement[] | undefined = p.statements?.map((s) => {
    const parametersSha256 = parametersDigest(s.parameters);
    const kept = recordedSubject(p.trail, s.text, parametersSha256 ? s.parameters : undefined);
    if (kept.hits) addHits(hits, kept.hits);
    return { text: kept.text, textSha256: sha256Hex(normalisedText(s.text)), ...(parametersSha256 ? { parametersSha256, parameters: kept.parameters! } : {}) };
  });
  const text = statements ? statements.map((s) => s.text).join('\n') : `every statement rule ${p.rule.name} holds, for ${p.windowSeconds} s from the decision`;
  const approval: Approval = {
    id: newApprovalId(),
    rule: p.rule.name,
    target: p.target,
    kind: statements ? 'statement-set' : 'window',
    text,
    // The set's digest: its statements' digests in order.
    textSha256: sha256Hex(statements ? statements.map((s) => `${s.textSha256}:${s.parametersSha256 ?? ''}`).join('\n') : text),
    ...(statements ? { statements } : { windowSeconds: p.windowSeconds! }),
    run: runOf(p.identity),
    identity: p.identity,
    quorum: p.rule.quorum,
    approvers: { roles: [...p.rule.approvers.roles], users: [...p.rule.approvers.users] },
    allowSelfApproval: p.rule.allowSelfApproval,
    sessionId: p.sessionId,
    instance: p.instance,
    createdAt: new Date(p.now).toISOString(),
    expiresAt: new Date(p.now + p.rule.timeoutSeconds * 1000).toISOString(),
    state: 'pending',
    deciders: [],
  };
  return { approval, hits };
}

/**
 * The approved statement set or open window that lets this statement of this run through without a hold, or null.
 * Only asked for statements a rule would hold, so sessions that need no approval never read the store.
 */
export async function findGrant(
  store: ApprovalStore,
  q: { rule: ApprovalRule; target: string; identity: JobIdentity; text: string; parameters?: readonly ParameterValue[] },
  now: number,
): Promise<Approval | null> {
  const run = runOf(q.identity);
  if (!run.runId) return null;
  const candidates = (await store.granted(q.target, run.runId)).filter((a) => a.rule === q.rule.name && sameRun(a.run, run));
  if (candidates.length === 0) return null;
  let digest: string | undefined;
  const params = parametersDigest(q.parameters);
  for (const a of candidates) {
    if (a.kind === 'window') {
      const from = Date.parse(a.decidedAt ?? '');
      if (Number.isFinite(from) && now < from + (a.windowSeconds ?? 0) * 1000) return a;
      continue;
    }
    digest ??= sha256Hex(normalisedText(q.text));
    if (a.statements?.some((s) => s.textSha256 === digest && s.parametersSha256 === params)) return a;
  }
  return null;
}
