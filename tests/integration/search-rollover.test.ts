/**
 * A search index replayed after a rollover holds each record once. Against the real OpenSearch node:
 * real sessions are indexed through the consumer framework, the data stream rolls over, the consumer's
 * position goes back to 0 and everything is delivered again; the data stream still holds exactly one
 * document per event record, though `create` alone dedupes only within the new write index.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { EmbeddedRecordSource } from '../../connectors/embedded-log/embedded-consumer.js';
import { SearchSink } from '../../connectors/search/sink.js';
import { searchService } from '../../services/indexer/search-connection.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { eventually } from '../support/kafka-env.js';
import { openSearchTarget, testNamespace } from '../support/search-env.js';

/** Runs a consumer from its committed position until it has read everything, then stops it. */
async function catchUp(file: string, sink: SearchSink): Promise<void> {
  const consumer = new Consumer(new EmbeddedRecordSource(file, sink, { batchSize: 7 }), sink, new Metrics());
  const running = consumer.run();
  try {
    await eventually(async () => (await consumer.lag()).total === 0, 'the indexer to catch up');
  } finally {
    await consumer.source.stop();
    await running;
  }
}

async function os(method: string, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(new URL(path, openSearchTarget().connection.url as string), { method });
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as Record<string, unknown>;
}

describe('search index replayed across a rollover', () => {
  it('holds one document per record after index, rollover and a replay from position 0', async () => {
    const h = await GatewayHarness.start();
    const service = searchService(openSearchTarget().connection);
    const sink = new SearchSink(service, { namespace: testNamespace('rollover') });
    try {
      for (let n = 0; n < 3; n++) {
        const c = await h.client();
        for (let i = 0; i < 5; i++) await c.query('select $1::int as i', [i]);
        const ended = h.endedSession();
        await c.end();
        await ended;
      }
      await h.gateway.writer.flush();
      const file = join(h.dataDir, 'trailgate.db');
      const events = h.gateway.log.listSessions().flatMap((s) => h.gateway.log.readSession(s.sessionId, 'events'));
      const unique = new Set(events.map((r) => r.id)).size;

      await catchUp(file, sink);
      await service.refresh(sink.dataStream);
      assert.equal((await service.search(sink.dataStream, { size: 0, track_total_hits: true })).total, unique);

      await os('POST', `/${sink.dataStream}/_rollover`);
      assert.equal((await service.backingIndices(sink.dataStream)).length, 2, 'the data stream rolled over');

      // Replay from position 0: every record is delivered again, now to a new write index.
      const db = new Database(file);
      db.prepare('DELETE FROM consumer_positions WHERE consumer = ?').run(sink.name);
      db.close();
      const before = sink.stats.duplicates;
      await catchUp(file, sink);
      await service.refresh(sink.dataStream);
      assert.equal((await service.search(sink.dataStream, { size: 0, track_total_hits: true })).total, unique, 'count = unique records');
      assert.equal(sink.stats.duplicates - before, unique, 'every record was recognised as indexed already');
      const perIndex = (await os('GET', `/${sink.dataStream}/_count`)) as { count: number };
      assert.equal(perIndex.count, unique);
    } finally {
      await sink.close();
      await h.stop();
    }
  });
});
