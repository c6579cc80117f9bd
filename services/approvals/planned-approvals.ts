import { scrypt } from 'node:crypto';
import { promisify } from 'node:util';
import type { JobIdentity, ParameterValue } from '../../events/index.js';
import { findSensitive } from '../masking/detectors/index.js';
import type { TrailRedactor } from '../masking/detectors/trail-redactor.js';
import { addHits, type DetectorHits } from '../masking/detectors/trail-redactor.js';
import { newApprovalId, normalisedText, parametersDigest, runOf, sameRun, sha256Hex, type Approval, type PlannedStatement } from './approval.js';
import { recordedSubject } from './approval-desk.js';
import type { ApprovalStore } from './approval-store.js';
import type { ApprovalRule } from './config.js';

const scryptAsync = promisify(scrypt) as (password: string, salt: string, keylen: number, options: object) => Promise<Buffer>;
/** About 50 ms a guess: a masked card number cannot be found again by hashing candidates. */
const SLOW = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

function holdsSecret(trail: TrailRedactor | null, text: string, parameters: readonly ParameterValue[] | undefined): boolean {
  if (!trail) return false;
  if (findSensitive(text, trail.detectors).length > 0) return true;
  return (parameters ?? []).some((p) => p !== null && findSensitive(typeof p === 'string' ? p : Buffer.from(p.base64, 'base64').toString('latin1'), trail.detectors).length > 0);
}

/**
 * The digests that bind a planned statement. Plain SHA-256 of the normalised text (and of the parameters), except
 * for a statement in which the trail's detectors find a secret: its text is stored masked, so its digests are
 * scrypt, salted with the approval id, or the masked value could be recovered by hashing guesses.
 */
async function plannedDigests(text: string, parameters: readonly ParameterValue[] | undefined, trail: TrailRedactor | null, salt: string): Promise<{ textSha256: string; parametersSha256?: string }> {
  const normal = normalisedText(text);
  const params = parametersDigest(parameters);
  if (!holdsSecret(trail, normal, parameters)) return { textSha256: sha256Hex(normal), ...(params ? { parametersSha256: params } : {}) };
  const slow = async (v: string) => `scrypt:${(await scryptAsync(v, salt, 32, SLOW)).toString('hex')}`;
  return { textSha256: await slow(normal), ...(params ? { parametersSha256: await slow(params) } : {}) };
}

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
export async function plannedApproval(p: PlanRequest): Promise<{ approval: Approval; hits: DetectorHits }> {
  const hits: DetectorHits = {};
  const id = newApprovalId();
  const statements: PlannedStatement[] | undefined = p.statements
    ? await Promise.all(
        p.statements.map(async (s) => {
          const digests = await plannedDigests(s.text, s.parameters, p.trail, id);
          const kept = recordedSubject(p.trail, s.text, digests.parametersSha256 ? s.parameters : undefined);
          if (kept.hits) addHits(hits, kept.hits);
          return { text: kept.text, ...digests, ...(digests.parametersSha256 ? { parameters: kept.parameters! } : {}) };
        }),
      )
    : undefined;
  const text = statements ? statements.map((s) => s.text).join('\n') : `everything rule ${p.rule.name} holds on ${p.target}, for ${p.windowSeconds} s from the decision`;
  const approval: Approval = {
    id,
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
  q: { rule: ApprovalRule; target: string; identity: JobIdentity; text: string; parameters?: readonly ParameterValue[]; trail: TrailRedactor | null },
  now: number,
): Promise<Approval | null> {
  const run = runOf(q.identity);
  if (!run.runId) return null;
  const found = await grantIn(await store.granted(q.target, run.runId), q, run, now);
  if (found || !store.catchUp) return found;
  // Another process may have decided it a moment ago (Kafka): the statement would be held, so look once more, caught up.
  await store.catchUp().catch(() => undefined);
  return grantIn(await store.granted(q.target, run.runId), q, run, now);
}

async function grantIn(
  approved: Approval[],
  q: { rule: ApprovalRule; text: string; parameters?: readonly ParameterValue[]; trail: TrailRedactor | null },
  run: ReturnType<typeof runOf>,
  now: number,
): Promise<Approval | null> {
  const candidates = approved.filter((a) => a.rule === q.rule.name && sameRun(a.run, run));
  for (const a of candidates) {
    if (a.kind === 'window') {
      const from = Date.parse(a.decidedAt ?? '');
      if (Number.isFinite(from) && now < from + (a.windowSeconds ?? 0) * 1000) return a;
      continue;
    }
    // Salted per approval when the statement holds a secret; plain digests are the same for every candidate.
    const d = await plannedDigests(q.text, q.parameters, q.trail, a.id);
    if (a.statements?.some((s) => s.textSha256 === d.textSha256 && s.parametersSha256 === d.parametersSha256)) return a;
  }
  return null;
}
