/** What an operator sets for the search sink; both products take the same keys. */
export interface SearchSinkOptions {
  /** Data stream namespace: `logs-trailgate.audit-<namespace>`. No `-`, at most 100 characters. */
  namespace: string;
  /** Documents per bulk request, at most. */
  maxBulkDocs: number;
  /** Bytes per bulk request (NDJSON body): what sizes requests, since documents differ a lot in size. */
  maxBulkBytes: number;
  /** Bulk requests of one batch in flight at once: the cluster indexes one while the next is on its way. */
  maxInFlightRequests: number;
  /** Longest command text kept in a document, in UTF-16 units; the log keeps all of it. */
  maxCommandTextChars: number;
  /** Attempts for a request or item the cluster throttles (429) or cannot serve (5xx, down) before `write` rejects. */
  maxAttempts: number;
  /** First backoff delay; doubles per attempt up to maxBackoffMs, with jitter. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Lifecycle: roll the hot index over at this age or primary shard size, delete after deleteAfter. */
  lifecycle: { rolloverMaxAge: string; rolloverMaxPrimaryShardSize: string; deleteAfter: string };
  /** Replicas per backing index; unset keeps the cluster's default. */
  replicas?: number;
}

export const DEFAULT_SEARCH_SINK_OPTIONS: SearchSinkOptions = {
  namespace: 'default',
  maxBulkDocs: 10_000,
  maxBulkBytes: 2 * 1024 * 1024,
  maxInFlightRequests: 3,
  maxCommandTextChars: 256 * 1024,
  maxAttempts: 8,
  initialBackoffMs: 100,
  maxBackoffMs: 5000,
  lifecycle: { rolloverMaxAge: '7d', rolloverMaxPrimaryShardSize: '50gb', deleteAfter: '400d' },
};

/** The dataset every Trailgate event document belongs to. */
export const AUDIT_DATASET = 'trailgate.audit';

/** Names of everything the sink installs; one place, so that dashboards and tests agree. */
export const SEARCH_RESOURCES = {
  mappingsComponent: 'trailgate-audit-mappings',
  settingsComponent: 'trailgate-audit-settings',
  indexTemplate: 'trailgate-audit',
  lifecyclePolicy: 'trailgate-audit',
  indexPattern: `logs-${AUDIT_DATASET}-*`,
} as const;

export function dataStreamName(namespace: string): string {
  return `logs-${AUDIT_DATASET}-${namespace}`;
}

export function validateNamespace(namespace: string): void {
  if (!/^[a-z0-9_.]{1,100}$/.test(namespace)) {
    throw Object.assign(new Error(`search namespace '${namespace}' is not usable in a data stream name: use 1-100 lowercase letters, digits, '_' or '.' (no '-')`), { code: 'TG_SEARCH_NAMESPACE' });
  }
}

/** How to reach the cluster; secrets are already resolved here. */
export interface SearchConnection {
  product: 'elasticsearch' | 'opensearch';
  url: string | string[];
  username?: string;
  password?: string;
  /** Elasticsearch API key (the encoded form); sent as `Authorization: ApiKey ...` to either product. */
  apiKey?: string;
  /** PEM bundle to trust for https URLs. */
  ca?: string;
  requestTimeoutMs?: number;
}
