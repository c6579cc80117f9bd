/**
 * Where the CPU time of one phase of a `node --cpu-prof` profile went: self time per area (kafkajs,
 * Trailgate's own code, node internals, garbage collection, idle) and the top functions.
 *
 *   node --import tsx bench/cpu-profile-summary.ts <file.cpuprofile> [<start µs> <end µs>]
 *
 * The phase bounds are what bench/kafka-log.ts prints to stderr (`phase "<log>" <start> <end>`).
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, from, to] = process.argv.slice(2);
if (!file) throw new Error('usage: cpu-profile-summary.ts <file.cpuprofile> [<start µs> <end µs>]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const start = from ? Number(from) : -Infinity;
const end = to ? Number(to) : Infinity;

function area(n: Node): string {
  const { functionName, url } = n.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return 'native (program)';
  if (url.includes('node_modules/kafkajs/')) return 'kafkajs';
  if (url.includes('node_modules/better-sqlite3/')) return 'better-sqlite3';
  if (url.includes('node_modules/')) return 'other packages';
  if (url.startsWith('node:') || url === '') return 'node internals and native';
  return 'trailgate';
}

const areas = new Map<string, number>();
const fns = new Map<string, number>();
let t = profile.startTime;
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i]!;
  if (t < start || t > end) continue;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  const n = byId.get(profile.samples[i]!)!;
  total += dt;
  areas.set(area(n), (areas.get(area(n)) ?? 0) + dt);
  const { functionName, url, lineNumber } = n.callFrame;
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(connectors|services|events|bench)\//, '$1/')}:${lineNumber + 1}`;
  fns.set(key, (fns.get(key) ?? 0) + dt);
}
const pct = (v: number) => `${((100 * v) / total).toFixed(1)}%`;
console.log(`| area | CPU share |\n|---|---:|`);
for (const [k, v] of [...areas].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${pct(v)} |`);
console.log(`\n| function (self time) | CPU share |\n|---|---:|`);
for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`| \`${k}\` | ${pct(v)} |`);
