import type { BulkItemResult } from './service.js';
import { isRetryableStatus } from './service.js';

/** What one bulk item's answer means for its record. */
export type ItemVerdict =
  | { kind: 'stored' }
  /** Already there from an earlier delivery: the deterministic id made the second create a 409. */
  | { kind: 'duplicate' }
  | { kind: 'retry'; reason: string }
  | { kind: 'dead'; code: string; message: string };

export function itemVerdict(item: BulkItemResult): ItemVerdict {
  const reason = [item.error?.type, item.error?.reason].filter(Boolean).join(': ') || `status ${item.status}`;
  if (item.status >= 200 && item.status < 300) {
    // Elasticsearch 9.2+ keeps a document its mapping refuses in the failure store and answers 201.
    if (item.failure_store === 'used') return { kind: 'dead', code: 'TG_SEARCH_FAILURE_STORE', message: 'the cluster refused the document and kept it in the data stream failure store (search <data stream>::failures)' };
    return { kind: 'stored' };
  }
  if (item.status === 409) return { kind: 'duplicate' };
  // Throttled, shards unavailable, or the index blocked for now: the same document can succeed later.
  if (isRetryableStatus(item.status) || item.status === 403 || item.status === 404) return { kind: 'retry', reason };
  // 400 and the rest: the cluster will refuse this document every time (a value its mapping cannot take).
  return { kind: 'dead', code: 'TG_SEARCH_DOCUMENT_REJECTED', message: `the cluster refused the document (${item.status} ${reason}); the record stays in the event log` };
}

/** Exponential backoff with full jitter: attempt 1 waits up to initialMs, each next one twice as long, capped. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
