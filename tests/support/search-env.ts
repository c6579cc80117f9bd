import type { SearchConnection } from '../../connectors/search/config.js';
import { requiredEnv } from './test-env.js';

export interface SearchTarget {
  connection: SearchConnection;
  /** Whether the test run controls the node (and may restart it). */
  local: boolean;
}

/** The OpenSearch node tests/run.sh started; its absence fails the test run. */
export function openSearchTarget(): SearchTarget {
  return { connection: { product: 'opensearch', url: requiredEnv('TG_OPENSEARCH_URL') }, local: true };
}

/**
 * Every cluster the search tests run against: always the local OpenSearch node, and an
 * Elasticsearch when TG_TEST_ELASTICSEARCH_URL names one (optionally with
 * TG_TEST_ELASTICSEARCH_API_KEY, or _USERNAME and _PASSWORD).
 */
export function searchTargets(): SearchTarget[] {
  const targets = [openSearchTarget()];
  const esUrl = process.env.TG_TEST_ELASTICSEARCH_URL;
  if (esUrl) {
    const e = process.env;
    targets.push({
      connection: {
        product: 'elasticsearch',
        url: esUrl,
        ...(e.TG_TEST_ELASTICSEARCH_API_KEY ? { apiKey: e.TG_TEST_ELASTICSEARCH_API_KEY } : {}),
        ...(e.TG_TEST_ELASTICSEARCH_USERNAME ? { username: e.TG_TEST_ELASTICSEARCH_USERNAME, password: e.TG_TEST_ELASTICSEARCH_PASSWORD ?? '' } : {}),
      },
      local: false,
    });
  }
  return targets;
}

/** A fresh data stream namespace per test, so counts never mix. */
export function testNamespace(label: string): string {
  return `t_${label}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`.toLowerCase().replace(/[^a-z0-9_.]/g, '_');
}
