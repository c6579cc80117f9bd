import type { JobIdentity } from '../../../events/index.js';

const MAX_BYTES = 63;

/**
 * The compact tag the target sees in pg_stat_activity and its logs: `tg:<repo>:<run>:<attempt>`.
 * PostgreSQL keeps 63 bytes of printable ASCII; the full identity is in the audit record.
 */
export function applicationNameFor(identity: JobIdentity): string {
  const ci = identity.ci;
  const who = ci.repository ?? identity.subject;
  const run = ci.runId ?? ci.jobId ?? '-';
  const attempt = ci.runAttempt ?? '1';
  const tail = `:${ascii(run)}:${ascii(attempt)}`;
  const head = `tg:${ascii(who)}`;
  // Keep the run id whole and shorten the repository if something must give.
  return head.slice(0, Math.max(3, MAX_BYTES - tail.length)) + tail.slice(0, MAX_BYTES - 3);
}

function ascii(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').replace(/:/g, '_');
}
