// Opens N authenticated sessions through one server process (the gateway or PgBouncer), proves each
// usable with SELECT 1, holds them idle and reads the process's memory before, with and after them.
// Driven by bench/idle-sessions.sh; prints one JSON object. Env: IDLE_HOST, IDLE_PORT, IDLE_USER,
// IDLE_DB, IDLE_PASSWORD, IDLE_SESSIONS, IDLE_PID (the measured process), IDLE_PROBE_FILE (the file
// bench/memory-probe.mjs writes when the process is a Node one), IDLE_CONCURRENCY (connects in flight).
import { readFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

const env = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') throw new Error(`TG_BENCH_USAGE: set ${name}`);
  return v;
};
const host = env('IDLE_HOST', '127.0.0.1');
const port = Number(env('IDLE_PORT'));
const user = env('IDLE_USER');
const database = env('IDLE_DB');
const password = env('IDLE_PASSWORD');
const sessions = Number(env('IDLE_SESSIONS', '2000'));
const pid = Number(env('IDLE_PID'));
const probeFile = process.env.IDLE_PROBE_FILE;
const concurrency = Number(env('IDLE_CONCURRENCY', '16'));
const settleMs = Number(env('IDLE_SETTLE_MS', '3000'));

interface Sample {
  rssKiB: number;
  anonKiB: number;
  fileKiB: number;
  heap?: { heapUsed: number; heapTotal: number; external: number; arrayBuffers: number; spaces: Record<string, number>; gc: boolean; snapshot?: string };
}

/** VmRSS and its anonymous/file parts from /proc, in KiB. */
function procMemory(): Omit<Sample, 'heap'> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), anonKiB: kib('RssAnon'), fileKiB: kib('RssFile') };
}

let probes = 0;
/** Asks bench/memory-probe.mjs in the process for a post-GC heap reading; bounded wait. */
async function heapOf(): Promise<Sample['heap']> {
  if (!probeFile) return undefined;
  probes += 1;
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 1200; i++) {
    if (existsSync(probeFile)) {
      const got = JSON.parse(readFileSync(probeFile, 'utf8')) as NonNullable<Sample['heap']> & { n: number };
      if (got.n === probes) return got;
    }
    await sleep(100);
  }
  throw new Error(`TG_BENCH_PROBE: no heap reading from pid ${pid} in 120 s; was it started with --import bench/memory-probe.mjs?`);
}

async function sample(wait = settleMs): Promise<Sample> {
  await sleep(wait);
  const heap = await heapOf(); // after its GC, so RSS is read after it too
  return { ...procMemory(), heap };
}

const lost: string[] = [];
async function open(): Promise<pg.Client> {
  const c = new pg.Client({ host, port, user, database, password, ssl: false, connectionTimeoutMillis: 120_000 });
  // A session the server drops while idle is counted, not fatal: the count held is measured again at the end.
  c.on('error', (err) => lost.push(err.message));
  await c.connect();
  const r = await c.query('SELECT 1 AS one');
  if (r.rows[0]?.one !== 1) throw new Error('TG_BENCH_SESSION: SELECT 1 did not answer 1');
  return c;
}

/** Opens up to n sessions; stops at the first that fails and says why, keeping those already open. */
async function openMany(n: number): Promise<{ clients: pg.Client[]; failure?: string }> {
  const out: pg.Client[] = [];
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < n && failed === undefined) {
      next += 1;
      try {
        out.push(await open());
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return failed === undefined ? { clients: out } : { clients: out, failure: `session ${out.length + 1} of ${n} failed: ${(failed as Error).message}` };
}

// Warm-up: the first sessions load code and fill caches the process keeps regardless of count.
const warm = await openMany(Math.min(20, sessions));
if (warm.failure) throw new Error(`TG_BENCH_SESSION: warm-up ${warm.failure}`);
await Promise.all(warm.clients.map((c) => c.end()));
const before = await sample();
const t0 = process.hrtime.bigint();
const { clients, failure } = await openMany(sessions);
const openSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
const held = await sample();
// Heap snapshots (bench/memory-probe.mjs, readings 3 and 4 with BENCH_HEAP_SNAPSHOT=1) only after the RSS was read: they allocate.
const snapshot = process.env.IDLE_SNAPSHOT === '1' ? (await heapOf())?.snapshot : undefined;
// Every session must still answer after the idle period: an idle session that died is not held.
const answered = (await Promise.allSettled(clients.map((c) => c.query('SELECT 1')))).filter((r) => r.status === 'fulfilled').length;
await Promise.allSettled(clients.map((c) => c.end()));
// Longer: a loaded gateway takes seconds to handle 2,000 closes (strict recording of each end).
const after = await sample(Number(env('IDLE_AFTER_SETTLE_MS', '20000')));
console.log(JSON.stringify({ sessions, opened: clients.length, answered, failure, lost: lost.slice(0, 5), lostCount: lost.length, openSeconds, before, held, after, snapshot }));
