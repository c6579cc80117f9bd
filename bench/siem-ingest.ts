/**
 * Every forwarding sink on the consumer framework, in one run over one synthetic log: events per
 * second from the embedded log into the OpenSearch indexer (a real node, TG_OPENSEARCH_URL; bench/siem.sh
 * starts one), into the Splunk HEC STAND-IN with indexer acknowledgement required, and into the Logs
 * Ingestion STAND-IN (Sentinel) over HTTPS; the NDJSON file sink of the forwarder is the baseline of
 * the same run. Each stand-in runs in a child process of its own on 127.0.0.1 (tests/services/
 * hec-standin.ts, tests/services/sentinel-standin.ts): neither SIEM can run here.
 * Each sink is a Consumer with its own position reading the same log, timed from start until its lag
 * is zero. Prints a Markdown results section on stdout.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer } from '../connectors/consumer/consumer.js';
import { NdjsonFileSink } from '../connectors/consumer/ndjson-sink.js';
import type { RecordSink } from '../connectors/consumer/record-sink.js';
import { EmbeddedRecordSource } from '../connectors/embedded-log/embedded-consumer.js';
import { EmbeddedLog } from '../connectors/embedded-log/embedded-log.js';
import { SearchSink } from '../connectors/search/sink.js';
import { sentinelSinkFor } from '../connectors/sentinel/sink.js';
import { SplunkConfig } from '../connectors/splunk/config.js';
import { SplunkSink } from '../connectors/splunk/sink.js';
import type { SessionContext } from '../events/index.js';
import { searchService } from '../services/indexer/search-connection.js';
import { Metrics } from '../services/metrics/metrics.js';
import type { SentinelStandIn } from '../tests/services/sentinel-standin.js';
import { sentinelConfig, startStandIn as startSentinel } from '../tests/support/sentinel-env.js';
import { syntheticSession } from '../tests/support/synthetic-records.js';
import { startHecStandIn } from './hec-standin-process.js';

if (process.argv[2] === 'sentinel-stand-in') {
  const standIn = await startSentinel();
  // Counts only: the benchmark should not measure the stand-in's memory.
  standIn.received.push = () => 0;
  process.send!({ url: standIn.url, caFile: standIn.caFile });
  process.on('disconnect', () => void standIn.stop().then(() => process.exit(0)));
} else {
  await main();
}

async function main(): Promise<void> {
  const url = process.env.TG_OPENSEARCH_URL;
  if (!url) throw new Error('TG_OPENSEARCH_URL is not set: run bench/siem.sh, which starts OpenSearch');
  const sessions = Number(process.env.BENCH_SESSIONS ?? 1000);
  const batch = Number(process.env.BENCH_BATCH ?? 1000);
  const repo = resolve(import.meta.dirname, '..');
  const dir = mkdtempSync(join(tmpdir(), 'trailgate-bench-siem-'));
  const children: (() => void)[] = [];
  try {
    // One synthetic log that every sink reads.
    const file = join(dir, 'trailgate.db');
    const log = new EmbeddedLog(file, { synchronous: 'normal' });
    let records = 0;
    let bytes = 0;
    for (let i = 0; i < sessions; i++) {
      const recs = syntheticSession();
      const r0 = recs[0]!;
      const context: SessionContext = { sessionId: r0.sessionId, instance: r0.instance, protocol: 'postgres', target: { name: 'app', kind: 'postgres' }, identity: r0.identity, client: r0.client! };
      log.writeBatch([context], recs.map(({ sessionId, seq, ts, type, data, prev, hash }) => ({ sessionId, seq, ts, stream: 'events' as const, type, data, prev, hash })));
      records += recs.length;
      bytes += recs.reduce((n, r) => n + JSON.stringify(r).length, 0);
    }
    log.close();

    const hec = await startHecStandIn(repo);
    children.push(hec.stop);
    const sentinel = await startSentinelChild();
    children.push(sentinel.stop);

    const rows: string[] = [];
    // Consumer.stop() closes the sink.
    const measure = async (what: string, sink: RecordSink, stats: () => string) => {
      const seconds = await drain(file, sink, batch);
      rows.push(`| ${what} | ${seconds.toFixed(2)} | ${Math.round(records / seconds)} | ${stats()} |`);
    };

    const ndjson = new NdjsonFileSink(join(dir, 'forwarded.ndjson'), { name: 'forwarder', streams: ['events'] });
    await measure('baseline: forwarder NDJSON file sink (fsync per batch)', ndjson, () => '-');

    const search = new SearchSink(searchService({ product: 'opensearch', url }), { namespace: `bench_${Date.now()}`, replicas: 0, maxBulkDocs: batch });
    await search.install();
    await measure('OpenSearch indexer (real node, bulk create)', search, () => `${search.stats.stored} stored`);

    const { caFile: _c, token: _t, ...splunkOptions } = SplunkConfig.parse({ url: hec.url, token: 'x', ack: 'required', gzip: false, streams: ['events'] });
    const splunk = new SplunkSink({ ...splunkOptions, token: hec.token, stateDir: join(dir, 'splunk') }, () => undefined);
    await measure('Splunk sink, ack required (HEC stand-in)', splunk, () => `${splunk.stats.sent} sent, ${splunk.stats.acknowledged} acknowledged, ${splunk.stats.resent} resent`);

    const sentinelSink = sentinelSinkFor(sentinelConfig({ url: sentinel.url, caFile: sentinel.caFile } as SentinelStandIn, { maxConcurrency: 2 }));
    await measure('Sentinel sink, gzip, SDK maxConcurrency 2 (Logs Ingestion stand-in)', sentinelSink, () => `${sentinelSink.stats.acknowledged} accepted, ${sentinelSink.stats.resent} resent`);

    console.log(`## Events per second into each sink, on the consumer framework

${records} event records (${sessions} synthetic sessions, every event type; ${(bytes / 1e6).toFixed(1)} MB as JSON) in one embedded log. Each sink runs as a Consumer with its own position and batchSize ${batch}, timed from start until its lag is zero (lag polled every 50 ms), one sink after another. OpenSearch is a real single node (replicas 0) on this machine; the HEC and Logs Ingestion stand-ins (not Splunk, not Azure) each run in a Node process of their own on 127.0.0.1.

| sink | seconds | events/s | delivery |
|---|---:|---:|---|
${rows.join('\n')}`);
  } finally {
    for (const stop of children) stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs one consumer over the whole log; seconds until its lag is zero. */
async function drain(file: string, sink: RecordSink, batchSize: number): Promise<number> {
  const consumer = new Consumer(new EmbeddedRecordSource(file, sink, { batchSize, pollMs: 20 }), sink, new Metrics(), { retryMs: 50, log: () => undefined });
  const t0 = performance.now();
  const running = consumer.run();
  let failed: Error | null = null;
  running.catch((err: Error) => (failed = err));
  try {
    // Bounded: at most ten minutes per sink.
    for (let i = 0; i < 12_000; i++) {
      if (failed) throw failed;
      if ((await consumer.lag()).total === 0) return (performance.now() - t0) / 1000;
      await sleep(50);
    }
    throw new Error(`${sink.name} did not catch up within ten minutes`);
  } finally {
    await consumer.stop();
    await running.catch(() => undefined);
  }
}


async function startSentinelChild(): Promise<{ url: string; caFile: string; stop: () => void }> {
  const child = fork(import.meta.filename, ['sentinel-stand-in'], { execArgv: ['--import', 'tsx'] });
  const where = await new Promise<{ url: string; caFile: string }>((ok, fail) => {
    child.once('message', (m) => ok(m as { url: string; caFile: string }));
    child.once('exit', (code) => fail(new Error(`the Logs Ingestion stand-in exited with ${code}`)));
  });
  return { ...where, stop: () => child.disconnect() };
}
