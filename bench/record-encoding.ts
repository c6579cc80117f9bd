/**
 * The recorder's per-record work, before and after the canonical encoder: serialise for the hash,
 * hash, serialise again for the store. Run it under callgrind (bench/record-encoding.sh) to count
 * instructions per record; wall time on a shared machine says little.
 *
 *   node bench/.work/record-encoding.mjs <before|after> <started|completed|bytes> <records>
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { canonicalJson, chainedFields, chainedJsonOf, linkHash, type ChainBody } from '../events/index.js';

const [path = 'after', kind = 'started', countArg = '0'] = process.argv.slice(2);
const count = Number(countArg);
const sessionId = '0190c0de-0000-7000-8000-000000000001';

/** What `pgbench -S -M prepared` produces per statement. */
function record(seq: number): ChainBody {
  const ts = '2026-12-01T12:00:00.123Z';
  if (kind === 'bytes') return { sessionId, seq, ts, stream: 'bytes', direction: 'server', offset: seq * 64, data: payload };
  if (kind === 'completed') return { sessionId, seq, ts, stream: 'events', type: 'command.completed', data: { commandSeq: seq - 1, outcome: 'ok', durationMs: 0.213, tags: ['SELECT 1'], rows: 1 } };
  return {
    sessionId, seq, ts, stream: 'events', type: 'command.started',
    data: { protocol: 'extended', text: 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;', statementName: 'P0_1', portal: '', parameters: [String(seq % 100000)], parameterTypes: [], decision: { outcome: 'allowed', needs: ['read'], rules: ['bench-read'] } },
  };
}
const payload = Buffer.from('T\0\0\0\x21\0\x01abalance\0\0\0@\x05\0\x03\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0D\0\0\0\x0b\0\x01\0\0\0\x011C\0\0\0\x0dSELECT 1\0Z\0\0\0\x05I', 'latin1');

/** The recorder before: the generic JCS library over a fresh object, a Hash object, JSON.stringify for the store. */
function before(prev: string, r: ChainBody): [string, string | null] {
  const hash = createHash('sha256').update(`tg-chain-1\n${prev}\n${canonicalize(chainedFields({ v: 1, ...r }))!}`).digest('base64url');
  return [hash, r.stream === 'events' ? JSON.stringify(r.data) : null];
}

/** The recorder now: the data serialised once, the envelope written in its known order, a one-shot hash. */
function after(prev: string, r: ChainBody): [string, string | null] {
  const dataJson = r.stream === 'events' ? canonicalJson(r.data) : undefined;
  return [linkHash(prev, chainedJsonOf(1, r, dataJson)), dataJson ?? null];
}

const step = path === 'before' ? before : after;
const records = Array.from({ length: count }, (_, i) => record(i + 2));
let head = '';
let stored = 0;
for (const r of records) {
  const [hash, text] = step(head, r);
  head = hash;
  stored += text?.length ?? 0;
}
console.log(JSON.stringify({ path, kind, count, head, stored }));
