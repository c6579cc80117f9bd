// Sums a V8 heap snapshot's objects by type and constructor name (self sizes) minus those of a
// baseline snapshot of the same process without the sessions, largest first, as a Markdown table
// divided by the number of sessions. Usage:
//   node bench/heap-snapshot-summary.mjs <held.heapsnapshot> <baseline.heapsnapshot> <sessions> [rows]
import console from 'node:console';
import { readFileSync } from 'node:fs';
import process from 'node:process';

const [file, baseFile, sessionsArg, rowsArg] = process.argv.slice(2);
if (!file || !baseFile || !sessionsArg) throw new Error('usage: heap-snapshot-summary.mjs <held.heapsnapshot> <baseline.heapsnapshot> <sessions> [rows]');
const sessions = Number(sessionsArg);
const held = groupsOf(file);
const base = groupsOf(baseFile);
const delta = [...held].map(([key, g]) => [key, { count: g.count - (base.get(key)?.count ?? 0), size: g.size - (base.get(key)?.size ?? 0) }]);
const total = delta.reduce((t, [, g]) => t + g.size, 0);
const rows = delta.sort((a, b) => b[1].size - a[1].size).slice(0, Number(rowsArg ?? 25));
console.log(`Self size added with the sessions: ${(total / 1048576).toFixed(1)} MiB, ${(total / sessions / 1024).toFixed(1)} KiB per session.`);
console.log('');
console.log('| type and constructor | objects added | per session | MiB added | KiB per session |');
console.log('|---|---:|---:|---:|---:|');
for (const [key, g] of rows) {
  console.log(`| \`${key.replaceAll('|', '\\|')}\` | ${g.count} | ${(g.count / sessions).toFixed(1)} | ${(g.size / 1048576).toFixed(2)} | ${(g.size / sessions / 1024).toFixed(2)} |`);
}

function groupsOf(path) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(path, 'utf8'));
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const groups = new Map();
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + iType]];
    // Strings and code are grouped by type only: their "names" are their contents.
    const name = type === 'object' || type === 'native' || type === 'closure' ? strings[nodes[i + iName]] : '';
    const key = `${type} ${name}`.trim();
    const g = groups.get(key) ?? { count: 0, size: 0 };
    g.count += 1;
    g.size += nodes[i + iSize];
    groups.set(key, g);
  }
  return groups;
}
