import type { Product } from './templates.js';

/** One item of a bulk answer, as both products write it. */
export interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string };
  /** Elasticsearch 9.2+: the document went to the data stream's failure store instead. */
  failure_store?: string;
}

export interface SearchHit {
  _id: string;
  _index: string;
  _source?: Record<string, unknown>;
  sort?: unknown[];
}

export interface SearchResult {
  total: number;
  hits: SearchHit[];
  aggregations?: Record<string, unknown>;
}

/** Whether a lifecycle policy could be installed; a cluster without ILM/ISM still takes documents. */
export type LifecycleInstall = 'installed' | 'unavailable';

/**
 * What the sink core needs from a cluster. Each product has a thin adapter over its own client;
 * everything else (documents, templates, retries, dead letters) is shared.
 */
export interface SearchService {
  readonly product: Product;
  /** Sends an NDJSON bulk body; throws SearchServiceError when the request as a whole fails. */
  bulk(ndjson: string): Promise<BulkItemResult[]>;
  putComponentTemplate(name: string, body: Record<string, unknown>): Promise<void>;
  putIndexTemplate(name: string, body: Record<string, unknown>): Promise<void>;
  putLifecyclePolicy(name: string, lifecycle: { ilm: Record<string, unknown>; ism: Record<string, unknown> }): Promise<LifecycleInstall>;
  /** Creates the data stream if it does not exist yet. */
  ensureDataStream(name: string): Promise<void>;
  search(index: string, body: Record<string, unknown>): Promise<SearchResult>;
  /** The backing indices of a data stream, oldest first: the last one is the write index. */
  backingIndices(dataStream: string): Promise<string[]>;
  /** Which of `ids` any of `indices` holds, read in real time (a multi-get, not a search that waits for a refresh). */
  existingIds(indices: string[], ids: string[]): Promise<Set<string>>;
  /** The mapping properties of the newest backing index of a data stream or index. */
  mapping(index: string): Promise<Record<string, unknown>>;
  refresh(index: string): Promise<void>;
  close(): Promise<void>;
}

/** A request that failed as a whole; `retryable` says whether the same request may succeed later. */
export class SearchServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Statuses worth another try: throttled, unavailable, overloaded, or blocked for a while. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500 || status === 408;
}

/**
 * Turns a client error of either product into a SearchServiceError. Both clients throw a
 * ResponseError with `meta.statusCode` for HTTP errors and Connection/Timeout/NoLivingConnections
 * errors when the cluster cannot be reached.
 */
export function toServiceError(err: unknown, what: string): SearchServiceError {
  const e = err as { name?: string; message?: string; meta?: { statusCode?: number; body?: unknown }; statusCode?: number };
  const status = e.meta?.statusCode ?? e.statusCode;
  if (typeof status === 'number' && status > 0) {
    const reason = reasonOf(e.meta?.body) ?? e.message ?? 'error';
    if (status === 401 || status === 403) return new SearchServiceError('TG_SEARCH_AUTH', `${what}: the cluster refused the credentials (${status}: ${reason}); check search.username/password or search.apiKey`, status, false);
    return new SearchServiceError(isRetryableStatus(status) ? 'TG_SEARCH_UNAVAILABLE' : 'TG_SEARCH_REQUEST', `${what}: ${status} ${reason}`, status, isRetryableStatus(status));
  }
  return new SearchServiceError('TG_SEARCH_UNREACHABLE', `${what}: cluster unreachable (${e.name ?? 'Error'}: ${e.message ?? ''})`, undefined, true);
}

function reasonOf(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return typeof body === 'string' ? body.slice(0, 300) : undefined;
  const err = (body as { error?: unknown }).error;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object') {
    const e = err as { type?: string; reason?: string };
    return [e.type, e.reason].filter(Boolean).join(': ');
  }
  return undefined;
}
