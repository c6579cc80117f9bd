/**
 * Whether a gateway keeps anything of sessions that have ended: one gateway in this process (embedded
 * log, or Kafka with CHURN_LOG=kafka) is sent rounds of short Postgres and SSH sessions; after each
 * round, once every session has ended and its records are written (on Kafka: delivered), it collects
 * garbage twice and reads the heap. A leak shows as heap growing with every round; what is held for a
 * while by design (token first uses until the token expires, a session's Kafka context for a minute
 * after its end) levels off. With CHURN_SNAPSHOT_DIR it writes heap snapshots after the first and the
 * last round, for bench/heap-snapshot-summary.mjs.
 *
 *   node --expose-gc --import tsx bench/session-churn.ts      (services: postgres, sshd; kafka for CHURN_LOG=kafka)
 *
 * Env: CHURN_ROUNDS (6), CHURN_SESSIONS per round (150), CHURN_SSH_EVERY (one SSH session per this many, 3),
 * CHURN_LOG (embedded | kafka), CHURN_SNAPSHOT_DIR. Prints one JSON object.
 */
import { writeHeapSnapshot } from 'node:v8';
import { setTimeout as delay } from 'node:timers/promises';
import { GatewayHarness } from '../tests/support/gateway-harness.js';
import { eventually, kafkaLog } from '../tests/support/kafka-env.js';

const rounds = Number(process.env.CHURN_ROUNDS ?? 6);
const perRound = Number(process.env.CHURN_SESSIONS ?? 150);
const sshEvery = Number(process.env.CHURN_SSH_EVERY ?? 3);
const onKafka = process.env.CHURN_LOG === 'kafka';
const snapshots = process.env.CHURN_SNAPSHOT_DIR;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('TG_BENCH_USAGE: run with node --expose-gc');

const h = await GatewayHarness.start({ ssh: true, devIssuer: { tokenReuse: 'any' }, ...(onKafka ? { log: kafkaLog() } : {}) });
const ssh = h.openssh();
const token = await h.token({ repository: 'acme/churn' });

async function pgSession(i: number): Promise<void> {
  const c = await h.client({ token });
  await c.query('begin');
  await c.query("create temp table churn (n int, t text) on commit drop");
  await c.query("insert into churn select g, repeat('x', 100) from generate_series(1, 200) g");
  await c.query('select sum(n), max(t) from churn');
  await c.query('commit');
  await c.query('select $1::int + 1 as next', [i]);
  await c.end();
}

async function sshSession(): Promise<void> {
  const r = await ssh.ssh(['web@127.0.0.1', 'seq 1 200 | head -c 1200; echo done'], { token, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ssh exited ${r.code}: ${r.stderr.slice(0, 200)}`);
}

async function settled(): Promise<void> {
  await eventually(() => h.gateway.postgres.activeSessions === 0 && (h.gateway.ssh?.listener.activeSessions ?? 0) === 0, 'every session to end', 60_000);
  await h.gateway.writer.flush();
  if (onKafka) await h.gateway.kafka!.drained();
}

function heap(): { heapUsed: number; rss: number; external: number } {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external };
}

const samples: { round: number; sessions: number; heapUsedMB: number; rssMB: number; externalMB: number; cpuSeconds: number }[] = [];
let sessions = 0;
const started = process.cpuUsage();
for (let round = 0; round <= rounds; round++) {
  if (round > 0) {
    // Four at a time, as a CI fleet would: three Postgres sessions for each SSH one by default.
    const work = Array.from({ length: perRound }, (_, i) => (i % sshEvery === 0 ? sshSession : () => pgSession(i)));
    for (let i = 0; i < work.length; i += 4) await Promise.all(work.slice(i, i + 4).map((f) => f()));
    sessions += perRound;
  }
  await settled();
  // Timers a session leaves (chunk and checkpoint timers) fire within a second of its end.
  await delay(1500);
  const m = heap();
  const cpu = process.cpuUsage(started);
  samples.push({ round, sessions, heapUsedMB: +(m.heapUsed / 1048576).toFixed(2), rssMB: +(m.rss / 1048576).toFixed(1), externalMB: +(m.external / 1048576).toFixed(2), cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(1) });
  console.error(`[churn] round ${round}: ${sessions} sessions, heap ${samples.at(-1)!.heapUsedMB} MB, rss ${samples.at(-1)!.rssMB} MB`);
  if (snapshots && (round === 1 || round === rounds)) writeHeapSnapshot(`${snapshots}/churn-${round}.heapsnapshot`);
}
await h.stop();
const first = samples[1]!;
const last = samples.at(-1)!;
const perSessionKiB = ((last.heapUsedMB - first.heapUsedMB) * 1024) / Math.max(1, last.sessions - first.sessions);
console.log(JSON.stringify({ log: onKafka ? 'kafka' : 'embedded', rounds, perRound, samples, heapKiBPerSessionAfterRound1: +perSessionKiB.toFixed(3) }));
process.exit(0);
