import type { JobIdentity } from '../../../events/index.js';

/** Claim values come from the issuer, but they end up in a shell's environment: printable and short. */
function clean(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, 256);
}

/**
 * The run's tags as environment variables for commands on SSH targets (OpenSSH passes them when its
 * AcceptEnv lists TRAILGATE_*), so the target's own logs and scripts can name the run.
 */
export function runTags(identity: JobIdentity, sessionId: string, tag: string): Record<string, string> {
  const ci = identity.ci;
  const tags: Record<string, string | undefined> = {
    TRAILGATE_SESSION: sessionId,
    TRAILGATE_TAG: tag,
    TRAILGATE_REPOSITORY: ci.repository,
    TRAILGATE_WORKFLOW: ci.workflow,
    TRAILGATE_REF: ci.ref,
    TRAILGATE_SHA: ci.sha,
    TRAILGATE_RUN_ID: ci.runId,
    TRAILGATE_RUN_ATTEMPT: ci.runAttempt,
    TRAILGATE_ACTOR: ci.actor,
    TRAILGATE_ENVIRONMENT: ci.environment,
  };
  return Object.fromEntries(Object.entries(tags).flatMap(([k, v]) => (v === undefined ? [] : [[k, clean(v)]])));
}
