/**
 * Self-time shares of a V8 CPU profile (node --cpu-prof), grouped by where the gateway spends its
 * time on the hot path. `node --import tsx bench/profile-summary.ts <file.cpuprofile> [top] [last-seconds]`
 * With last-seconds only the end of the profile counts (the load, not the start-up before it).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArg = '25', lastArg, txnArg] = process.argv.slice(2);
const txns = Number(txnArg ?? 0);
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
const from = lastArg ? profile.endTime - Number(lastArg) * 1e6 : -Infinity;
let at = profile.startTime;
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i] ?? 0;
  if (at >= from) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});

/** Where a function belongs; first match wins. */
const GROUPS: [string, (name: string, url: string) => boolean][] = [
  ['idle', (n) => n === '(idle)'],
  ['garbage collection', (n) => n === '(garbage collector)'],
  ['socket writes (native)', (n, u) => u === '' && /^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString)$/.test(n)],
  ['socket reads and stream plumbing', (_n, u) => /node:(net|stream|internal\/streams|internal\/stream_base_commons)/.test(u)],
  ['chain: canonical JSON', (_n, u) => /canonical-json|canonicalize/.test(u)],
  ['chain: hashing', (n, u) => /events\/chain/.test(u) || (u === '' && /^(hash|digest|update|Hash)$/.test(n)) || /node:internal\/crypto\/hash/.test(u)],
  ['trail scan (masking detectors)', (_n, u) => /masking\/detectors|recorded-client-bytes|ibantools/.test(u)],
  ['JSON.stringify / parse', (n) => n === 'stringify' || n === 'parse'],
  // Under load the only WebAssembly running is libpg-query (the PGlite demo target of `up --dev` idles).
  ['statement classification (libpg-query, policy)', (n, u) => /libpg-query|pg-query|policy\/|statement-gate/.test(u) || n.startsWith('wasm-function')],
  ['event log write (SQLite, worker hop)', (n, u) => /better-sqlite3|embedded-log|log-sinks|log-writer/.test(u) || (u === '' && /^(run|postMessage)$/.test(n))],
  ['recorder', (_n, u) => /recorder\//.test(u)],
  ['postgres relay and framing', (_n, u) => /gateway\/postgres\//.test(u) || /pg-protocol/.test(u)],
  ['(program): native code outside JS', (n) => n === '(program)'],
];

const groups = new Map<string, number>();
const functions = new Map<string, number>();
let total = 0;
let busy = 0;
for (const [id, t] of self) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const name = functionName || '(anonymous)';
  const group = GROUPS.find(([, match]) => match(name, url))?.[0] ?? 'other JS';
  groups.set(group, (groups.get(group) ?? 0) + t);
  total += t;
  if (group !== 'idle') busy += t;
  const key = `${name} ${url ? `${basename(url)}:${lineNumber + 1}` : '(native)'}`;
  functions.set(key, (functions.get(key) ?? 0) + t);
}
const pct = (t: number): string => `${((100 * t) / busy).toFixed(1)}%`;
console.log(`Profile ${basename(file)}${lastArg ? `, its last ${lastArg} s` : ''}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (shares below are of busy time).\n`);
const perTxn = (t: number): string => (txns > 0 ? ` ${(t / txns).toFixed(1)} |` : '');
if (txns > 0) console.log(`Busy time of the main thread per transaction: ${(busy / txns).toFixed(1)} us (${txns} transactions).\n`);
console.log(`| where | share of busy time |${txns > 0 ? ' us per transaction |' : ''}\n|---|---|${txns > 0 ? '---:|' : ''}`);
for (const [g, t] of [...groups].filter(([g]) => g !== 'idle').sort((a, b) => b[1] - a[1])) console.log(`| ${g} | ${pct(t)} |${perTxn(t)}`);
console.log(`\nTop ${topArg} functions by self time:\n\n| function | share |\n|---|---|`);
for (const [f, t] of [...functions].filter(([f]) => !f.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, Number(topArg))) console.log(`| \`${f}\` | ${pct(t)} |`);
