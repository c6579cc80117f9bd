/**
 * CPU per MiB by thread and by what it was doing, from `perf script` output of a cpu-clock profile with
 * call graphs: unlike `--cpu-prof` it sees the kernel (system calls, page faults), native code (SQLite,
 * OpenSSL) and every thread (the WAL checkpoint thread, V8's GC and compiler threads).
 *
 *   perf record -e cpu-clock -F 2000 -g -p <gateway pid> -o perf.data   # node --perf-basic-prof names JS frames
 *   perf script -i perf.data -F tid,ip,sym,dso | node --import tsx bench/perf-summary.ts <hz> <MiB moved> [top]
 */
import { readFileSync } from 'node:fs';

const [hzArg, mibArg, topArg = '12'] = process.argv.slice(2);
const hz = Number(hzArg);
const mib = Number(mibArg);
if (!(hz > 0 && mib > 0)) throw new Error('usage: perf script ... | perf-summary.ts <sampling hz> <MiB moved> [top]');

// First match wins, checked against every frame of a sample's stack.
const CATEGORIES: [string, string][] = [
  ['sha256', 'SHA-256 (chain digest of each byte chunk)'],
  ['pagerWalFrames', 'SQLite: WAL frame writes of a commit'],
  ['sqlite3WalCheckpoint', 'SQLite: WAL checkpoint (copy into the database file, fsync)'],
  ['sqlite3_bind_blob', 'SQLite: binding the chunk (a copy)'],
  ['sqlite3VdbeExec', 'SQLite: the insert (record, pages)'],
  ['better_sqlite3', 'SQLite: other'],
  ['concat', 'Buffer.concat of a chunk'],
  ['ChaCha20', 'ssh2: chacha20-poly1305'],
  ['poly1305', 'ssh2: chacha20-poly1305'],
  ['aesni', 'ssh2: AES-GCM'],
  ['randomFill', 'ssh2: packet padding (randomFillSync)'],
  ['writev', 'socket writes'],
  ['tcp_recvmsg', 'socket reads'],
  ['compiler::', 'V8: compiler'],
  ['Marking', 'V8: GC'],
  ['Sweep', 'V8: GC'],
  ['Scaveng', 'V8: GC'],
  ['GarbageCollect', 'V8: GC'],
  ['exc_page_fault', 'page faults (other)'],
  ['ssh2/lib', 'ssh2: other JavaScript'],
  ['do_syscall_64', 'system calls (other)'],
];

const samples: { tid: string; stack: string[] }[] = [];
let current: { tid: string; stack: string[] } | null = null;
for (const line of readFileSync(0, 'utf8').split('\n')) {
  if (!line.trim()) {
    current = null;
    continue;
  }
  if (!line.startsWith('\t')) {
    current = { tid: line.trim().split(/\s+/)[0]!, stack: [] };
    samples.push(current);
  } else current?.stack.push(line.trim().replace(/^[0-9a-f]+ /, ''));
}

const perThread = new Map<string, number>();
for (const s of samples) perThread.set(s.tid, (perThread.get(s.tid) ?? 0) + 1);
const main = [...perThread.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
const msPerMiB = (n: number) => ((n / hz) * 1000) / mib;

for (const [label, pick] of [['main thread (the busiest)', (t: string) => t === main], ['other threads', (t: string) => t !== main]] as const) {
  const counts = new Map<string, number>();
  let total = 0;
  for (const s of samples) {
    if (!pick(s.tid)) continue;
    total++;
    const hit = CATEGORIES.find(([key]) => s.stack.some((f) => f.includes(key)));
    const name = hit ? hit[1] : `other: ${(s.stack[0] ?? '?').split(' (')[0]!.slice(0, 70)}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  console.log(`\n${label}: ${msPerMiB(total).toFixed(2)} ms per MiB\n`);
  console.log('| where | ms per MiB |\n|---|---:|');
  for (const [name, n] of [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg))) console.log(`| ${name} | ${msPerMiB(n).toFixed(2)} |`);
}
