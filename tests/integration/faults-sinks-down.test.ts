/**
 * The search cluster and the Sentinel ingestion endpoint away for a while: the real OpenSearch node
 * (tests/services/opensearch.sh) and the Logs Ingestion stand-in (tests/services/sentinel-standin.ts;
 * Sentinel is SaaS, this is a stand-in of its documented API) each behind a relay that the test takes
 * away (connections refused) while sessions are recorded, with test-sized backoffs. Each consumer holds
 * its committed position and says it is degraded, with the last error, in `trailgate consumers`, in
 * /readyz's checks and in its metric; once the service is back it delivers every record exactly once
 * and reports itself ok again.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Consumer } from '../../connectors/consumer/consumer.js';
import type { RecordSink } from '../../connectors/consumer/record-sink.js';
import { EmbeddedRecordSource, embeddedConsumerPositions } from '../../connectors/embedded-log/embedded-consumer.js';
import { SearchSink } from '../../connectors/search/sink.js';
import { sentinelSinkFor } from '../../connectors/sentinel/sink.js';
import type { AuditRecord } from '../../events/index.js';
import { embeddedLogFile } from '../../services/gateway/gateway.js';
import { readEmbeddedLog } from '../../services/indexer/embedded-log-source.js';
import { searchService } from '../../services/indexer/search-connection.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { consumerHealth } from '../../services/roles/consumer-health.js';
import type { SentinelStandIn } from '../services/sentinel-standin.js';
import { BlockablePort } from '../support/blockable-port.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { eventually } from '../support/kafka-env.js';
import { openSearchTarget, testNamespace } from '../support/search-env.js';
import { assertDeliveredWhole, dedup, sealedRecords, sentinelConfig, startStandIn } from '../support/sentinel-env.js';

const exec = promisify(execFile);
const cli = resolve(import.meta.dirname, '../../bin/trailgate.js');

let h: GatewayHarness;
let logFile: string;
let statusConfig: string;
const logs: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  h = await GatewayHarness.start();
  logFile = embeddedLogFile(h.dataDir);
  statusConfig = join(h.dataDir, 'status.json');
  writeFileSync(statusConfig, JSON.stringify({ dataDir: h.dataDir }));
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await h?.stop();
});

async function sessions(n: number, label: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const c = await h.client();
    await c.query(`select '${label}-${i}' as what, generate_series(1, 20) as n`);
    await c.end();
  }
  await sealedRecords(h);
}

interface StatusRow {
  consumer: string;
  position: string;
  lag: string;
  state: string;
  error?: string;
  detail: string;
}

/** What `trailgate consumers --json` says about one consumer, read by the CLI as an operator runs it. */
async function status(consumer: string): Promise<StatusRow> {
  const { stdout } = await exec(process.execPath, [cli, '--config', statusConfig, 'consumers', '--json']);
  const row = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StatusRow).find((r) => r.consumer === consumer);
  assert.ok(row, `trailgate consumers lists ${consumer}:\n${stdout}`);
  return row;
}

/** Runs a sink on the consumer framework over the embedded log, with the role's readiness and metrics. */
function consume(sink: RecordSink) {
  const metrics = new Metrics();
  const consumer = new Consumer(new EmbeddedRecordSource(logFile, sink, { batchSize: 50, pollMs: 20 }), sink, metrics, { retryMs: 50, log: (l) => logs.push(l) });
  const running = consumer.run();
  const health = consumerHealth('test-role', [consumer]);
  // Once: a search sink's close closes its client, and a closed client's close never settles.
  let stopped: Promise<void> | null = null;
  const stop = () =>
    (stopped ??= (async () => {
      await consumer.stop();
      await running.catch(() => undefined);
    })());
  cleanups.push(stop);
  const healthMetric = (state: string) => new RegExp(`^trailgate_consumer_health\\{consumer="${sink.name}",state="${state}"\\} 1$`, 'm').test(metrics.render());
  return { consumer, health, healthMetric, stop };
}

/** The outage every sink goes through: delivered, service away, degraded and held, service back, delivered once, ok. */
async function outage(sink: RecordSink, relay: BlockablePort, label: string, errorCode: RegExp): Promise<void> {
  const { consumer, health, healthMetric, stop } = consume(sink);
  await eventually(async () => (await consumer.lag()).total === 0, `${sink.name} to catch up before the outage`, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}; the consumer said:\n${logs.slice(-5).join('\n')}`);
  });
  assert.equal((await status(sink.name)).state, 'ok');
  const held = embeddedConsumerPositions(logFile).find((p) => p.consumer === sink.name)!.pos;

  await relay.block();
  await sessions(3, `${label}-outage`);
  await eventually(() => consumer.health().state === 'degraded' && consumer.health().failures >= 2, `${sink.name} to report itself degraded`, 60_000);
  const row = await status(sink.name);
  assert.equal(row.state, 'degraded', JSON.stringify(row));
  assert.match(row.error ?? '', errorCode, 'the last error names what failed');
  assert.match(row.detail, /failing since .* attempts/);
  const ready = await health.readiness();
  assert.equal(ready.ready, false);
  const check = ready.checks.find((c) => c.name === `sink:${sink.name}`)!;
  assert.equal(check.ok, false);
  assert.match(check.detail ?? '', /^degraded since /);
  assert.ok(ready.checks.find((c) => c.name === `log:${sink.name}`)!.ok, 'the log itself is still readable');
  assert.ok(healthMetric('degraded'), 'trailgate_consumer_health says degraded');
  assert.equal(embeddedConsumerPositions(logFile).find((p) => p.consumer === sink.name)!.pos, held, 'the committed position does not move past what the service has not taken');
  assert.ok((await consumer.lag()).total > 0, 'the records of the outage wait in the log');

  await relay.unblock();
  await eventually(async () => (await consumer.lag()).total === 0 && consumer.health().state === 'ok', `${sink.name} to catch up after the outage`, 90_000);
  const again = await status(sink.name);
  assert.equal(again.state, 'ok', JSON.stringify(again));
  assert.match(again.detail, /recovered .* \(last error /);
  assert.equal((await health.readiness()).ready, true);
  assert.ok(healthMetric('ok'));
  await stop();
}

describe('the OpenSearch node unreachable for a while', () => {
  let relay: BlockablePort;
  before(async () => {
    relay = await BlockablePort.start(openSearchTarget().connection.url as string);
    cleanups.push(() => relay.stop());
  });

  it('holds the indexer\'s position, reports it degraded, then indexes every event once when the node is back', async () => {
    await sessions(2, 'search');
    const namespace = testNamespace('down');
    const service = searchService({ product: 'opensearch', url: relay.url(), requestTimeoutMs: 5000 });
    const sink = new SearchSink(service, { namespace, replicas: 0, maxAttempts: 3, initialBackoffMs: 20, maxBackoffMs: 200 });
    await outage(sink, relay, 'search', /^TG_SEARCH_(UNREACHABLE|UNAVAILABLE)/);

    const direct = searchService(openSearchTarget().connection);
    cleanups.push(() => direct.close());
    await direct.refresh(sink.dataStream);
    const events = readEmbeddedLog(h.gateway.log, ['events']);
    const found = await direct.search(sink.dataStream, { size: 10_000, track_total_hits: true, _source: false, query: { match_all: {} } });
    assert.equal(found.total, events.length, 'one document per event record');
    assert.deepEqual(found.hits.map((x) => x._id).sort(), events.map((r) => r.id).sort(), 'every event of the log, none twice');
    assert.equal(sink.stats.deadLetters, 0);
  });
});

describe('the Sentinel ingestion endpoint unreachable for a while (stand-in; Entra ID stays up)', () => {
  let standIn: SentinelStandIn;
  let relay: BlockablePort;
  before(async () => {
    standIn = await startStandIn();
    cleanups.push(() => standIn.stop());
    relay = await BlockablePort.start(standIn.url);
    cleanups.push(() => relay.stop());
  });

  it('holds the forwarder\'s position, reports it degraded, then delivers every record once when it is back', async () => {
    await sessions(1, 'sentinel');
    const config = sentinelConfig(standIn, { endpoint: relay.url('https'), maxAttempts: 3, initialBackoffMs: 20, maxBackoffMs: 200 });
    const sink = sentinelSinkFor(config, { log: (l) => logs.push(l) });
    await outage(sink, relay, 'sentinel', /^TG_SENTINEL_UNAVAILABLE/);

    const records: AuditRecord[] = readEmbeddedLog(h.gateway.log, ['events', 'bytes']);
    const rows = standIn.rows();
    assert.equal(dedup(rows).duplicates, 0, 'nothing delivered twice');
    assertDeliveredWhole(rows, records);
    assert.ok(!logs.some((l) => l.includes(process.env.TG_TEST_SENTINEL_SECRET!)), 'the client secret is never logged');
  });
});
