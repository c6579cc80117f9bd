import type { CiContext } from '../../../events/identity.js';
import type { IssuerConfig } from '../../config/schema.js';

export type ClaimProfile = IssuerConfig['profile'];

/** String fields of CiContext and the claim each is read from. */
type ClaimMap = ReadonlyArray<readonly [Exclude<keyof CiContext, 'refProtected'>, string]>;

const GITHUB: ClaimMap = [
  ['repository', 'repository'],
  ['repositoryId', 'repository_id'],
  ['repositoryOwner', 'repository_owner'],
  ['workflow', 'workflow'],
  ['workflowRef', 'workflow_ref'],
  ['jobWorkflowRef', 'job_workflow_ref'],
  ['ref', 'ref'],
  ['refType', 'ref_type'],
  ['sha', 'sha'],
  ['runId', 'run_id'],
  ['runAttempt', 'run_attempt'],
  ['runNumber', 'run_number'],
  ['actor', 'actor'],
  ['environment', 'environment'],
  ['eventName', 'event_name'],
  ['runnerEnvironment', 'runner_environment'],
];

const GITLAB: ClaimMap = [
  ['repository', 'project_path'],
  ['repositoryId', 'project_id'],
  ['repositoryOwner', 'namespace_path'],
  ['workflowRef', 'ci_config_ref_uri'],
  // GitLab's `ref` is the bare branch name; `ref_path` is the full refs/heads/… form GitHub uses.
  ['ref', 'ref_path'],
  ['ref', 'ref'],
  ['refType', 'ref_type'],
  ['sha', 'sha'],
  ['runId', 'pipeline_id'],
  ['jobId', 'job_id'],
  ['actor', 'user_login'],
  ['environment', 'environment'],
  ['eventName', 'pipeline_source'],
  ['pipelineSource', 'pipeline_source'],
  ['runnerEnvironment', 'runner_environment'],
];

const GENERIC: ClaimMap = [['repository', 'repository']];

const PROFILES: Record<ClaimProfile, ClaimMap> = { github: GITHUB, gitlab: GITLAB, generic: GENERIC };

/** Claims are kept only as strings; issuers that send numbers get them stringified, anything else is ignored. */
export function claimString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Reads the CI context from a verified payload; the first mapping that yields a value wins. */
export function ciContextFromClaims(profile: ClaimProfile, payload: Readonly<Record<string, unknown>>): CiContext {
  const ci: CiContext = {};
  for (const [field, claim] of PROFILES[profile]) {
    if (ci[field] !== undefined) continue;
    const value = claimString(payload[claim]);
    if (value !== undefined) ci[field] = value;
  }
  if (profile === 'gitlab') {
    const protectedRef = payload['ref_protected'];
    if (protectedRef === 'true' || protectedRef === 'false') ci.refProtected = protectedRef === 'true';
  }
  return ci;
}

/** Registered JWT claims that say nothing about the job; policy matches on the rest. */
const REGISTERED = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'jti']);

/** The token's scalar claims as strings, for policy conditions on claims no profile names. */
export function scalarClaims(payload: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload)) {
    if (REGISTERED.has(k)) continue;
    if (typeof v === 'boolean') out[k] = String(v);
    else {
      const s = claimString(v);
      if (s !== undefined) out[k] = s;
    }
  }
  return out;
}
