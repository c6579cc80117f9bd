/**
 * Sentinel sink benchmark against the Logs Ingestion STAND-IN (tests/services/sentinel-standin.ts),
 * which runs in a child process of its own over HTTPS on 127.0.0.1. Rows per second for:
 *  - baseline: the Azure SDK alone (`LogsIngestionClient.upload` through LogsIngestionService) on rows
 *    encoded beforehand, so what the sink adds on top is visible;
 *  - the SentinelSink: encoding, field limits, bookkeeping and the same SDK, in batches as the
 *    consumer framework hands them.
 * Prints a Markdown results section on stdout.
 */
import { fork } from 'node:child_process';
import type { Row } from '../connectors/sentinel/columns.js';
import { encodeRow } from '../connectors/sentinel/encoder.js';
import { LogsIngestionService } from '../connectors/sentinel/service.js';
import { SentinelSink } from '../connectors/sentinel/sink.js';
import { SentinelStandIn } from '../tests/services/sentinel-standin.js';
import { sentinelConfig, startStandIn } from '../tests/support/sentinel-env.js';
import { syntheticSession } from '../tests/support/synthetic-records.js';

if (process.argv[2] === 'stand-in') {
  const standIn = await startStandIn();
  // Keeps counts only: a benchmark of millions of rows should not measure the stand-in's memory.
  standIn.received.push = () => 0;
  process.send!({ url: standIn.url, caFile: standIn.caFile });
  process.on('disconnect', () => void standIn.stop().then(() => process.exit(0)));
} else {
  const sessions = Number(process.env.BENCH_SESSIONS ?? 2000);
  const batch = Number(process.env.BENCH_BATCH ?? 1000);
  const child = fork(import.meta.filename, ['stand-in'], { execArgv: ['--import', 'tsx'] });
  const where = await new Promise<{ url: string; caFile: string }>((resolve) => child.once('message', (m) => resolve(m as { url: string; caFile: string })));
  const config = sentinelConfig({ url: where.url, caFile: where.caFile } as SentinelStandIn, { maxConcurrency: 2 });
  const records = Array.from({ length: sessions }, () => syntheticSession()).flat();
  const rows: Row[] = records.map((r) => {
    const e = encodeRow(r, config);
    if (e.kind !== 'row') throw new Error('every synthetic record is a row');
    return e.row;
  });
  const bytes = rows.reduce((n, r) => n + JSON.stringify(r).length, 0);
  const service = new LogsIngestionService(config);
  await service.upload(rows.slice(0, 100)); // token and connection, outside the timing

  const time = async (fn: () => Promise<void>) => {
    const t0 = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  const baseline = await time(async () => {
    for (let i = 0; i < rows.length; i += batch) {
      const failures = await service.upload(rows.slice(i, i + batch));
      if (failures.length) throw new Error(`baseline upload failed: ${failures[0]!.message}`);
    }
  });
  const sink = new SentinelSink(service, config);
  const sinkSeconds = await time(async () => {
    for (let i = 0; i < records.length; i += batch) await sink.write(records.slice(i, i + batch));
  });
  child.disconnect();
  const line = (what: string, s: number) => `| ${what} | ${s.toFixed(2)} | ${Math.round(rows.length / s)} |`;
  console.log(`## Rows per second into the Logs Ingestion stand-in

${rows.length} rows (${sessions} synthetic sessions, every event type; ${(bytes / 1e6).toFixed(1)} MB as JSON before gzip), in uploads of ${batch} rows, SDK maxConcurrency ${config.maxConcurrency}, gzip, HTTPS on 127.0.0.1, the stand-in in its own process.

| path | seconds | rows/s |
|---|---:|---:|
${line('baseline: the Azure SDK alone on encoded rows', baseline)}
${line('SentinelSink (encode, limit, track, SDK)', sinkSeconds)}

Sink stats: ${JSON.stringify(sink.stats)}.`);
}
