import type { HecAnswer } from './service.js';

/**
 * What an answer means, by the class of its HEC code (Splunk's "Possible error codes" table):
 * ok, retry later, one event in the batch is bad, the body is too large, or the configuration is
 * wrong and no retry can help.
 */
export type HecVerdict =
  | { kind: 'ok' }
  | { kind: 'retry'; reason: string }
  | { kind: 'poison'; reason: string }
  | { kind: 'too-large'; reason: string }
  | { kind: 'ack-disabled'; reason: string }
  | { kind: 'fatal'; code: string; reason: string };

/** Configuration errors: what the operator must change, per HEC code. */
const FATAL: Record<number, { code: string; fix: string }> = {
  1: { code: 'TG_SPLUNK_TOKEN_DISABLED', fix: 'the HEC token is disabled in Splunk: enable it (Settings > Data inputs > HTTP Event Collector)' },
  2: { code: 'TG_SPLUNK_TOKEN_REQUIRED', fix: 'Splunk saw no token: set splunk.token' },
  3: { code: 'TG_SPLUNK_AUTHORIZATION', fix: 'Splunk could not read the Authorization header: check that splunk.token holds only the token' },
  4: { code: 'TG_SPLUNK_TOKEN_INVALID', fix: 'Splunk does not know this HEC token: check splunk.token' },
  7: { code: 'TG_SPLUNK_INDEX', fix: 'the index is not allowed for this token: add it to the token\'s allowed indexes or change splunk.index' },
  10: { code: 'TG_SPLUNK_CHANNEL', fix: 'Splunk wants a channel and saw none: a proxy may strip X-Splunk-Request-Channel' },
  11: { code: 'TG_SPLUNK_CHANNEL', fix: 'Splunk refused the channel id: a proxy may rewrite X-Splunk-Request-Channel' },
  16: { code: 'TG_SPLUNK_AUTHORIZATION', fix: 'Splunk expected query-string authorization: use the Authorization header (the default)' },
  21: { code: 'TG_SPLUNK_TOKEN_INVALID', fix: 'Splunk does not know this HEC token: check splunk.token' },
  22: { code: 'TG_SPLUNK_TOKEN_DISABLED', fix: 'the HEC token is disabled in Splunk: enable it' },
};

const POISON = new Set([5, 6, 12, 13, 15]);

function describe(a: HecAnswer): string {
  return `HTTP ${a.status}${a.code !== undefined ? ` code ${a.code}` : ''}${a.text ? ` "${a.text}"` : ''}${a.invalidEventNumber !== undefined ? ` invalid-event-number ${a.invalidEventNumber}` : ''}`;
}

export function hecVerdict(a: HecAnswer): HecVerdict {
  const reason = describe(a);
  if (a.status >= 200 && a.status < 300 && (a.code === undefined || a.code === 0 || a.code === 17)) return { kind: 'ok' };
  if (a.status === 413) return { kind: 'too-large', reason };
  if (a.code === 14) return { kind: 'ack-disabled', reason };
  const fatal = a.code !== undefined ? FATAL[a.code] : undefined;
  if (fatal) return { kind: 'fatal', code: fatal.code, reason: `${reason}: ${fatal.fix}` };
  if (a.status === 429 || a.status === 408 || (a.status >= 500 && a.status !== 501)) return { kind: 'retry', reason };
  if (a.code !== undefined && POISON.has(a.code)) return { kind: 'poison', reason };
  if (a.status === 401 || a.status === 403) return { kind: 'fatal', code: 'TG_SPLUNK_TOKEN_INVALID', reason: `${reason}: Splunk refused the token; check splunk.token` };
  if (a.status === 404 || a.status === 501) return { kind: 'fatal', code: 'TG_SPLUNK_ENDPOINT', reason: `${reason}: no HEC endpoint at splunk.url; it should be the collector's base URL, e.g. https://splunk:8088` };
  if (a.status === 400) return { kind: 'poison', reason };
  return { kind: 'fatal', code: 'TG_SPLUNK_UNEXPECTED', reason: `${reason}: an answer HEC does not give; check splunk.url` };
}

/** Exponential backoff with full jitter; a Retry-After from Splunk takes precedence. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, retryAfterMs?: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
