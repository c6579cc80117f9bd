import type { JobIdentity } from '../../../events/index.js';

/**
 * sqlcommenter (OpenTelemetry): `<sql> /*k1='v1',k2='v2'*\/`, keys sorted, keys and values
 * URL-encoded with `'` escaped. A statement that already has a comment is left alone, so that
 * nothing a client or an ORM put there is disturbed.
 */
export function sqlcommenterComment(identity: JobIdentity, sessionId: string): string {
  const ci = identity.ci;
  const tags: Record<string, string | undefined> = {
    application: 'trailgate',
    tg_actor: ci.actor,
    tg_ref: ci.ref,
    tg_repository: ci.repository ?? identity.subject,
    tg_run_attempt: ci.runAttempt,
    tg_run_id: ci.runId,
    tg_session: sessionId,
    tg_sha: ci.sha,
    tg_workflow: ci.workflow,
  };
  const pairs = Object.entries(tags)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${encode(k)}='${encode(v)}'`);
  return pairs.length ? `/*${pairs.join(',')}*/` : '';
}

/** Appends the comment, before a final semicolon, unless the statement has a comment already. */
export function withComment(sql: string, comment: string): string {
  if (!comment || sql.includes('--') || sql.includes('/*') || sql.trim() === '') return sql;
  const trimmed = sql.trimEnd();
  return trimmed.endsWith(';') ? `${trimmed.slice(0, -1)} ${comment};` : `${trimmed} ${comment}`;
}

function encode(s: string): string {
  // encodeURIComponent leaves * alone, and `*/` in a value would close the comment early.
  return encodeURIComponent(s).replace(/\*/g, '%2A').replace(/'/g, "\\'");
}
