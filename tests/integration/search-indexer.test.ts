/**
 * The indexer against a real search cluster: the OpenSearch node tests/run.sh starts (and an
 * Elasticsearch when TG_TEST_ELASTICSEARCH_URL names one). Records come from real sessions through
 * the gateway and the real PostgreSQL, plus synthetic records for what that path does not produce.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { DeadLetter, RecordSink } from '../../connectors/consumer/record-sink.js';
import { DEFAULT_SEARCH_SINK_OPTIONS } from '../../connectors/search/config.js';
import { installSearchResources } from '../../connectors/search/install.js';
import { SearchSink } from '../../connectors/search/sink.js';
import type { SearchService } from '../../connectors/search/service.js';
import { EVENT_TYPES, type AuditRecord, type EventRecord } from '../../events/index.js';
import { DeadLetterMemory } from '../../services/indexer/dead-letters.js';
import { readEmbeddedLog } from '../../services/indexer/embedded-log-source.js';
import { deliver } from '../../services/indexer/indexer.js';
import { searchService } from '../../services/indexer/search-connection.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { searchTargets, testNamespace } from '../support/search-env.js';
import { futureRecord, syntheticRecord, syntheticSession } from '../support/synthetic-records.js';
import { ThrottlingProxy } from '../support/throttling-proxy.js';

const run = promisify(execFile);

/** Sessions of every kind the Postgres path records: allowed and denied statements, notifications, refused tokens and targets. */
async function recordRealSessions(h: GatewayHarness): Promise<AuditRecord[]> {
  const deployer = await h.client({ token: await h.token({ repository: 'acme/payments', ref: 'refs/heads/feature-x' }) });
  await deployer.query('select 1 as one');
  await deployer.query('create table if not exists search_indexer_probe (id int, note text)');
  await deployer.query('insert into search_indexer_probe values ($1, $2)', [1, 'x'.repeat(3000)]);
  await deployer.query('listen deploys');
  const notified = new Promise((resolve) => deployer.once('notification', resolve));
  const notifier = await h.client({ token: await h.token({ repository: 'acme/payments' }) });
  await notifier.query("select pg_notify('deploys', 'payments v2')");
  await notified;
  await deployer.query('drop table search_indexer_probe');
  const reader = await h.client({ token: await h.token({ repository: 'acme/reports' }) });
  await assert.rejects(reader.query('create table nope (id int)'), (e: { code?: string }) => e.code === '42501');
  await Promise.all([deployer.end(), notifier.end(), reader.end()]);
  // A token that fails verification, and one that no rule lets in.
  await assert.rejects(connect(h, 'not-a-token'));
  await assert.rejects(connect(h, await h.token({ repository: 'evil/unknown' })));
  for (let i = 0; i < 200; i++) {
    await h.gateway.writer.flush();
    const sessions = h.gateway.log.listSessions(100);
    if (sessions.length >= 5 && sessions.every((s) => s.endedAt)) return readEmbeddedLog(h.gateway.log, ['events']);
    await sleep(50);
  }
  throw new Error('the sessions did not all end');
}

async function connect(h: GatewayHarness, token: string): Promise<void> {
  const c = new pg.Client({ host: '127.0.0.1', port: h.port, database: 'app', user: 'ci', password: token });
  try {
    await c.connect();
  } finally {
    await c.end().catch(() => {});
  }
}

async function countIn(service: SearchService, dataStream: string): Promise<number> {
  await service.refresh(dataStream);
  return (await service.search(dataStream, { size: 0, track_total_hits: true, query: { match_all: {} } })).total;
}

async function actionsIn(service: SearchService, dataStream: string): Promise<Map<string, number>> {
  await service.refresh(dataStream);
  const res = await service.search(dataStream, { size: 0, aggs: { actions: { terms: { field: 'event.action', size: 100 } } } });
  const buckets = (res.aggregations!.actions as { buckets: { key: string; doc_count: number }[] }).buckets;
  return new Map(buckets.map((b) => [b.key, b.doc_count]));
}

/** Sinks on the suite's shared service are not closed: closing a sink closes its service. */
function newSink(service: SearchService, label: string, options: ConstructorParameters<typeof SearchSink>[1] = {}): SearchSink {
  return new SearchSink(service, { namespace: testNamespace(label), replicas: 0, ...options });
}

const quickDelivery = (deadLetters = new DeadLetterMemory()) => ({ batchSize: 50, redeliveryDelayMs: 200, giveUpAfterMs: 120_000, deadLetters });

for (const target of searchTargets()) {
  describe(`indexing into ${target.connection.product}`, () => {
    let h: GatewayHarness;
    let service: SearchService;
    let gatewayRecords: AuditRecord[];
    /** The gateway's records plus synthetic ones for the types the Postgres path did not produce. */
    let allRecords: EventRecord[];

    before(async () => {
      h = await GatewayHarness.start({
        rules: [
          { name: 'payments-all', issuers: ['dev'], repository: 'acme/payments', targets: ['*'], rights: ['all'] },
          { name: 'reports-read', issuers: ['dev'], repository: 'acme/reports', targets: ['*'], rights: ['read', 'transaction', 'session'] },
        ],
      });
      service = searchService(target.connection);
      gatewayRecords = await recordRealSessions(h);
      const produced = new Set(gatewayRecords.map((r) => r.type));
      const missing = EVENT_TYPES.filter((t) => !produced.has(t));
      allRecords = [...(gatewayRecords as EventRecord[]), ...syntheticSession().filter((r) => missing.includes(r.type))];
    });
    after(async () => {
      await service?.close();
      await h?.stop();
    });

    it('installs its templates and data stream, and a lifecycle policy where the cluster has the plugin', async () => {
      const sink = newSink(service, 'install');
      const report = await sink.install();
      assert.equal(report.dataStream, sink.dataStream);
      if (target.connection.product === 'elasticsearch') assert.equal(report.lifecycle, 'installed');
      // The test node has no ISM: the index-management plugin is not on Maven Central (tests/services/opensearch.sh).
      else assert.equal(report.lifecycle, process.env.TG_OPENSEARCH_ISM === 'present' ? 'installed' : 'unavailable');
      const streams = (await (target.local ? fetch(`${target.connection.url as string}/_data_stream/${sink.dataStream}`).then((r) => r.json()) : Promise.resolve(null))) as { data_streams: { template: string; timestamp_field: { name: string } }[] } | null;
      if (streams) {
        assert.equal(streams.data_streams[0]!.template, 'trailgate-audit');
        assert.equal(streams.data_streams[0]!.timestamp_field.name, '@timestamp');
      }
      // Installing again (every indexer start does) changes nothing and fails nothing.
      assert.deepEqual(await installSearchResources(service, sink.dataStream, DEFAULT_SEARCH_SINK_OPTIONS), report);
      const mapping = await service.mapping(sink.dataStream);
      assert.equal((mapping as { trailgate: { properties: { command: { properties: { text: { type: string } } } } } }).trailgate.properties.command.properties.text.type, 'wildcard');
    });

    it('stores one document per event record, for every event type in the catalogue', async () => {
      const produced = new Set(gatewayRecords.map((r) => r.type));
      // The Postgres path itself produces all but cancel.requested (covered by the relay tests and synthetic here).
      for (const t of ['session.started', 'auth.decided', 'policy.decided', 'target.connected', 'command.started', 'command.completed', 'notification.received', 'session.ended']) {
        assert.ok(produced.has(t as never), `the gateway recorded ${t}`);
      }
      const sink = newSink(service, 'every_type');
      const report = await deliver(sink, allRecords, quickDelivery());
      assert.equal(report.deadLetters, 0);
      assert.equal(await countIn(service, sink.dataStream), allRecords.length);
      const actions = await actionsIn(service, sink.dataStream);
      for (const type of EVENT_TYPES) assert.ok((actions.get(type) ?? 0) > 0, `a ${type} document`);

      // What analysts search on is there: the run, the statement, the decision.
      await service.refresh(sink.dataStream);
      const denied = await service.search(sink.dataStream, { query: { bool: { filter: [{ term: { 'event.action': 'command.started' } }, { term: { 'trailgate.decision.outcome': 'denied' } }] } } });
      assert.equal(denied.total, 1);
      const doc = denied.hits[0]!._source as { vcs: { repository: { name: string } }; trailgate: { command: { text: string }; decision: { missing: string[] } } };
      assert.equal(doc.vcs.repository.name, 'acme/reports');
      assert.equal(doc.trailgate.command.text, 'create table nope (id int)');
      assert.deepEqual(doc.trailgate.decision.missing, ['ddl']);
      const ddl = await service.search(sink.dataStream, { query: { bool: { filter: [{ term: { 'trailgate.decision.needs': 'ddl' } }, { term: { 'vcs.ref.head.name': 'refs/heads/feature-x' } }] } } });
      assert.equal(ddl.total, 2, 'create and drop table from the feature branch');
      const long = await service.search(sink.dataStream, { query: { wildcard: { 'trailgate.command.text': { value: '*insert into search_indexer_probe*' } } } });
      assert.equal(long.total, 1);
      const words = await service.search(sink.dataStream, { query: { match: { 'trailgate.command.text.text': 'search_indexer_probe' } } });
      assert.ok(words.total >= 3);
      const ended = await service.search(sink.dataStream, { query: { bool: { filter: [{ term: { 'event.action': 'session.ended' } }, { range: { 'source.bytes': { gt: 0 } } }] } } });
      assert.ok(ended.total >= 3, 'session ends carry byte counts');
    });

    it('leaves no duplicates when the same records are delivered twice', async () => {
      const sink = newSink(service, 'replay');
      await deliver(sink, allRecords, quickDelivery());
      await deliver(sink, allRecords, quickDelivery());
      // Another sink instance (a restarted indexer) replaying from the start.
      const again = new SearchSink(service, { namespace: sink.dataStream.replace('logs-trailgate.audit-', ''), replicas: 0 });
      await deliver(again, allRecords, quickDelivery());
      assert.equal(await countIn(service, sink.dataStream), allRecords.length);
      assert.equal(sink.stats.stored, allRecords.length);
      assert.equal(sink.stats.duplicates, allRecords.length);
      assert.equal(again.stats.stored, 0);
      assert.equal(again.stats.duplicates, allRecords.length);
    });

    it('skips and counts what it does not index, and dead-letters a document the cluster refuses for good', async () => {
      const sink = newSink(service, 'skips');
      const session = syntheticSession();
      const sessionId = session[0]!.sessionId;
      const unknown = futureRecord(sessionId, 20);
      const newer = { ...syntheticRecord(sessionId, 21, 'cancel.requested', { forwarded: false }), v: 99 };
      const bytes: AuditRecord = { ...syntheticRecord(sessionId, 22, 'cancel.requested', { forwarded: false }), stream: 'bytes', type: 'bytes', direction: 'client', offset: 0, data: Buffer.from('x') } as AuditRecord;
      const broken = { ...syntheticRecord(sessionId, 23, 'cancel.requested', { forwarded: true }), ts: 'yesterday at noon' };
      const { deadLetters } = await sink.write([...session, unknown, newer, bytes, broken]);
      assert.deepEqual(sink.stats.skipped, { 'unknown-type:review.opened': 1, 'schema-version:99': 1, bytes: 1 });
      assert.equal(deadLetters.length, 1);
      const letter = deadLetters[0] as DeadLetter;
      assert.equal(letter.record.id, broken.id);
      assert.equal(letter.code, 'TG_SEARCH_DOCUMENT_REJECTED');
      assert.match(letter.message, /400/);
      assert.equal(await countIn(service, sink.dataStream), session.length);
    });

    for (const mode of ['requests', 'items'] as const) {
      it(`loses nothing in a 429 storm from ThrottlingProxy (${mode})`, async () => {
        const proxy = await ThrottlingProxy.start(Array.isArray(target.connection.url) ? target.connection.url[0]! : target.connection.url);
        const throttled = searchService({ ...target.connection, url: proxy.url });
        try {
          const sink = newSink(throttled, `storm_${mode}`, { initialBackoffMs: 50, maxBackoffMs: 400, maxAttempts: 6 });
          await sink.install();
          const records = Array.from({ length: 30 }, () => syntheticSession()).flat();
          proxy.storm(1500, mode);
          const report = await deliver(sink, records, { ...quickDelivery(), batchSize: 90 });
          assert.equal(report.deadLetters, 0);
          assert.equal(await countIn(service, sink.dataStream), records.length);
          assert.ok(sink.stats.throttled > 0, 'the storm was felt');
          assert.ok(mode === 'requests' ? proxy.rejectedRequests > 0 : proxy.rejectedItems > 0);
          // Each document stored once; any the cluster had taken before a redelivery came back as 409s.
          assert.equal(sink.stats.stored, records.length);
          await sink.close();
        } finally {
          await proxy.stop();
        }
      });
    }

    it('loses nothing when a storm outlasts the sink\'s retries: the batch is delivered again', async () => {
      const proxy = await ThrottlingProxy.start(Array.isArray(target.connection.url) ? target.connection.url[0]! : target.connection.url);
      const throttled = searchService({ ...target.connection, url: proxy.url });
      try {
        const sink = newSink(throttled, 'long_storm', { initialBackoffMs: 20, maxBackoffMs: 50, maxAttempts: 3 });
        await sink.install();
        const records = Array.from({ length: 10 }, () => syntheticSession()).flat();
        proxy.storm(1200, 'items');
        const report = await deliver(sink, records, { ...quickDelivery(), batchSize: 45 });
        assert.ok(report.redeliveries > 0, 'the sink gave up at least once and the batch came again');
        assert.equal(await countIn(service, sink.dataStream), records.length);
        await sink.close();
      } finally {
        await proxy.stop();
      }
    });

    if (target.local) {
      it('loses nothing when the OpenSearch node restarts in the middle of a delivery', async () => {
        const sink = newSink(service, 'restart', { initialBackoffMs: 100, maxBackoffMs: 1000, maxAttempts: 4 });
        await sink.install();
        const records = Array.from({ length: 40 }, () => syntheticSession()).flat();
        let restart: Promise<unknown> | null = null;
        let batches = 0;
        // Takes the node down after the third batch and lets delivery run into it.
        const interrupting: RecordSink = {
          name: sink.name,
          streams: sink.streams,
          write: async (batch) => {
            if (++batches === 4 && !restart) {
              restart = run('bash', ['tests/services/opensearch.sh', 'restart'], { env: process.env });
              await waitUntilDown(target.connection.url as string);
            }
            return sink.write(batch);
          },
        };
        const report = await deliver(interrupting, records, { ...quickDelivery(), batchSize: 30, redeliveryDelayMs: 500 });
        await restart;
        assert.ok(report.redeliveries > 0, 'some batch failed while the node was down and came again');
        assert.equal(await countIn(service, sink.dataStream), records.length);
      });
    }
  });
}

async function waitUntilDown(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(500) });
    } catch {
      return;
    }
    await sleep(100);
  }
  throw new Error('the node did not go down');
}
