/**
 * The soak's driver (run by bench/soak.sh, which starts the services): two deployments side by side,
 * `trailgate up` on the embedded log (gateway, indexer into OpenSearch, Splunk forwarder to the HEC
 * stand-in, replay) and the roles on Kafka (gateway, indexer, forwarder, replay with its store), under
 * a steady mix of Postgres and SSH sessions for SOAK_MINUTES. Each minute it samples every process
 * (RSS, live heap after a forced collection, event-loop delay through bench/soak-probe.mjs, open files
 * from /proc) and each log's
 * consumer lag; at the end it lets the consumers catch up and runs `trailgate verify --all` on both.
 * Prints the Markdown rows; soak.sh writes them into bench/results.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { DevIssuer } from '../services/dev/dev-issuer.js';
import { HecStandIn } from '../tests/services/hec-standin.js';
import { OpenSsh } from '../tests/support/openssh.js';
import { kafkaLog } from '../tests/support/kafka-env.js';
import { postgresService, sshService } from '../tests/support/test-env.js';
import { CLI } from '../tests/support/trailgate-up.js';

const exec = promisify(execFile);
const minutes = Number(process.env.SOAK_MINUTES ?? 60);
const work = process.env.SOAK_WORK!;
const probeDir = join(work, 'probe');
mkdirSync(probeDir, { recursive: true });

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const children: { name: string; child: ChildProcess }[] = [];
function startRole(name: string, config: string, args: string[], ready: RegExp): Promise<void> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', new URL('./soak-probe.mjs', import.meta.url).href, CLI, '--config', config, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TG_SOAK_PROBE_DIR: probeDir, TG_SOAK_PROBE_MS: '10000', TG_SOAK_GC_MS: '60000' },
  });
  children.push({ name, child });
  let out = '';
  const logFile = join(work, `${name}.log`);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${out}`)), 180_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      writeFileSync(logFile, out.slice(-200_000));
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      errors.push(`${name} exited with ${code}`);
      reject(new Error(`${name} exited with ${code}:\n${out}`));
    });
  });
}

interface Probe {
  rss: number;
  heapUsed: number;
  /** The heap in use right after the probe's last forced collection (once a minute). */
  liveHeap?: number;
  loopP99Ms: number;
  loopMaxMs: number;
}

function readProbe(pid: number | undefined): Probe | null {
  try {
    return JSON.parse(readFileSync(join(probeDir, `${pid}.json`), 'utf8')) as Probe;
  } catch {
    return null; // not written yet
  }
}

const errors: string[] = [];
const counts = { pgSessions: 0, sshSessions: 0, statements: 0 };
const series: { minute: number; process: string; rss: number; heapUsed: number }[] = [];
const lagSeries: { minute: number; lags: Record<string, number> }[] = [];

/**
 * The bounds a soak must stay within to call memory and lag flat: per process, the median RSS (heap) of
 * the last third of the minutes may exceed that of the first third (minute 0, the start, left out) by
 * at most the larger of the absolute and the relative bound; every consumer's lag stays under its bound
 * at every sample (records written in the last minute and not yet read; the catch-up at the end is checked apart).
 */
const BOUNDS = { rssMB: 24, rssShare: 0.15, heapMB: 8, heapShare: 0.15, lagRecords: 5000 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Whether memory and consumer lag stayed flat within BOUNDS, with one line per process and the worst lag. */
function flatness(mem: typeof series, lag: typeof lagSeries): { memoryFlat: boolean; lagFlat: boolean; bounds: typeof BOUNDS; lines: string[] } {
  const lines: string[] = [];
  let memoryFlat = true;
  const minutes = [...new Set(mem.map((s) => s.minute))].filter((m) => m > 0).sort((a, b) => a - b);
  const third = Math.max(1, Math.floor(minutes.length / 3));
  const early = new Set(minutes.slice(0, third));
  const late = new Set(minutes.slice(-third));
  for (const name of [...new Set(mem.map((s) => s.process))]) {
    const of = (set: Set<number>, key: 'rss' | 'heapUsed') => median(mem.filter((s) => s.process === name && set.has(s.minute)).map((s) => s[key] / 1048576));
    const [rss0, rss1, heap0, heap1] = [of(early, 'rss'), of(late, 'rss'), of(early, 'heapUsed'), of(late, 'heapUsed')];
    const rssOk = minutes.length >= 3 && rss1 - rss0 <= Math.max(BOUNDS.rssMB, rss0 * BOUNDS.rssShare);
    const heapOk = minutes.length >= 3 && heap1 - heap0 <= Math.max(BOUNDS.heapMB, heap0 * BOUNDS.heapShare);
    memoryFlat &&= rssOk && heapOk;
    lines.push(`- ${name}: RSS ${rss0.toFixed(0)} -> ${rss1.toFixed(0)} MB (${rssOk ? 'flat' : 'GROWING'}), heap ${heap0.toFixed(0)} -> ${heap1.toFixed(0)} MB (${heapOk ? 'flat' : 'GROWING'}) (medians of minutes ${[...early].join(',')} and ${[...late].join(',')})`);
  }
  if (minutes.length < 3) lines.push('- fewer than 3 sampled minutes after the start: too short to judge memory (run at least 3 minutes)');
  let worst = { consumer: '-', lag: 0, minute: 0 };
  for (const s of lag) for (const [consumer, n] of Object.entries(s.lags)) if (n > worst.lag) worst = { consumer, lag: n, minute: s.minute };
  const lagFlat = worst.lag <= BOUNDS.lagRecords;
  lines.push(`- consumer lag: worst ${worst.lag} records (${worst.consumer}, minute ${worst.minute}); bound ${BOUNDS.lagRecords} (${lagFlat ? 'flat' : 'OVER'})`);
  return { memoryFlat: memoryFlat && minutes.length >= 3, lagFlat, bounds: BOUNDS, lines };
}

async function main(): Promise<void> {
  const issuer = await DevIssuer.openOrCreate(work);
  writeFileSync(join(work, 'jwks.json'), JSON.stringify(issuer.jwks()));
  const p = postgresService();
  const sshd = sshService();
  const hec = await HecStandIn.start();
  const hecToken = hec.addToken();
  writeFileSync(join(work, 'hec.token'), `${hecToken}\n`);
  const common = {
    identity: { issuers: [{ ...issuer.issuerConfig(), tokenReuse: 'any', jwksFile: join(work, 'jwks.json') }] },
    targets: {
      app: { host: p.host, port: p.port, database: p.database, user: p.appUser, password: { env: 'TG_PG_APP_PASSWORD' } },
      web: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user, privateKey: { file: sshd.keyFile }, hostKey: readFileSync(sshd.hostKeyFile, 'utf8') },
    },
    policy: { rules: [{ name: 'soak', issuers: ['dev'], subject: '**', targets: ['*'], rights: ['all'] }] },
    search: { product: 'opensearch', url: process.env.TG_OPENSEARCH_URL, namespace: `soak_${Date.now().toString(36)}`, replicas: 0 },
    splunk: { url: hec.url, token: { file: join(work, 'hec.token') }, ackPollMs: 500 },
  };
  const deployments: { name: string; config: string; pgPort: number; sshPort: number; dataDir: string }[] = [];
  for (const name of ['embedded', 'kafka'] as const) {
    const dataDir = join(work, name);
    mkdirSync(dataDir, { recursive: true });
    const pgPort = await freePort();
    const sshPort = await freePort();
    const config = join(work, `${name}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        ...common,
        dataDir,
        instance: `soak-${name}`,
        postgres: { listen: { host: '127.0.0.1', port: pgPort } },
        ssh: { listen: { host: '127.0.0.1', port: sshPort } },
        replay: { listen: { host: '127.0.0.1', port: await freePort() } },
        ...(name === 'kafka' ? { log: kafkaLog(`soak${Date.now().toString(36)}`) } : {}),
      }),
    );
    deployments.push({ name, config, pgPort, sshPort, dataDir });
  }
  const [embedded, kafka] = deployments as [(typeof deployments)[0], (typeof deployments)[0]];
  await startRole('up', embedded.config, ['up'], /try it:|postgres\s+127/);
  await startRole('gateway', kafka.config, ['gateway'], /postgres\s+127\.0\.0\.1/);
  await Promise.all([
    startRole('indexer', kafka.config, ['indexer'], /is up/),
    startRole('forwarder', kafka.config, ['forwarder'], /is up/),
    startRole('replay', kafka.config, ['replay'], /is up|listening|http:\/\//),
  ]);

  const clients = deployments.map((d) => {
    const knownHosts = join(work, `${d.name}.known_hosts`);
    writeFileSync(knownHosts, `[127.0.0.1]:${d.sshPort} ${readFileSync(join(d.dataDir, 'ssh', 'ssh_host_ed25519_key.pub'), 'utf8')}`);
    return { d, ssh: new OpenSsh(d.sshPort, knownHosts) };
  });

  const pgSession = async (port: number) => {
    const c = new pg.Client({ host: '127.0.0.1', port, database: 'app', user: 'ci', password: await issuer.mint({ repository: 'acme/soak' }) });
    await c.connect();
    try {
      await c.query('begin');
      await c.query('create temp table soak (n int, t text) on commit drop');
      await c.query("insert into soak select g, repeat('x', 100) from generate_series(1, 200) g");
      await c.query('select sum(n), max(t) from soak');
      await c.query('commit');
      await c.query('select $1::int + 1 as next', [counts.pgSessions]);
      counts.statements += 6;
    } finally {
      await c.end();
    }
    counts.pgSessions++;
  };
  const sshSession = async (ssh: OpenSsh) => {
    const r = await ssh.ssh(['web@127.0.0.1', 'seq 1 200 | head -c 1200; echo done'], { token: await issuer.mint({ repository: 'acme/soak' }), timeoutMs: 60_000 });
    if (r.code !== 0 || !r.stdout.toString().includes('done')) throw new Error(`ssh exited ${r.code}: ${r.stderr.slice(0, 200)}`);
    counts.sshSessions++;
  };

  const samples: string[] = [];
  const sample = async (minute: number) => {
    const lagByConsumer: Record<string, number> = {};
    const lags: string[] = [];
    for (const d of deployments) {
      try {
        const { stdout } = await exec(process.execPath, [CLI, '--config', d.config, 'consumers', '--json'], { timeout: 60_000 });
        const rows = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { consumer: string; lag: string });
        lags.push(rows.map((r) => `${d.name}/${r.consumer} ${r.lag}`).join(', '));
        for (const r of rows) lagByConsumer[`${d.name}/${r.consumer}`] = Number(r.lag);
      } catch (err) {
        errors.push(`consumers on ${d.name}: ${(err as Error).message.slice(0, 200)}`);
      }
    }
    const procs = children.map(({ name, child }) => {
      const probe = readProbe(child.pid);
      let fds = NaN;
      try {
        fds = readdirSync(`/proc/${child.pid}/fd`).length;
      } catch {
        // exited
      }
      const mb = (n?: number) => (n === undefined ? '?' : (n / 1048576).toFixed(0));
      // The live heap, not heapUsed: that swings by 10-20 MB with the garbage not yet collected.
      const heap = probe?.liveHeap ?? probe?.heapUsed;
      if (probe && heap !== undefined) series.push({ minute, process: name, rss: probe.rss, heapUsed: heap });
      return `${name} ${mb(probe?.rss)}/${mb(heap)} MB ${fds} fds ${probe ? `${probe.loopP99Ms.toFixed(1)}/${probe.loopMaxMs.toFixed(0)} ms` : '?'}`;
    });
    lagSeries.push({ minute, lags: lagByConsumer });
    samples.push(`| ${minute} | ${counts.pgSessions} | ${counts.sshSessions} | ${errors.length} | ${procs.join('<br>')} | ${lags.join('<br>')} |`);
    console.error(`[soak] minute ${minute}: ${counts.pgSessions} pg, ${counts.sshSessions} ssh sessions, ${errors.length} errors`);
  };

  const end = Date.now() + minutes * 60_000;
  let nextSample = Date.now();
  let minute = 0;
  let i = 0;
  while (Date.now() < end) {
    if (Date.now() >= nextSample) {
      await sample(minute++);
      nextSample += 60_000;
    }
    const { d, ssh } = clients[i++ % clients.length]!;
    // Two Postgres sessions and one SSH session per round, concurrently.
    const round = await Promise.allSettled([pgSession(d.pgPort), pgSession(d.pgPort), sshSession(ssh)]);
    for (const r of round) if (r.status === 'rejected') errors.push(`${d.name}: ${(r.reason as Error).message.slice(0, 200)}`);
    await delay(250);
  }
  await sample(minute);

  // Caught up: bounded wait for every consumer's lag to reach (near) zero.
  const settle = Date.now() + 120_000;
  let caughtUp = false;
  while (!caughtUp && Date.now() < settle) {
    caughtUp = true;
    for (const d of deployments) {
      const { stdout } = await exec(process.execPath, [CLI, '--config', d.config, 'consumers', '--json']);
      const rows = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { lag: string });
      // On Kafka the lag counts transaction markers after the last record: at most two per partition.
      if (rows.some((r) => Number(r.lag) > (d.name === 'kafka' ? 6 : 0))) caughtUp = false;
    }
    if (!caughtUp) await delay(2000);
  }
  if (!caughtUp) errors.push('the consumers did not catch up within 120 s after the load stopped');
  const verdicts: string[] = [];
  for (const d of deployments) {
    // The gateway's last sessions are sealed before verify reads them.
    // The gateway's published keys (on Kafka the replay store holds none of its own).
    const jwks = join(d.dataDir, 'keys', 'jwks.json');
    const r = await exec(process.execPath, [CLI, '--config', d.config, 'verify', '--all', '--jwks', jwks], { maxBuffer: 64 * 1024 * 1024, timeout: 600_000 }).then(
      (x) => ({ code: 0, out: x.stdout }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: `${e.stdout}\n${e.stderr}` }),
    );
    const lines = r.out.trim().split('\n');
    const intact = lines.filter((l) => /\bintact\b/.test(l)).length;
    verdicts.push(`- ${d.name}: \`verify --all\` exit ${r.code}, ${intact} sessions intact; ${lines.filter((l) => !/\bintact\b/.test(l)).slice(0, 5).join(' / ')}`);
    if (r.code !== 0) errors.push(`verify on ${d.name} exited ${r.code}`);
  }
  console.log(JSON.stringify({ samples, verdicts, flatness: flatness(series, lagSeries), errors: errors.slice(0, 20), errorCount: errors.length, counts, hecEvents: hec.received.length }));
  await hec.stop();
}

main()
  .catch((err: Error) => {
    errors.push(err.message);
    console.log(JSON.stringify({ samples: [], verdicts: [], errors: errors.slice(0, 20), errorCount: errors.length, counts, fatal: err.message }));
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const { child } of children.reverse()) {
      if (child.exitCode !== null) continue;
      child.removeAllListeners('exit');
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, delay(40_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
