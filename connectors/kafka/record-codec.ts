import { SCHEMA_VERSION, recordId, type AuditRecord, type SessionContext } from '../../events/index.js';
import type { LedgerEntry, PendingRecord } from '../embedded-log/embedded-log.js';

/**
 * How records look on Kafka. Every record is keyed by its session id, so a session's records stay in
 * one partition, in order. Events are JSON values holding the whole record. Byte chunks are the raw
 * bytes as the value, and the rest of the record (the envelope) as JSON in the `tg-record` header.
 *
 * Fields are carried generically: whatever a record has besides `data` (integrity fields such as
 * `prev`/`hash`, later envelope additions) travels as it is, and comes back as it was.
 */
export type Stream = AuditRecord['stream'];

export interface KafkaMessage {
  /** `ledger`: a signed ledger entry of the gateway, spooled and delivered like its records. */
  stream: Stream | 'ledger';
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

/** Headers every record carries, so tools can route and filter without parsing values. */
export const HEADER_RECORD = 'tg-record';
export const HEADER_TYPE = 'tg-type';
export const HEADER_VERSION = 'tg-v';

/** Builds the full record (envelope from the session's context) as it goes to the log. */
export function toAuditRecord(ctx: SessionContext, r: PendingRecord): AuditRecord {
  return {
    v: SCHEMA_VERSION,
    id: recordId(r.sessionId, r.seq),
    instance: ctx.instance,
    target: ctx.target,
    identity: ctx.identity,
    client: ctx.client,
    ...(r.stream === 'bytes' ? { type: 'bytes' } : {}),
    ...r,
  } as unknown as AuditRecord;
}

export function encodeRecord(record: AuditRecord): KafkaMessage {
  const type = String(record.type);
  const v = String(record.v);
  if (record.stream === 'bytes') {
    const { data, ...envelope } = record;
    return { stream: 'bytes', key: record.sessionId, value: Buffer.isBuffer(data) ? data : Buffer.from(data as Uint8Array), headers: { [HEADER_RECORD]: JSON.stringify(envelope), [HEADER_TYPE]: type, [HEADER_VERSION]: v } };
  }
  return { stream: 'events', key: record.sessionId, value: Buffer.from(JSON.stringify(record)), headers: { [HEADER_TYPE]: type, [HEADER_VERSION]: v } };
}

export class UndecodableRecord extends Error {
  readonly code = 'TG_RECORD_UNDECODABLE';
}

/** Reads a record back from a message of the given stream; throws UndecodableRecord for anything that is not one. */
export function decodeRecord(stream: Stream, value: Buffer | null, headers: Record<string, Buffer | string | undefined>): AuditRecord {
  try {
    if (stream === 'bytes') {
      const raw = headers[HEADER_RECORD];
      if (raw === undefined) throw new Error(`no ${HEADER_RECORD} header`);
      const envelope = JSON.parse(raw.toString()) as Record<string, unknown>;
      checkEnvelope(envelope);
      return { ...envelope, stream: 'bytes', data: value ?? Buffer.alloc(0) } as unknown as AuditRecord;
    }
    if (value === null) throw new Error('empty value');
    const record = JSON.parse(value.toString()) as Record<string, unknown>;
    checkEnvelope(record);
    if (record.stream !== 'events') throw new Error(`stream is ${JSON.stringify(record.stream)}, not "events"`);
    return record as unknown as AuditRecord;
  } catch (err) {
    if (err instanceof UndecodableRecord) throw err;
    throw new UndecodableRecord((err as Error).message);
  }
}

function checkEnvelope(r: Record<string, unknown>): void {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new UndecodableRecord('not a JSON object');
  if (typeof r.sessionId !== 'string' || typeof r.seq !== 'number' || typeof r.type !== 'string' || typeof r.v !== 'number') {
    throw new UndecodableRecord('missing envelope fields (v, sessionId, seq, type)');
  }
}

const STREAMS = ['events', 'bytes', 'ledger'] as const;
const STREAM_CODES = { events: 0, bytes: 1, ledger: 2 } as const;

/** A ledger entry as it goes to `<prefix>.ledger`: keyed by its instance, the entry as JSON. */
export function encodeLedgerEntry(entry: LedgerEntry): KafkaMessage {
  const { instance, seq, ts, opened, prev, hash, kid, jws } = entry;
  return { stream: 'ledger', key: instance, value: Buffer.from(JSON.stringify({ instance, seq, ts, opened, prev, hash, kid, jws })), headers: {} };
}

/**
 * A message as the spool frames it: the headers already as their JSON text and the value as text or
 * bytes, so that a record can be written into its frame without an intermediate buffer.
 */
export interface SpoolMessage {
  stream: KafkaMessage['stream'];
  key: string;
  /** The headers object as JSON. */
  headers: string;
  value: Buffer | string;
}

/**
 * The session's envelope fields after `id` as JSON text (`,"instance":…,"client":{…}`), in
 * toAuditRecord's order: made once per session, not once per record.
 */
export function envelopeJson(ctx: SessionContext): string {
  return `${member('instance', ctx.instance)}${member('target', ctx.target)}${member('identity', ctx.identity)}${member('client', ctx.client)}`;
}

/**
 * The same record encodeRecord(toAuditRecord(ctx, r)) makes, written as text directly: the envelope
 * from `envelope` (envelopeJson of the session) and an event's data as `canonicalData`, the text that
 * was hashed, when the recorder has it. Only the order of keys inside `data` can differ.
 */
export function encodePending(envelope: string, r: PendingRecord, canonicalData?: string): SpoolMessage {
  const head = `{"v":${SCHEMA_VERSION},"id":${JSON.stringify(recordId(r.sessionId, r.seq))}${envelope}`;
  const fields = r as unknown as Record<string, unknown>;
  let rest = '';
  for (const k of Object.keys(fields)) {
    if (k === 'data') {
      if (r.stream === 'events') rest += canonicalData === undefined ? member('data', r.data) : `,"data":${canonicalData}`;
      continue;
    }
    rest += member(k, fields[k]);
  }
  if (r.stream === 'bytes') {
    // The envelope of a byte chunk: toAuditRecord puts its type before the pending record's fields.
    const envelopeText = `${head},"type":"bytes"${rest}}`;
    return { stream: 'bytes', key: r.sessionId, value: Buffer.isBuffer(r.data) ? r.data : Buffer.from(r.data), headers: `{"${HEADER_RECORD}":${JSON.stringify(envelopeText)},"${HEADER_TYPE}":"bytes","${HEADER_VERSION}":"${SCHEMA_VERSION}"}` };
  }
  return { stream: 'events', key: r.sessionId, value: `${head}${rest}}`, headers: `{"${HEADER_TYPE}":${JSON.stringify(String(r.type))},"${HEADER_VERSION}":"${SCHEMA_VERSION}"}` };
}

/** `,"name":value` as JSON.stringify writes an object member; nothing for what it leaves out. */
function member(name: string, value: unknown): string {
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) return '';
  let key = memberKeys.get(name);
  if (key === undefined) {
    key = `,${JSON.stringify(name)}:`;
    if (memberKeys.size < 256) memberKeys.set(name, key);
  }
  return key + text;
}

/** Member names as JSON text: records use the same few. */
const memberKeys = new Map<string, string>();

/**
 * Compact binary framing of messages for the spool:
 *   u8 stream (0 events, 1 bytes, 2 ledger) | u32 key length | key | u32 headers length | headers JSON | u32 value length | value
 */
export function packMessages(messages: readonly KafkaMessage[]): Buffer {
  return packSpoolMessages(messages.map((m) => ({ stream: m.stream, key: m.key, headers: JSON.stringify(m.headers), value: m.value })));
}

/** packMessages' framing written into one buffer: sized first, then each text written in place. */
export function packSpoolMessages(messages: readonly SpoolMessage[]): Buffer {
  let size = 0;
  for (const m of messages) size += 13 + Buffer.byteLength(m.key) + Buffer.byteLength(m.headers) + (typeof m.value === 'string' ? Buffer.byteLength(m.value) : m.value.length);
  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  for (const m of messages) {
    o = buf.writeUInt8(STREAM_CODES[m.stream], o);
    o = writeText(buf, o, m.key);
    o = writeText(buf, o, m.headers);
    if (typeof m.value === 'string') o = writeText(buf, o, m.value);
    else {
      o = buf.writeUInt32BE(m.value.length, o);
      o += m.value.copy(buf, o);
    }
  }
  return buf;
}

/** `u32 length | UTF-8 text` at `o`; returns the offset after it. */
function writeText(buf: Buffer, o: number, text: string): number {
  const n = buf.write(text, o + 4);
  buf.writeUInt32BE(n, o);
  return o + 4 + n;
}

export function unpackMessages(buf: Buffer): KafkaMessage[] {
  const out: KafkaMessage[] = [];
  let o = 0;
  while (o < buf.length) {
    const stream = STREAMS[buf.readUInt8(o)] ?? 'events';
    o += 1;
    const keyLen = buf.readUInt32BE(o);
    o += 4;
    const key = buf.toString('utf8', o, o + keyLen);
    o += keyLen;
    const hLen = buf.readUInt32BE(o);
    o += 4;
    const headers = JSON.parse(buf.toString('utf8', o, o + hLen)) as Record<string, string>;
    o += hLen;
    const vLen = buf.readUInt32BE(o);
    o += 4;
    // A view, not a copy: the spool gives each read its own buffer.
    const value = buf.subarray(o, o + vLen);
    o += vLen;
    out.push({ stream, key, value, headers });
  }
  return out;
}
