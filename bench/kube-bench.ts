/**
 * Kubernetes front door benchmark, same run and same API server for both rows:
 *   1. REST: sequential `GET pods/<name>` over a kept-alive connection, direct vs through the gateway (p50, p99).
 *   2. exec stdout throughput: `head -c N /dev/zero` in the pod over WebSocket v5, direct vs through the
 *      gateway with recording on (every byte recorded).
 * The API server is the real one when kube.env is sourced (tests/services/kube.sh), else the stand-in.
 *
 *   node --import tsx bench/kube-bench.ts            (bench/kube.sh runs it and writes the result)
 * The gateway runs in a child process of its own (`gateway` argument), so client and gateway do not share a CPU loop.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const EXEC_MB = Number(process.env.BENCH_EXEC_MB ?? 100);
const RECORDING = process.env.BENCH_RECORDING ?? 'strict';
/** A directory for the gateway child's `node --cpu-prof` profile (bench/cpu-profile-summary.ts reads it). */
const PROFILE_DIR = process.env.BENCH_CPU_PROF;

interface Backend {
  kind: string;
  url: string;
  ca: Buffer;
  credential: { cert?: Buffer; key?: Buffer; token?: string };
  target: Record<string, unknown>;
  stop(): Promise<void>;
}

async function backend(dir: string): Promise<Backend> {
  const { readFileSync } = await import('node:fs');
  const e = process.env;
  if (e.KUBE_APISERVER_URL) {
    return {
      kind: `real kube-apiserver ${e.KUBE_VERSION} + kwok`,
      url: e.KUBE_APISERVER_URL,
      ca: readFileSync(e.KUBE_CA_FILE!),
      credential: { cert: readFileSync(e.KUBE_ADMIN_CERT!), key: readFileSync(e.KUBE_ADMIN_KEY!) },
      target: { kind: 'kubernetes', server: e.KUBE_APISERVER_URL, caFile: e.KUBE_CA_FILE, clientCertFile: e.KUBE_GATEWAY_CERT, clientKeyFile: e.KUBE_GATEWAY_KEY },
      stop: async () => undefined,
    };
  }
  const { KubeStandIn } = await import('../tests/services/kube-standin.js');
  const s = await KubeStandIn.start();
  writeFileSync(join(dir, 'ca.crt'), s.ca);
  return { kind: 'kube-apiserver STAND-IN (tests/services/kube-standin.ts)', url: s.url, ca: Buffer.from(s.ca), credential: { token: 'x' }, target: { kind: 'kubernetes', server: s.url, caFile: join(dir, 'ca.crt'), token: 'x' }, stop: () => s.stop() };
}

/** The child: a gateway with one kubernetes target; prints {port, cert, token} on its IPC channel. */
async function runGateway(): Promise<void> {
  const [dir, targetJson, recording] = process.argv.slice(3);
  const { validateConfig } = await import('../services/config/load.js');
  const { DevIssuer } = await import('../services/dev/dev-issuer.js');
  const { Gateway } = await import('../services/gateway/gateway.js');
  const issuer = await DevIssuer.openOrCreate(dir!);
  const config = validateConfig({
    dataDir: dir,
    postgres: { listen: { host: '127.0.0.1', port: 0 } },
    kubernetes: { listen: { host: '127.0.0.1', port: 0 } },
    targets: { cluster: JSON.parse(targetJson!) },
    recording: { mode: recording },
    policy: { rules: [{ name: 'bench', issuers: ['dev'], subject: '**', targets: ['cluster'], rights: ['all'], kubeGroups: ['trailgate:jobs'] }] },
  });
  const gw = await Gateway.start({ config, extraIssuers: [{ config: { ...issuer.issuerConfig(), tokenReuse: 'any' }, jwks: issuer.jwks() }] });
  const { readFileSync } = await import('node:fs');
  process.send!({ port: gw.kube!.address.port, cert: readFileSync(gw.kube!.certFile, 'utf8'), token: await issuer.mint({ repository: 'acme/bench' }) });
  process.on('message', (m) => {
    // CPU time is what the shared machine's load moves least: the parent reads it around each row
    if (m === 'cpu') {
      // with a profile: the mark's time in the profile's clock, for bench/cpu-profile-summary.ts <start> <end>
      if (process.execArgv.includes('--cpu-prof')) console.error(`profile mark ${process.hrtime.bigint() / 1000n}`);
      process.send!(process.cpuUsage());
    }
    else void gw.stop().then(() => process.exit(0));
  });
}

/** The gateway child's CPU seconds so far, user and system (loopback TCP and TLS syscalls count as system). */
function gatewayCpu(child: ChildProcess): Promise<Cpu> {
  return new Promise((resolve) => {
    child.once('message', (m) => {
      const u = m as NodeJS.CpuUsage;
      resolve({ user: u.user / 1e6, system: u.system / 1e6 });
    });
    child.send('cpu');
  });
}

interface Cpu {
  user: number;
  system: number;
}
const minus = (a: Cpu, b: Cpu): Cpu => ({ user: a.user - b.user, system: a.system - b.system });
const total = (c: Cpu): number => c.user + c.system;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function restLatency(base: string, path: string, tls: https.AgentOptions, headers: Record<string, string>, warm?: () => Promise<void>): Promise<{ p50: number; p99: number }> {
  const agent = new https.Agent({ ...tls, keepAlive: true, maxSockets: 1 });
  const get = () =>
    new Promise<void>((resolve, reject) => {
      const req = https.get(`${base}${path}`, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
    });
  for (let i = 0; i < 50; i++) await get();
  await warm?.();
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t = process.hrtime.bigint();
    await get();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
}

async function execThroughput(base: string, path: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }, headers: Record<string, string>): Promise<number> {
  const bytes = EXEC_MB * 1024 * 1024;
  const q = new URLSearchParams([['command', 'head'], ['command', '-c'], ['command', String(bytes)], ['command', '/dev/zero'], ['stdout', 'true'], ['stderr', 'true']]);
  const url = `${base.replace('https://', 'wss://')}${path}?${q}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], { ...tls, headers, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    let got = 0;
    let t0 = 0n;
    ws.on('open', () => {
      t0 = process.hrtime.bigint();
    });
    ws.on('message', (d: Buffer) => {
      if (d[0] === 1) got += d.length - 1;
    });
    ws.on('close', () => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      if (got !== bytes) reject(new Error(`exec delivered ${got} of ${bytes} bytes`));
      else resolve(bytes / 1e6 / secs);
    });
    ws.on('error', reject);
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'trailgate-kube-bench-'));
  const b = await backend(dir);
  const child = fork(new URL(import.meta.url).pathname, ['gateway', dir, JSON.stringify(b.target), RECORDING], { execArgv: ['--import', 'tsx', ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [])] });
  const gw = await new Promise<{ port: number; cert: string; token: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as never));
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}`)));
  });
  const pod = process.env.BENCH_POD ?? 'web-0';
  const podPath = `/api/v1/namespaces/default/pods/${pod}`;
  const direct = { base: b.url, tls: { ca: b.ca, ...(b.credential.cert ? { cert: b.credential.cert, key: b.credential.key } : {}) }, headers: b.credential.token ? { authorization: `Bearer ${b.credential.token}` } : ({} as Record<string, string>) };
  const through = { base: `https://127.0.0.1:${gw.port}/cluster`, tls: { ca: Buffer.from(gw.cert) }, headers: { authorization: `Bearer ${gw.token}` } };
  const restDirect = await restLatency(direct.base, podPath, direct.tls, direct.headers);
  // The gateway's CPU from after the warm-up requests (its first requests load modules) to the last GET.
  let cpu: Cpu = { user: 0, system: 0 };
  const restGw = await restLatency(through.base, podPath, through.tls, through.headers, async () => {
    cpu = await gatewayCpu(child);
  });
  const restCpu = minus(await gatewayCpu(child), cpu);
  const execDirect = await execThroughput(direct.base, `${podPath}/exec`, direct.tls, direct.headers);
  cpu = await gatewayCpu(child);
  const execGw = await execThroughput(through.base, `${podPath}/exec`, through.tls, through.headers);
  const execCpu = minus(await gatewayCpu(child), cpu);
  child.send('stop');
  await new Promise((r) => child.once('exit', r));
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
  const f = (n: number) => n.toFixed(3);
  console.log(`API server: ${b.kind}; gateway recording: ${RECORDING}\n`);
  console.log(`| REST GET pods/${pod} (${REQUESTS} sequential, kept alive) | p50 ms | p99 ms |`);
  console.log('|---|---|---|');
  console.log(`| direct | ${f(restDirect.p50)} | ${f(restDirect.p99)} |`);
  console.log(`| through the gateway | ${f(restGw.p50)} | ${f(restGw.p99)} |`);
  console.log(`| **added** | **${f(restGw.p50 - restDirect.p50)}** | ${f(restGw.p99 - restDirect.p99)} |\n`);
  const us = (c: number) => ((c / REQUESTS) * 1e6).toFixed(0);
  console.log(`Gateway CPU per GET (after 50 warm-up requests): ${us(total(restCpu))} us (user ${us(restCpu.user)}, system ${us(restCpu.system)})\n`);
  console.log(`| exec stdout, ${EXEC_MB} MiB (head -c in the pod, WebSocket v5) | MB/s | gateway CPU ms/MiB |`);
  console.log('|---|---|---|');
  console.log(`| direct | ${execDirect.toFixed(1)} | |`);
  const perMiB = (c: number) => ((c / EXEC_MB) * 1e3).toFixed(2);
  console.log(`| through the gateway, every byte recorded (${RECORDING}) | ${execGw.toFixed(1)} | ${perMiB(total(execCpu))} (user ${perMiB(execCpu.user)}, system ${perMiB(execCpu.system)}) |`);
  console.log(`\nGateway CPU ms/MiB is the load-independent figure: at that cost one core relays and records ${((1.048576 * EXEC_MB) / total(execCpu)).toFixed(0)} MB/s.`);
}

if (process.argv[2] === 'gateway') await runGateway();
else await main();
