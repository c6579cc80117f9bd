/**
 * CPU per 1,000 records of the drainer's own work, without a broker: records made by the recording
 * path as in bench/kafka-log.ts, written into spool frames, read back, and encoded as the produce
 * requests kafkajs sends (request framing included). A shared machine moves process CPU time far
 * less than it moves rates.
 *
 *   node --import tsx bench/kafka-encode.ts kafkajs     kafkajs 2.2.4's own produce encoder
 *   node --import tsx bench/kafka-encode.ts one-pass    connectors/kafka/produce-encoding.ts
 *   (env: BENCH_RECORDS per transaction, default 600; BENCH_ROUNDS, default 200)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CanonicalData, PendingRecord } from '../connectors/embedded-log/embedded-log.js';
import { encodePending, envelopeJson, packSpoolMessages, unpackMessages, type SpoolMessage } from '../connectors/kafka/record-codec.js';
import { installProduceEncoder } from '../connectors/kafka/produce-encoding.js';
import { newSessionId, type SessionContext } from '../events/index.js';
import { LogWriter } from '../services/gateway/recorder/log-writer.js';
import { SessionRecorder } from '../services/gateway/recorder/session-recorder.js';
import { HeadSigner } from '../services/integrity/checkpoint-signer.js';
import { keysDir, loadOrCreateSigningKey } from '../services/integrity/signing-keys.js';

const mode = process.argv[2] ?? 'one-pass';
const RECORDS = Number(process.env.BENCH_RECORDS ?? 600);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const SQL = `select o.id, o.status, c.name from orders o join customers c on c.id = o.customer_id where o.created_at > now() - interval '1 day' and o.status = $1 -- ${'x'.repeat(60)}`;

// One transaction's worth of records, as 16 sessions make them.
const batches: { sessions: SessionContext[]; records: PendingRecord[]; canonical?: CanonicalData }[] = [];
const keys = mkdtempSync(join(tmpdir(), 'trailgate-bench-'));
const checkpoints = { signer: new HeadSigner(await loadOrCreateSigningKey(keysDir(keys))), every: 1000, millis: 10_000 };
rmSync(keys, { recursive: true, force: true });
const writer = new LogWriter({ write: async (sessions, records, canonical) => void batches.push({ sessions, records, canonical }), close: async () => undefined }, 'encode');
const recorders = Array.from({ length: 16 }, (_, n) => new SessionRecorder({ sessionId: newSessionId(), instance: 'bench', protocol: 'postgres', target: { name: 'bench', kind: 'postgres' }, identity: null, client: { address: '127.0.0.1', port: 40000 + n } }, writer, { chunkBytes: 64 * 1024, chunkMillis: 200 }, checkpoints));
let made = 0;
for (let seq = 0; made < RECORDS; seq++) {
  for (const rec of recorders) {
    const cmd = rec.event('command.started', { protocol: 'extended', text: SQL, parameters: [String(seq)] });
    rec.bytes('client', Buffer.alloc(300, 1));
    rec.closeChunks();
    rec.bytes('server', Buffer.alloc(1200, 2));
    rec.closeChunks();
    rec.event('command.completed', { commandSeq: cmd, outcome: 'ok', durationMs: 1, tags: ['SELECT 10'], rows: 10 });
    made += 4;
  }
}
await writer.flush();
const envelopes = new Map<string, string>();
for (const b of batches) for (const ctx of b.sessions) envelopes.set(ctx.sessionId, envelopeJson(ctx));
const records = batches.flatMap((b) => b.records.map((r, i) => ({ r, canonical: b.canonical?.[i] })));

const require = createRequire(import.meta.url);
type Request = { apiKey: number; apiVersion: number; encode: () => Promise<unknown> };
const produce = require('kafkajs/src/protocol/requests/produce/index.js') as { protocol: (q: { version: number }) => (args: unknown) => { request: Request } };
const frame = require('kafkajs/src/protocol/request.js') as (q: { correlationId: number; clientId: string; request: Request }) => Promise<{ buffer: Buffer }>;
if (mode === 'one-pass' && !installProduceEncoder()) throw new Error('the one-pass encoder does not apply to this kafkajs');

const steps = { spool: 0n, unpack: 0n, produce: 0n };
let bytes = 0;
const cpu = () => {
  const u = process.cpuUsage();
  return BigInt(u.user + u.system);
};
const cpu0 = process.cpuUsage();
for (let round = 0; round < ROUNDS; round++) {
  let t = cpu();
  const messages: SpoolMessage[] = records.map(({ r, canonical }) => encodePending(envelopes.get(r.sessionId)!, r, canonical));
  const payload = packSpoolMessages(messages);
  steps.spool += cpu() - t;
  t = cpu();
  const unpacked = unpackMessages(payload);
  steps.unpack += cpu() - t;
  t = cpu();
  // As the drainer hands them to kafkajs: by topic, then by partition of the session.
  const topics = new Map<string, Map<number, { key: string; value: Buffer; headers: Record<string, string> }[]>>();
  for (const m of unpacked) {
    const topic = m.stream === 'bytes' ? 'tg.bytes' : 'tg.events';
    let parts = topics.get(topic);
    if (!parts) topics.set(topic, (parts = new Map()));
    const p = m.key.charCodeAt(m.key.length - 1) % 6;
    let list = parts.get(p);
    if (!list) parts.set(p, (list = []));
    list.push({ key: m.key, value: m.value, headers: m.headers });
  }
  const topicData = [...topics].map(([topic, parts]) => ({ topic, partitions: [...parts].map(([partition, messages]) => ({ partition, firstSequence: round * 100, messages })) }));
  const { request } = produce.protocol({ version: 7 })({ acks: -1, timeout: 30_000, compression: 0, topicData, transactionalId: 'tg.gateway.bench', producerId: 4242, producerEpoch: 1 });
  const out = await frame({ correlationId: round, clientId: 'trailgate-gateway', request });
  bytes = out.buffer.length;
  steps.produce += cpu() - t;
}
const total = process.cpuUsage(cpu0);
const perK = (us: bigint) => (Number(us) / 1000 / ((ROUNDS * records.length) / 1000)).toFixed(2);
console.log(
  `| ${mode} | ${records.length} | ${bytes} | ${perK(steps.spool)} | ${perK(steps.unpack)} | ${perK(steps.produce)} | ${((total.user + total.system) / 1000 / ((ROUNDS * records.length) / 1000)).toFixed(2)} |`,
);
