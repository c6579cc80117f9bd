import type { UploadFailure } from './service.js';

/** What a failed upload means for its rows. */
export type FailureVerdict =
  /** Throttled, unavailable, or no answer: the same rows may go through later. */
  | { kind: 'retry'; reason: string }
  /** Refused for its content (400) or size (413): halve until the one row that is refused is found. */
  | { kind: 'split'; code: string; reason: string }
  /** A configuration error no retry mends: stop the sink and say why. */
  | { kind: 'stop'; code: string; reason: string };

export function failureVerdict(f: UploadFailure): FailureVerdict {
  const what = `${f.status ?? 'no answer'}${f.code ? ` ${f.code}` : ''}: ${f.message}`;
  if (f.code === 'CredentialRejected') return { kind: 'stop', code: 'TG_SENTINEL_CREDENTIAL', reason: `${f.message}; check sentinel.credential (tenant, client id, secret or token file) and sentinel.authorityHost` };
  if (f.status === undefined || f.status === 408 || f.status === 429 || (f.status >= 500 && f.status !== 501)) return { kind: 'retry', reason: what };
  if (f.status === 401) return { kind: 'stop', code: 'TG_SENTINEL_UNAUTHORIZED', reason: `the ingestion endpoint refused the token (${what}); check sentinel.credential and sentinel.audience` };
  if (f.status === 403) return { kind: 'stop', code: 'TG_SENTINEL_FORBIDDEN', reason: `the identity may not ingest into this DCR (${what}); grant it Monitoring Metrics Publisher on the data collection rule (it can take 30 minutes to apply)` };
  if (f.status === 404 || (f.status === 400 && f.code === 'InvalidStream')) return { kind: 'stop', code: 'TG_SENTINEL_RULE_NOT_FOUND', reason: `the endpoint knows no such DCR or stream (${what}); check sentinel.endpoint, sentinel.ruleId (the immutable id) and sentinel.stream against dashboards/sentinel/dcr.json` };
  if (f.status === 413) return { kind: 'split', code: 'TG_SENTINEL_ROW_TOO_LARGE', reason: what };
  return { kind: 'split', code: 'TG_SENTINEL_ROW_REJECTED', reason: what };
}

/** Exponential backoff with full jitter, never shorter than what the service asked for in Retry-After. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, retryAfterMs = 0, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(retryAfterMs, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}
