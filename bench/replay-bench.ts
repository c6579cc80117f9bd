/**
 * Replay benchmarks: how fast `trailgate cast` turns a 50 MB terminal session into asciicast, and
 * how long the session page takes to show the first frame of a one-hour cast in Chromium. Each has a
 * baseline measured in the same run. Writes a Markdown report to bench/results/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { EmbeddedLog } from '../connectors/embedded-log/embedded-log.js';
import { ReplayConfig } from '../services/config/replay-schema.js';
import { buildCast, castLines } from '../services/replay/cast.js';
import { EmbeddedReplaySource } from '../services/replay/embedded-source.js';
import { sha256 } from '../services/replay/server/principals.js';
import { startReplayServer } from '../services/replay/server/start.js';
import { sshSessionRecords, type TerminalStep } from '../tests/support/ssh-recording.js';

const WORK = join(process.cwd(), 'bench/.work/replay');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CAST_MB = Number(process.env.BENCH_CAST_MB ?? 50);
const chromiumPath = process.env.TG_CHROMIUM ?? '/usr/bin/chromium';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = (f: () => void) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};

/** Terminal output as a busy build prints it: colours, progress lines, multi-byte characters. */
function outputChunk(i: number, size: number): Buffer {
  const line = `\x1b[3${i % 7}m[${String(i).padStart(6, '0')}]\x1b[0m compiling module ✔ λ → 日本 progress ${i % 100}%\r\n`;
  return Buffer.from(line.repeat(Math.ceil(size / Buffer.byteLength(line))), 'utf8').subarray(0, size);
}

function writeSession(log: EmbeddedLog, steps: TerminalStep[], start: number): string {
  const built = sshSessionRecords(steps, { start });
  for (let i = 0; i < built.records.length; i += 5000) log.writeBatch(i === 0 ? [built.context] : [], built.records.slice(i, i + 5000));
  return built.context.sessionId;
}

/** 50 MB of output in chunks of 256 B to 64 KiB (the recorder's largest), split anywhere, even inside characters. */
function bigSessionSteps(totalBytes: number): TerminalStep[] {
  const steps: TerminalStep[] = [{ at: 0, open: { channel: 0, cols: 200, rows: 50, term: 'xterm-256color' } }];
  let written = 0;
  for (let i = 0; written < totalBytes; i++) {
    const size = Math.min(totalBytes - written, [256, 4096, 65536, 1500][i % 4]!);
    steps.push({ at: 10 + i * 20, output: outputChunk(i, size) });
    written += size;
  }
  return steps;
}

/** One hour of a shell: a line every 250 ms, a command marker every minute, a resize every ten. */
function hourSessionSteps(seconds: number): TerminalStep[] {
  const steps: TerminalStep[] = [{ at: 0, open: { channel: 0, cols: 120, rows: 40 } }];
  for (let ms = 250, i = 0; ms < seconds * 1000; ms += 250, i++) {
    if (i % 240 === 0) steps.push({ at: ms, command: `./step.sh ${i / 240}` });
    if (i % 2400 === 1200) steps.push({ at: ms, resize: { channel: 0, cols: i % 4800 === 1200 ? 100 : 120, rows: 40 } });
    steps.push({ at: ms, output: outputChunk(i, 120) });
  }
  return steps;
}

function machine(): string[] {
  const sh = (cmd: string) => {
    try {
      return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  return [
    `- CPUs: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB total, ${(freemem() / 2 ** 30).toFixed(1)} GiB free at start`,
    `- Kernel: ${sh('uname -r')}`,
    `- Node: ${process.version}`,
    `- Chromium: ${sh(`${chromiumPath} --version`)}`,
    `- Load average at start (1/5/15 min): ${loadavg().map((x) => x.toFixed(2)).join(' / ')}`,
  ];
}

async function main(): Promise<void> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const report: string[] = ['# Replay: cast build speed and time to first frame', '', `Run at ${new Date().toISOString()}, commit ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()}.`, '', '## Machine', '', ...machine(), ''];
  const file = join(WORK, 'trailgate.db');
  const log = new EmbeddedLog(file);
  const start = Date.parse('2026-11-20T10:00:00Z');
  const big = writeSession(log, bigSessionSteps(CAST_MB * 1024 * 1024), start);
  const hour = writeSession(log, hourSessionSteps(3600), start + 7_200_000);
  const short = writeSession(log, hourSessionSteps(10), start + 14_400_000);
  log.close();

  // 1. Cast build speed.
  const reader = new EmbeddedLog(file, { readonly: true });
  const rows: string[][] = [];
  let castBytes = 0;
  const samples = { read: [] as number[], decode: [] as number[], cast: [] as number[] };
  for (let run = 0; run < RUNS; run++) {
    let records = reader.readSession(big);
    samples.read.push(time(() => (records = reader.readSession(big))));
    // Baseline: the least any cast writer must do, decode every output byte once.
    samples.decode.push(
      time(() => {
        const d = new TextDecoder();
        let n = 0;
        for (const r of records) if (r.stream === 'bytes') n += d.decode(r.data, { stream: true }).length;
        if (n === 0) throw new Error('no output');
      }),
    );
    samples.cast.push(
      time(() => {
        castBytes = 0;
        for (const line of castLines(buildCast(big, records))) castBytes += line.length + 1;
      }),
    );
  }
  reader.close();
  const mb = CAST_MB;
  const rate = (ms: number) => `${((mb / ms) * 1000).toFixed(0)} MB/s`;
  rows.push(['read the session from the embedded log', `${median(samples.read).toFixed(0)}`, rate(median(samples.read))]);
  rows.push(['baseline: UTF-8 decode of every output byte', `${median(samples.decode).toFixed(0)}`, rate(median(samples.decode))]);
  rows.push(['build the cast and serialise it (asciicast v2)', `${median(samples.cast).toFixed(0)}`, rate(median(samples.cast))]);
  const config = join(WORK, 'cli.yaml');
  writeFileSync(config, `dataDir: ${WORK}\n`);
  const cli: number[] = [];
  for (let run = 0; run < Math.min(RUNS, 3); run++) cli.push(time(() => execFileSync(process.execPath, ['bin/trailgate.js', '--config', config, 'cast', big, '-o', '/dev/null'])));
  rows.push(['`trailgate cast` end to end (node start, read, build, write)', `${median(cli).toFixed(0)}`, rate(median(cli))]);
  report.push(
    `## Cast build on a ${mb} MB session`,
    '',
    `Session: ${mb} MiB of terminal output (ANSI colours, multi-byte UTF-8 split across chunks) in chunks of 256 B to 64 KiB; the cast is ${(castBytes / 2 ** 20).toFixed(1)} MiB of JSON. Median of ${RUNS} runs (${Math.min(RUNS, 3)} for the CLI). The load average is in the machine section: other work shares these 2 CPUs.`,
    '',
    '| step | ms | throughput |',
    '|---|---:|---:|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  );

  // 2. Time to first frame in Chromium.
  const token = 'bench-token';
  const source = new EmbeddedReplaySource(file);
  const replay = await startReplayServer({ source, config: ReplayConfig.parse({ listen: { host: '127.0.0.1', port: 0 }, users: [{ name: 'bench', roles: ['admin'], tokenSha256: sha256(token).toString('hex') }] }) });
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
  const frameRows: string[] = [];
  try {
    const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${token}` } });
    for (const [label, id] of [
      ['baseline: 10-second cast', short],
      ['one-hour cast', hour],
    ] as const) {
      let castSize = 0;
      const served: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const t = performance.now();
        castSize = (await (await fetch(`${replay.url}/api/sessions/${id}/cast`, { headers: { authorization: `Bearer ${token}` } })).text()).length;
        served.push(performance.now() - t);
      }
      const ready: number[] = [];
      const played: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const page = await context.newPage();
        await page.goto(`${replay.url}/sessions/${id}`);
        await page.waitForSelector('#player[data-state=ready]', { timeout: 120_000 });
        ready.push(await page.evaluate(() => performance.getEntriesByName('tg-player-first-frame')[0]!.startTime));
        played.push(
          await page.evaluate(async () => {
            const t = performance.now();
            const el = document.getElementById('player')!;
            await (window as unknown as { trailgatePlayer: { play(): Promise<unknown> } }).trailgatePlayer.play();
            for (let i = 0; i < 600 && el.dataset.state !== 'playing'; i++) await new Promise((resolve) => setTimeout(resolve, 5));
            return performance.now() - t;
          }),
        );
        await page.close();
      }
      frameRows.push(`| ${label} | ${(castSize / 2 ** 20).toFixed(2)} MiB | ${median(served).toFixed(0)} | ${median(ready).toFixed(0)} | ${median(played).toFixed(0)} |`);
    }
  } finally {
    await browser.close();
    await replay.close();
    source.close();
  }
  report.push(
    '## Time to first frame in Chromium',
    '',
    `Headless Chromium (Debian's package) loads the session page; the player fetches the cast, parses it and draws the first frame (performance mark \`tg-player-first-frame\` at the player's \`ready\` event, measured from navigation start). Then \`play()\` until the player reports \`playing\`. One-hour cast: a line every 250 ms, a marker every minute, a resize every ten minutes. Median of ${RUNS} page loads.`,
    '',
    '| cast | size | server: read, build, send the cast (ms) | navigation to first frame (ms) | play() to playing (ms) |',
    '|---|---:|---:|---:|---:|',
    ...frameRows,
    '',
  );
  const out = join('bench/results', `replay-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z')}.md`);
  writeFileSync(out, `${report.join('\n')}\n`);
  console.log(report.join('\n'));
  console.log(`\nwritten to ${out}`);
}

await main();
