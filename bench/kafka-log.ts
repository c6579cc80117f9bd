/**
 * Event log throughput and end-to-end lag: the gateway's recording path (SessionRecorder -> LogWriter
 * -> log sink) into the log, and a consumer with a null sink reading it through the consumer framework.
 *
 *   Kafka:    spool -> transactional drain -> Kafka -> consumer group -> null sink
 *   baseline: the embedded SQLite log -> embedded consumer -> null sink, in the same run
 *
 * Sessions record like strict mode does: each statement's event must be durable before the next one.
 * Each log runs twice: as fast as the sessions go (records per second), then paced to BENCH_RATE
 * records per second (end-to-end lag at that load). Durability is recording.fsync's on both logs.
 * Usage (bench/kafka.sh runs it): node --import tsx bench/kafka-log.ts
 *   (env: TG_KAFKA_BROKERS, BENCH_SECONDS, BENCH_SESSIONS, BENCH_RATE, BENCH_PACED_SECONDS, BENCH_FSYNC)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Consumer } from '../connectors/consumer/consumer.js';
import type { RecordSink } from '../connectors/consumer/record-sink.js';
import { EmbeddedLog } from '../connectors/embedded-log/embedded-log.js';
import { EmbeddedRecordSource } from '../connectors/embedded-log/embedded-consumer.js';
import { InlineLogSink, type LogSink } from '../connectors/embedded-log/log-sinks.js';
import { KafkaLogSink, type TransactionTiming } from '../connectors/kafka/kafka-log-sink.js';
import { KafkaRecordSource } from '../connectors/kafka/kafka-record-source.js';
import { newSessionId, type AuditRecord, type SessionContext } from '../events/index.js';
import { KafkaLogConfig } from '../services/config/schema.js';
import { LogWriter } from '../services/gateway/recorder/log-writer.js';
import { SessionRecorder, type CheckpointPolicy } from '../services/gateway/recorder/session-recorder.js';
import { Metrics } from '../services/metrics/metrics.js';
import { HeadSigner } from '../services/integrity/checkpoint-signer.js';
import { keysDir, loadOrCreateSigningKey } from '../services/integrity/signing-keys.js';
import { cpuSince, readCpu, type CpuReading } from './proc-cpu.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 16);
/** The paced phase: records per second in all, for so many seconds (lag at a given load, not at saturation). */
const RATE = Number(process.env.BENCH_RATE ?? 5000);
const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? 10);
/** 1: recording.fsync true (spool fdatasync per batch, SQLite synchronous=FULL); default the gateway's default, false. */
const FSYNC = process.env.BENCH_FSYNC === '1';
/** The Kafka broker's JVM (bench/kafka.sh passes it): its CPU counts against the Kafka path's records. */
/** Which logs run (`kafka,embedded` by default): one alone for A/B runs of CPU per record. */
const LOGS = (process.env.BENCH_LOGS ?? 'kafka,embedded').split(',');
const BROKER_PID = Number(process.env.BENCH_BROKER_PID ?? 0) || null;
const SQL = `select o.id, o.status, c.name from orders o join customers c on c.id = o.customer_id where o.created_at > now() - interval '1 day' and o.status = $1 -- ${'x'.repeat(60)}`;

/** A null sink that notes how long each record took from being recorded to being consumed. */
class TimingSink implements RecordSink {
  readonly streams = ['events', 'bytes'] as const;
  records = 0;
  /** Lags of the phase being measured; a new array starts each phase. */
  lags: number[] = [];
  constructor(readonly name: string) {}
  async write(records: readonly AuditRecord[]): Promise<{ deadLetters: [] }> {
    const now = Date.now();
    for (const r of records) {
      this.records++;
      if (r.stream === 'events' && r.type === 'command.started') this.lags.push(now - Date.parse(r.ts));
    }
    return { deadLetters: [] };
  }
}

interface Phase {
  recorded: number;
  events: number;
  statements: number;
  seconds: number;
  consumedAll: number;
  lagP50: number;
  lagP99: number;
  lagMax: number;
  /** CPU of this process (recording, log, drain and consumer) per 1000 records, ms: steadier than rates on a shared machine. */
  cpuPerK: number;
  /** CPU ms over the phase (from its start until everything was consumed) by where it went, and the phase's wall ms. */
  cpu: CpuReading;
  wallMs: number;
  /** Kafka only: from a batch being durable in the spool to its transaction committing in Kafka (p50 / p99 ms). */
  drainLag?: string;
  /** Kafka only: the drainer's transactions, their median steps and broker requests. */
  transactions?: string;
}

interface Result {
  log: string;
  /** As fast as the sessions go. */
  full: Phase;
  /** At RATE records per second in all. */
  paced: Phase;
}

let checkpoints: CheckpointPolicy;

async function runOne(name: string, sink: LogSink, source: (s: RecordSink) => Promise<Consumer['source']>, settle: () => Promise<void>): Promise<Result> {
  // The phase in the clock of a --cpu-prof profile (microseconds), for bench/cpu-profile-summary.ts.
  const phaseStart = process.hrtime.bigint() / 1000n;
  const writer = new LogWriter(sink, name);
  const null_ = new TimingSink(`bench-${Date.now()}`);
  const consumer = new Consumer(await source(null_), null_, new Metrics());
  const running = consumer.run();
  let recorded = 0;
  let events = 0;
  let drain = sink instanceof KafkaLogSink ? drainLagOf(sink) : null;
  writer.on('written', (records) => {
    drain?.written();
    recorded += records.length;
    events += records.filter((r) => r.stream === 'events').length;
  });

  /** Sessions record for SECONDS; with `statementsPerSecond` each paces itself to its share of it. */
  async function phase(seconds: number, statementsPerSecond: number | null): Promise<Phase> {
    const before = { recorded, events, consumed: null_.records };
    null_.lags = [];
    if (drain && sink instanceof KafkaLogSink) {
      drain.close();
      drain = drainLagOf(sink);
    }
    let statements = 0;
    const cpu0 = process.cpuUsage();
    const reading0 = readCpu(BROKER_PID);
    const t0 = process.hrtime.bigint();
    const deadline = Date.now() + seconds * 1000;
    const gap = statementsPerSecond ? (SESSIONS * 1000) / statementsPerSecond : 0;
    await Promise.all(
      Array.from({ length: SESSIONS }, async (_, n) => {
        const ctx: SessionContext = { sessionId: newSessionId(), instance: 'bench', protocol: 'postgres', target: { name: 'bench', kind: 'postgres' }, identity: null, client: { address: '127.0.0.1', port: 40000 + n } };
        const rec = new SessionRecorder(ctx, writer, { chunkBytes: 64 * 1024, chunkMillis: 200 }, checkpoints);
        rec.event('session.started', { protocol: 'postgres', tls: false, requested: { database: 'bench' } });
        let seq = 0;
        // Paced sessions start spread over one gap and keep to a schedule, not to a sleep after each statement.
        let next = Date.now() + (gap * n) / SESSIONS;
        while (Date.now() < deadline) {
          if (gap) {
            const wait = next - Date.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            next += gap;
          }
          const cmd = rec.event('command.started', { protocol: 'extended', text: SQL, parameters: [String(seq++)] });
          rec.bytes('client', Buffer.alloc(300, 1));
          await rec.durable();
          rec.bytes('server', Buffer.alloc(1200, 2));
          rec.event('command.completed', { commandSeq: cmd, outcome: 'ok', durationMs: 1, tags: ['SELECT 10'], rows: 10 });
          statements++;
        }
        rec.closeChunks();
        rec.event('session.ended', { reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0, commands: seq });
      }),
    );
    await writer.flush();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    await settle();
    const want = before.consumed + (recorded - before.recorded);
    const waitUntil = Date.now() + 300_000;
    while (null_.records < want && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 50));
    if (null_.records < want) throw new Error(`${name}: the consumer got ${null_.records - before.consumed} of ${recorded - before.recorded} records`);
    const consumedAll = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const spent = cpuSince(reading0, readCpu(BROKER_PID));
    const lags = null_.lags.sort((a, b) => a - b);
    const pct = (p: number) => lags[Math.min(lags.length - 1, Math.floor((lags.length * p) / 100))] ?? 0;
    return { recorded: recorded - before.recorded, events: events - before.events, statements, seconds: secs, consumedAll, lagP50: pct(50), lagP99: pct(99), lagMax: lags[lags.length - 1] ?? 0, cpuPerK: (cpu.user + cpu.system) / 1000 / ((recorded - before.recorded) / 1000), cpu: spent, wallMs: consumedAll * 1000, ...(drain ? { drainLag: drain.summary(), transactions: drain.transactions() } : {}) };
  }

  try {
    const full = await phase(SECONDS, null);
    // Records per statement as this run made them (events, byte chunks, checkpoints), to pace by records.
    const perStatement = full.recorded / Math.max(1, full.statements);
    const paced = await phase(PACED_SECONDS, RATE / perStatement);
    return { log: name, full, paced };
  } finally {
    await consumer.stop();
    await running.catch(() => undefined);
    await sink.close();
    console.error(`phase ${JSON.stringify(name)} ${phaseStart} ${process.hrtime.bigint() / 1000n}`);
  }
}

/** Where Kafka's lag builds: how long spooled batches wait for the drainer's committed transaction. */
function drainLagOf(kafka: KafkaLogSink) {
  const waiting: { end: number; at: number }[] = [];
  const lags: number[] = [];
  const txns: TransactionTiming[] = [];
  const onDrained = (position: number) => {
    const now = Date.now();
    while (waiting.length && waiting[0]!.end <= position) lags.push(now - waiting.shift()!.at);
  };
  const onTransaction = (t: TransactionTiming) => txns.push(t);
  kafka.on('drained', onDrained);
  kafka.on('transaction', onTransaction);
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return {
    written: () => waiting.push({ end: kafka.spool.endPosition, at: Date.now() }),
    summary: () => {
      const sorted = lags.sort((a, b) => a - b);
      const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
      return `${at(50)} / ${at(99)}`;
    },
    /** Transactions, and per transaction the median records and milliseconds of each step and the mean requests by API. */
    close: () => {
      kafka.off('drained', onDrained);
      kafka.off('transaction', onTransaction);
    },
    transactions: () => {
      const requests = new Map<string, number>();
      for (const t of txns) for (const [api, n] of Object.entries(t.requests)) requests.set(api, (requests.get(api) ?? 0) + n);
      const perTxn = [...requests].map(([api, n]) => `${api} ${(n / Math.max(1, txns.length)).toFixed(1)}`).join(', ');
      return `${txns.length} transactions; median ${median(txns.map((t) => t.records))} records, produce ${median(txns.map((t) => t.produceMs)).toFixed(1)} ms, spool position ${median(txns.map((t) => t.positionMs)).toFixed(1)} ms, commit ${median(txns.map((t) => t.commitMs)).toFixed(1)} ms; requests per transaction: ${perTxn}`;
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'trailgate-bench-'));
const results: Result[] = [];
try {
  // Chained records and signed checkpoints with the gateway's defaults.
  checkpoints = { signer: new HeadSigner(await loadOrCreateSigningKey(keysDir(dir))), every: 1000, millis: 10_000 };
  const brokers = (process.env.TG_KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  if (LOGS.includes('kafka')) {
    if (!brokers.length) throw new Error('TG_KAFKA_BROKERS is not set: run bench/kafka.sh, which starts a broker');
    const config = KafkaLogConfig.parse({ brokers, topicPrefix: `bench${Date.now()}`, partitions: 6, replicationFactor: 1 });
    // As the gateway opens it: the spool's fsync follows recording.fsync.
    const kafka = await KafkaLogSink.open({ config, instance: 'bench', spoolDir: join(dir, 'spool'), metrics: new Metrics(), recordingFsync: FSYNC, ...(process.env.BENCH_LINGER_MS ? { lingerMs: Number(process.env.BENCH_LINGER_MS) } : {}) });
    results.push(await runOne(`kafka (spool${FSYNC ? ' fdatasync per batch' : ''} + transactions)`, kafka, (s) => KafkaRecordSource.create(config, s, 1000), () => kafka.drained(300_000)));
  }

  if (LOGS.includes('embedded')) {
    const file = join(dir, 'trailgate.db');
    const log = new EmbeddedLog(file, { synchronous: FSYNC ? 'full' : 'normal' });
    results.push(await runOne(`embedded SQLite, synchronous=${FSYNC ? 'FULL' : 'NORMAL'} (baseline)`, new InlineLogSink(log), async (s) => new EmbeddedRecordSource(file, s, { batchSize: 1000 }), async () => undefined));
    log.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const row = (r: Result, p: Phase, what: string) =>
  `| ${r.log} | ${what} | ${SESSIONS} | ${p.recorded} | ${Math.round(p.recorded / p.seconds)} | ${Math.round(p.events / p.seconds)} | ${p.consumedAll.toFixed(1)} | ${p.lagP50} / ${p.lagP99} / ${p.lagMax} | ${p.drainLag ?? '-'} | ${p.cpuPerK.toFixed(1)} |`;
const lines = [
  `| log | phase | sessions | records | recorded records/s | events/s | all consumed after (s) | end-to-end lag p50 / p99 / max (ms) | of which spool to Kafka commit p50 / p99 (ms) | CPU ms per 1000 records |`,
  `|---|---|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ...results.map((r) => row(r, r.full, 'as fast as it goes')),
  ...results.map((r) => row(r, r.paced, `paced to ${RATE} records/s`)),
];
// Where the machine's CPUs went in each phase, in cores (CPU seconds per second of the phase) and per 1000 records.
const cores = (ms: number | null, p: Phase) => (ms === null ? '-' : (ms / p.wallMs).toFixed(2));
const perK = (ms: number | null, p: Phase) => (ms === null ? '-' : (ms / (p.recorded / 1000)).toFixed(1));
const cpuRow = (r: Result, p: Phase, what: string) => {
  const { bench, main, others, broker, machineBusy, machineTotal } = p.cpu;
  const rest = machineBusy - bench - (broker ?? 0);
  return `| ${r.log} | ${what} | ${(p.wallMs / 1000).toFixed(1)} | ${cores(bench, p)} (${perK(bench, p)}) | ${cores(main, p)} (${perK(main, p)}) | ${cores(others, p)} (${perK(others, p)}) | ${cores(broker, p)} (${perK(broker, p)}) | ${cores(rest, p)} | ${cores(machineTotal - machineBusy, p)} |`;
};
lines.push(
  '',
  'Where the CPUs went, from the phase start until everything was consumed: cores busy (CPU seconds per second), and in brackets CPU ms per 1000 records. The bench process is the gateway\'s recording path, the log sink (spool and drainer, or SQLite) and the consumer with its null sink; its main thread is the event loop all of them share, its other threads libuv\'s pool, V8\'s compiler and GC helpers and the embedded log\'s writer. The broker is the Kafka JVM (idle during the embedded phases). "Rest of the machine" is everything else that ran (other users of a shared machine).',
  '',
  `| log | phase | wall s | bench process | of which main thread | of which other threads | Kafka broker | rest of the machine | idle |`,
  `|---|---|---:|---:|---:|---:|---:|---:|---:|`,
  ...results.map((r) => cpuRow(r, r.full, 'as fast as it goes')),
  ...results.map((r) => cpuRow(r, r.paced, `paced to ${RATE} records/s`)),
);
const kafkaResult = results.find((r) => r.log.startsWith('kafka'));
const baseline = results.find((r) => r.log.startsWith('embedded'));
if (kafkaResult && baseline) lines.push('', `Kafka / embedded records per second (as fast as it goes): ${(kafkaResult.full.recorded / kafkaResult.full.seconds / (baseline.full.recorded / baseline.full.seconds)).toFixed(2)}`);
if (kafkaResult?.full.transactions) lines.push('', `Drainer, as fast as it goes: ${kafkaResult.full.transactions}`, '', `Drainer, paced: ${kafkaResult.paced.transactions}`);
console.log(lines.join('\n'));
