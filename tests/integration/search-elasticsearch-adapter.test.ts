/**
 * The Elasticsearch adapter (@elastic/elasticsearch 9.4) runs its requests through
 * ElasticsearchShim to the OpenSearch node: the client's product check, media types, prepared
 * NDJSON bulk bodies and error mapping are exercised in every run. Against a real Elasticsearch,
 * set TG_TEST_ELASTICSEARCH_URL and the indexer tests run there too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { elasticsearchService } from '../../connectors/search/elasticsearch.js';
import { openSearchService } from '../../connectors/search/opensearch.js';
import type { SearchService } from '../../connectors/search/service.js';
import { SearchSink } from '../../connectors/search/sink.js';
import { ElasticsearchShim } from '../support/elasticsearch-shim.js';
import { openSearchTarget, testNamespace } from '../support/search-env.js';
import { syntheticSession } from '../support/synthetic-records.js';

describe('the Elasticsearch adapter', () => {
  let shim: ElasticsearchShim;
  let es: SearchService;

  before(async () => {
    shim = await ElasticsearchShim.start(openSearchTarget().connection.url as string);
    es = elasticsearchService({ product: 'elasticsearch', url: shim.url });
  });
  after(async () => {
    await es.close();
    await shim.stop();
  });

  it('installs, bulk-creates, treats a replay as 409s, and searches', async () => {
    const sink = new SearchSink(es, { namespace: testNamespace('es_adapter'), replicas: 0 });
    const report = await sink.install();
    // The shim's upstream has no _ilm API: the adapter says so instead of failing.
    assert.equal(report.lifecycle, 'unavailable');
    const records = syntheticSession();
    assert.deepEqual((await sink.write(records)).deadLetters, []);
    assert.deepEqual((await sink.write(records)).deadLetters, []);
    assert.equal(sink.stats.stored, records.length);
    assert.equal(sink.stats.duplicates, records.length);
    await es.refresh(sink.dataStream);
    assert.equal((await es.search(sink.dataStream, { size: 0, track_total_hits: true })).total, records.length);
    assert.ok('trailgate' in (await es.mapping(sink.dataStream)));
  });

  it('cannot be pointed at OpenSearch directly: the client checks the product', async () => {
    const direct = elasticsearchService({ product: 'elasticsearch', url: openSearchTarget().connection.url as string });
    try {
      await assert.rejects(direct.search('logs-trailgate.audit-*', { size: 0 }), /not Elasticsearch|ProductNotSupported|unknown product|406/i);
    } finally {
      await direct.close();
    }
  });

  it('reports an unreachable cluster as retryable, the same as the OpenSearch adapter', async () => {
    for (const service of [elasticsearchService({ product: 'elasticsearch', url: 'http://127.0.0.1:1' }), openSearchService({ product: 'opensearch', url: 'http://127.0.0.1:1' })]) {
      await assert.rejects(service.bulk('{"create":{"_index":"x","_id":"1"}}\n{}\n'), (e: { code: string; retryable: boolean }) => e.code === 'TG_SEARCH_UNREACHABLE' && e.retryable);
      await service.close();
    }
  });
});
