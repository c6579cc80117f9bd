// Content scanning cost per cell: findSensitive over typical cells and hostile 1 MiB values, against two baselines
// measured in the same process and run: a native pass over the cell (indexOf of a character it does not hold) and a
// JavaScript loop reading every character once (charCodeAt), the least any JS scanner can do.
import { ALL_DETECTORS, HIGH_PRECISION_DETECTORS, findSensitive, type DetectorName } from '../services/masking/detectors/index.js';

const MIB = 1 << 20;
const sentence = 'Order 81723 shipped to Lisbon on 2026-11-30; the customer asked for a call back after 5 pm. ';
const cells: Record<string, string[]> = {
  'short text (names, statuses)': ['Alice Smith', 'shipped', 'Lisbon', 'pending review', 'ACME GmbH', 'n/a', 'Jürgen Müller', 'blue'],
  'numbers (ids, amounts, 16-digit non-card)': ['42', '81723', '3.14159', '-1200.50', '2026', '9007199254740993', '4111111111111112', '1234567890'],
  'medium text (~200 B)': [sentence.repeat(2), sentence.replace('81723', '4111 1111 1111 1112').repeat(2)],
  'long text (4 KiB)': [sentence.repeat(44)],
  'cell with a hit (card, IBAN, AWS key)': ['4111 1111 1111 1111', 'DE89 3704 0044 0532 0130 00', 'AKIAIOSFODNN7EXAMPLE'],
};
const hostile: Record<string, string> = {
  '1 MiB of digits': '9'.repeat(MIB),
  '1 MiB of "4111 " groups': '4111 '.repeat(MIB / 5),
  '1 MiB of "a@"': 'a@'.repeat(MIB / 2),
  '1 MiB of "eyJ"': 'eyJ'.repeat(Math.floor(MIB / 3)),
  '1 MiB of "DE89 "': 'DE89 '.repeat(MIB / 5),
  '1 MiB of "ES12 " (every candidate reaches mod-97)': 'ES12 '.repeat(MIB / 5),
  '1 MiB of "xoxb-"': 'xoxb-'.repeat(MIB / 5),
  '1 MiB of PEM BEGIN lines': '-----BEGIN PRIVATE KEY-----'.repeat(Math.floor(MIB / 27)),
  '1 MiB of prose': sentence.repeat(Math.floor(MIB / sentence.length)),
};

let sink = 0;
const baseline = (s: string): number => s.indexOf('\u0001');
const readLoop = (s: string): number => {
  let c = 0;
  for (let i = 0; i < s.length; i++) c += s.charCodeAt(i) & 1;
  return c;
};
const scan = (detectors: readonly DetectorName[]) => (s: string): number => findSensitive(s, detectors).length;

/** Median ns per cell over `count` rounds of at least `budgetMs` each. */
function nsPerCell(values: string[], f: (s: string) => number, budgetMs: number, count = 5): number {
  const rounds: number[] = [];
  for (let r = 0; r < count; r++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0n;
    while (elapsed < BigInt(budgetMs) * 1_000_000n) {
      for (const v of values) sink += f(v);
      n += values.length;
      elapsed = process.hrtime.bigint() - t0;
    }
    rounds.push(Number(elapsed) / n);
  }
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(count / 2)]!;
}

const fmt = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(1)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
const sets: [string, (s: string) => number][] = [
  ['native indexOf', baseline],
  ['JS charCodeAt loop', readLoop],
  ['trail default (6 detectors)', scan(HIGH_PRECISION_DETECTORS)],
  ['all 7 detectors', scan(ALL_DETECTORS)],
];

console.log(`| cells | ${sets.map(([n]) => n).join(' | ')} | all / JS loop |`);
console.log(`|---|${sets.map(() => '---:').join('|')}|---:|`);
for (const [name, values] of Object.entries(cells)) {
  const ns = sets.map(([, f]) => nsPerCell(values, f, 150));
  console.log(`| ${name} | ${ns.map(fmt).join(' | ')} | ${(ns[3]! / ns[1]!).toFixed(1)}× |`);
}
console.log();
console.log(`| hostile value (one cell) | ${sets.map(([n]) => n).join(' | ')} | all detectors per character | all / JS loop |`);
console.log(`|---|${sets.map(() => '---:').join('|')}|---:|---:|`);
for (const [name, value] of Object.entries(hostile)) {
  const ns = sets.map(([, f]) => nsPerCell([value], f, 100, 3));
  console.log(`| ${name} | ${ns.map(fmt).join(' | ')} | ${(ns[3]! / value.length).toFixed(1)} ns | ${(ns[3]! / ns[1]!).toFixed(1)}× |`);
}
if (sink === -1) console.log(sink);
