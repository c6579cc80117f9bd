import { Client } from '@elastic/elasticsearch';
import type { SearchConnection } from './config.js';
import { BULK_ANSWER_FILTER, bulkItems, RestSearchService } from './rest.js';
import { toServiceError, type SearchService } from './service.js';

/**
 * Elasticsearch through @elastic/elasticsearch 9.4 (the last line for Node 20). That client checks
 * that the server is Elasticsearch, so it cannot be pointed at OpenSearch: use openSearchService.
 */
export function elasticsearchService(c: SearchConnection): SearchService {
  const client = new Client({
    node: c.url,
    // Retries are the sink's (bounded backoff on 429 and 5xx); the client gives up at once.
    maxRetries: 0,
    requestTimeout: c.requestTimeoutMs ?? 30_000,
    ...(c.apiKey ? { auth: { apiKey: c.apiKey } } : c.username !== undefined ? { auth: { username: c.username, password: c.password ?? '' } } : {}),
    ...(c.ca ? { tls: { ca: c.ca } } : {}),
  });
  return new RestSearchService(
    'elasticsearch',
    (method, path, body, querystring) => client.transport.request({ method, path, ...(body ? { body } : {}), ...(querystring ? { querystring } : {}) }),
    async (ndjson) => {
      try {
        // A prepared NDJSON string is sent as it is; the client serializes only arrays.
        return bulkItems((await client.bulk({ operations: ndjson as unknown as [], filter_path: BULK_ANSWER_FILTER })) as unknown as Parameters<typeof bulkItems>[0]);
      } catch (err) {
        throw toServiceError(err, 'bulk');
      }
    },
    () => client.close(),
  );
}
