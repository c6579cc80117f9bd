import { readFileSync } from 'node:fs';
import type { SearchConnection } from '../../connectors/search/config.js';
import { elasticsearchService } from '../../connectors/search/elasticsearch.js';
import { openSearchService } from '../../connectors/search/opensearch.js';
import type { SearchService } from '../../connectors/search/service.js';
import { SearchSink } from '../../connectors/search/sink.js';
import type { SearchConfig } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';

/** The connection that `search:` in trailgate.yaml describes, with its secrets read. */
export function searchConnection(config: SearchConfig): SearchConnection {
  const password = resolveSecret(config.password, 'search.password');
  const apiKey = resolveSecret(config.apiKey, 'search.apiKey');
  let ca: string | undefined;
  if (config.caFile) {
    try {
      ca = readFileSync(config.caFile, 'utf8');
    } catch (err) {
      throw Object.assign(new Error(`search.caFile ${config.caFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`), { code: 'TG_CONFIG_INVALID' });
    }
  }
  return {
    product: config.product,
    url: config.url,
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(ca !== undefined ? { ca } : {}),
  };
}

/** The product's adapter for a connection. */
export function searchService(c: SearchConnection): SearchService {
  return c.product === 'elasticsearch' ? elasticsearchService(c) : openSearchService(c);
}

/** The indexer's sink for the configured cluster; templates and lifecycle are installed on first write. */
export function searchSinkFor(config: SearchConfig): SearchSink {
  return new SearchSink(searchService(searchConnection(config)), {
    namespace: config.namespace,
    lifecycle: config.lifecycle,
    ...(config.replicas !== undefined ? { replicas: config.replicas } : {}),
  });
}
