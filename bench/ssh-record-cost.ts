/**
 * What recording an SSH download costs the gateway per MiB, without SSH: the recorder, the log writer
 * and the embedded log (strict recording: the inline sink and its checkpoint thread), fed 32 KiB
 * channel-data buffers two per turn of the event loop as ssh2 delivers them from a 64 KiB socket read.
 *
 *   node --import tsx bench/ssh-record-cost.ts [MiB] [record|baseline]
 *
 * Env: BENCH_PARTS_PER_TURN (32 KiB buffers per turn, default 8: the gateway's turns carry several socket
 * reads), BENCH_CHUNK_BYTES (recording.chunkBytes, default 64 KiB), BENCH_SINK=threaded (async recording's
 * writer thread), BENCH_PAGE_SIZE (SQLite page size of the new log file).
 *
 * Prints one JSON line: process CPU (all threads) and main-thread CPU per MiB, write and read system
 * calls per MiB (/proc/self/io), wall time. `baseline` makes the same buffers and turns without
 * recording them, to subtract. Under callgrind the instruction count is the load-independent figure.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { EmbeddedLog } from '../connectors/embedded-log/embedded-log.js';
import { EMBEDDED_LOG_SCHEMA } from '../connectors/embedded-log/schema.js';
import { InlineLogSink, ThreadedLogSink } from '../connectors/embedded-log/log-sinks.js';
import { LogWriter } from '../services/gateway/recorder/log-writer.js';
import { SessionRecorder } from '../services/gateway/recorder/session-recorder.js';
import type { HeadSigner } from '../services/integrity/checkpoint-signer.js';

const MIB = Number(process.argv[2] ?? 100);
const mode = process.argv[3] ?? 'record';
const PART = 32 * 1024;
const PER_TURN = Number(process.env.BENCH_PARTS_PER_TURN ?? 8);
const context = { sessionId: '0190c0de-0000-7000-8000-00000000be01', instance: 'bench', protocol: 'ssh' as const, target: null, identity: null, client: { address: '127.0.0.1', port: 1 } };
// Signing is not what this measures: one checkpoint per 1,000 records.
const signer = { kid: 'k', sign: () => Promise.resolve('jws') } as unknown as HeadSigner;

function io(): { syscw: number; syscr: number } {
  const text = readFileSync('/proc/self/io', 'utf8');
  return { syscw: Number(/syscw: (\d+)/.exec(text)![1]), syscr: Number(/syscr: (\d+)/.exec(text)![1]) };
}

function mainThreadSeconds(): number {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The main thread's time waiting for a CPU (run queue), in ms: what load adds to wall time. */
function mainThreadWaitMs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
}

const dir = mkdtempSync(join(tmpdir(), 'ssh-record-cost-'));
// BENCH_PAGE_SIZE: a log file created with larger SQLite pages (the page size is fixed once the file has a table).
if (process.env.BENCH_PAGE_SIZE) {
  const db = new Database(join(dir, 'trailgate.db'));
  db.pragma(`page_size = ${Number(process.env.BENCH_PAGE_SIZE)}`);
  db.exec(EMBEDDED_LOG_SCHEMA);
  db.close();
}
const log = new EmbeddedLog(join(dir, 'trailgate.db'));
// BENCH_SINK=threaded: the log writer thread of async recording instead of strict recording's inline commits.
const threaded = process.env.BENCH_SINK === 'threaded';
const sink = threaded ? new ThreadedLogSink(join(dir, 'trailgate.db'), 'normal') : new InlineLogSink(log);
const writer = new LogWriter(sink, join(dir, 'trailgate.db'));
// The writer thread starts before the measurement does.
if (threaded) await sink.write([], []);
const recorder = new SessionRecorder(context, writer, { chunkBytes: Number(process.env.BENCH_CHUNK_BYTES ?? 64 * 1024), chunkMillis: 200 }, { signer, every: 1000, millis: 10_000 });
const pool = randomBytes(1024 * 1024);
const parts = (MIB * 1024 * 1024) / PART;

const cpu0 = process.cpuUsage();
const main0 = mainThreadSeconds();
const wait0 = mainThreadWaitMs();
const io0 = io();
const t0 = performance.now();
let sent = 0;
await new Promise<void>((resolve) => {
  const turn = () => {
    for (let i = 0; i < PER_TURN && sent < parts; i++, sent++) {
      // A fresh buffer per packet, as ssh2 hands out.
      const b = Buffer.allocUnsafe(PART);
      pool.copy(b, 0, (sent * PART) % pool.length, ((sent * PART) % pool.length) + PART);
      if (mode === 'record') recorder.bytes('server', b, 0);
    }
    if (sent < parts) setImmediate(turn);
    else resolve();
  };
  turn();
});
if (mode === 'record') {
  recorder.event('session.ended', { reason: 'bench' } as never);
  await writer.flush();
}
const t1 = performance.now();
const cpu = process.cpuUsage(cpu0);
const io1 = io();
const main = mainThreadSeconds() - main0;
const waited = mainThreadWaitMs() - wait0;
await sink.close();
log.close();
rmSync(dir, { recursive: true, force: true });
const perMiB = (x: number) => Math.round((x / MIB) * 100) / 100;
console.log(JSON.stringify({
  mode,
  mib: MIB,
  cpuMsPerMiB: perMiB((cpu.user + cpu.system) / 1000),
  userMsPerMiB: perMiB(cpu.user / 1000),
  systemMsPerMiB: perMiB(cpu.system / 1000),
  mainThreadMsPerMiB: perMiB(main * 1000),
  writeCallsPerMiB: perMiB(io1.syscw - io0.syscw),
  readCallsPerMiB: perMiB(io1.syscr - io0.syscr),
  wallMsPerMiB: perMiB(t1 - t0),
  mainThreadRunQueueMsPerMiB: perMiB(waited),
}));
