/**
 * Splunk sink benchmark: events per second from the SplunkSink into the HEC stand-in
 * (tests/services/hec-standin.ts, a separate process on 127.0.0.1; not Splunk), in batches of
 * BENCH_BATCH records as the consumer hands them over, with indexer acknowledgement (required), with
 * gzip, and with ack off; the baseline of the same run is the forwarder's NDJSON file sink on the
 * same records. Prints a Markdown results section on stdout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NdjsonFileSink } from '../connectors/consumer/ndjson-sink.js';
import type { RecordSink } from '../connectors/consumer/record-sink.js';
import { SplunkConfig } from '../connectors/splunk/config.js';
import { SplunkSink } from '../connectors/splunk/sink.js';
import { syntheticSession } from '../tests/support/synthetic-records.js';
import { startHecStandIn } from './hec-standin-process.js';

const sessions = Number(process.env.BENCH_SESSIONS ?? 3000);
const batch = Number(process.env.BENCH_BATCH ?? 1000);
const repo = resolve(import.meta.dirname, '..');
const out: string[] = [];
const say = (s = '') => out.push(s);


async function run(sink: RecordSink, records: ReturnType<typeof syntheticSession>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += batch) await sink.write(records.slice(i, i + batch));
  return (performance.now() - t0) / 1000;
}

const records = Array.from({ length: sessions }, () => syntheticSession()).flat();
const dir = mkdtempSync(join(tmpdir(), 'trailgate-bench-splunk-'));
const rows: string[] = [];
try {
  const ndjson = new NdjsonFileSink(join(dir, 'forwarded.ndjson'), { name: 'forwarder', streams: ['events'] });
  const base = await run(ndjson, records);
  await ndjson.close();
  rows.push(`| baseline: NDJSON file sink (fsync per batch) | ${base.toFixed(2)} | ${Math.round(records.length / base)} | - |`);
  for (const variant of [
    { name: 'Splunk sink, ack required', ack: 'required', gzip: false, standIn: [] as string[] },
    { name: 'Splunk sink, ack required, gzip', ack: 'required', gzip: true, standIn: [] },
    { name: 'Splunk sink, ack off', ack: 'off', gzip: false, standIn: ['--no-ack'] },
  ] as const) {
    const standIn = await startHecStandIn(repo, [...variant.standIn]);
    try {
      const options = SplunkConfig.parse({ url: standIn.url, token: 'x', ack: variant.ack, gzip: variant.gzip, streams: ['events'] });
      const { caFile: _c, token: _t, ...rest } = options;
      const sink = new SplunkSink({ ...rest, token: standIn.token, stateDir: join(dir, `splunk-${variant.name.replace(/\W+/g, '-')}`) }, () => undefined);
      const seconds = await run(sink, records);
      rows.push(`| ${variant.name} | ${seconds.toFixed(2)} | ${Math.round(records.length / seconds)} | ${sink.stats.sent} sent, ${sink.stats.acknowledged} acknowledged, ${sink.stats.resent} resent |`);
      await sink.close();
    } finally {
      standIn.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const bytes = records.reduce((n, r) => n + JSON.stringify(r).length, 0);
say('## Events per second into the HEC stand-in');
say();
say(`${records.length} event records (${sessions} synthetic sessions, every event type; ${(bytes / 1e6).toFixed(1)} MB as JSON), handed to the sink ${batch} at a time as the consumer does; requests of at most 900,000 bytes; ack queries start 50 ms after the last post. The stand-in (not Splunk) runs as its own Node process on 127.0.0.1 and acknowledges at the first query.`);
say();
say('| sink | seconds | events/s | delivery |');
say('|---|---:|---:|---|');
for (const r of rows) say(r);
console.log(out.join('\n'));
