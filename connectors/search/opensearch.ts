import { Client } from '@opensearch-project/opensearch';
import type { SearchConnection } from './config.js';
import { BULK_ANSWER_FILTER, bulkItems, RestSearchService } from './rest.js';
import { toServiceError, type SearchService } from './service.js';

/** OpenSearch through @opensearch-project/opensearch: plain JSON, no product check. */
export function openSearchService(c: SearchConnection): SearchService {
  const client = new Client({
    nodes: c.url,
    // Retries are the sink's (bounded backoff on 429 and 5xx); the client gives up at once.
    maxRetries: 0,
    requestTimeout: c.requestTimeoutMs ?? 30_000,
    ...(c.username !== undefined ? { auth: { username: c.username, password: c.password ?? '' } } : {}),
    ...(c.apiKey ? { headers: { authorization: `ApiKey ${c.apiKey}` } } : {}),
    ...(c.ca ? { ssl: { ca: c.ca } } : {}),
  });
  return new RestSearchService(
    'opensearch',
    async (method, path, body, querystring) => (await client.transport.request({ method, path, ...(body ? { body } : {}), ...(querystring ? { querystring } : {}) })).body,
    async (ndjson) => {
      try {
        return bulkItems((await client.bulk({ body: ndjson as unknown as [], filter_path: BULK_ANSWER_FILTER })).body as Parameters<typeof bulkItems>[0]);
      } catch (err) {
        throw toServiceError(err, 'bulk');
      }
    },
    () => client.close(),
  );
}
