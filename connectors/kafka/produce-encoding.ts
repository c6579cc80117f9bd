import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 encodes a produce request record by record: a zero-filled 512-byte buffer per record
 * and per header, a `Buffer.from([...])` per varint, CRC-32C in JavaScript, and each level (record,
 * batch, partition, topic) copied into the next. In the drainer that was a third of the event loop's
 * time. This encodes the same request (Produce v3 to v7, which share one body) in one buffer sized
 * up front, with a native CRC-32C (@node-rs/crc32), byte for byte what kafkajs writes
 * (tests/unit/kafka-produce-encoding.test.ts compares the two).
 *
 * It replaces the request's `encode` through kafkajs' private protocol table, so it applies only to
 * the version it was written for (kafkajs is pinned and unmaintained); requests it does not cover
 * (compression, message timestamps, values that are neither text nor bytes) keep kafkajs' encoder.
 */
const VERSION = '2.2.4';
const VERSIONS = [3, 4, 5, 6, 7];
/** Attributes bit of a transactional record batch. */
const TRANSACTIONAL = 16;

interface Message {
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
  timestamp?: unknown;
}
interface ProduceArgs {
  acks: number;
  timeout: number;
  compression?: number;
  topicData: { topic: string; partitions: { partition: number; firstSequence?: number; messages: Message[] }[] }[];
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
}
interface EncoderLike {
  buf: Buffer;
  offset: number;
}
type Protocol = (q: { version: number }) => ((args: ProduceArgs) => { request: { encode: () => Promise<EncoderLike> } }) | undefined;

const require = createRequire(import.meta.url);
let installed = false;
/** @node-rs/crc32's CRC-32C, loaded on install: a platform without its prebuilt binary keeps kafkajs' encoder. */
let crc32c: (data: Buffer) => number;

/** Puts the one-pass encoder in front of kafkajs' Produce requests (once per process); false where it does not apply. */
export function installProduceEncoder(): boolean {
  if (installed) return true;
  const version = (require('kafkajs/package.json') as { version: string }).version;
  if (version !== VERSION) return false;
  try {
    crc32c = (require('@node-rs/crc32') as { crc32c: (data: Buffer) => number }).crc32c;
  } catch {
    return false;
  }
  const produce = require('kafkajs/src/protocol/requests/produce/index.js') as { protocol: Protocol };
  const Encoder = require('kafkajs/src/protocol/encoder.js') as new (size?: number) => EncoderLike;
  const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): { getHighBits(): number; getLowBits(): number } };
  const original = produce.protocol;
  produce.protocol = (q) => {
    const make = original(q);
    if (!make || !VERSIONS.includes(q.version)) return make;
    return (args) => {
      const built = make(args);
      const kafkajsEncode = built.request.encode;
      built.request.encode = async () => {
        const producerId = Long.fromValue(args.producerId ?? -1);
        const bytes = encodeProduce(args, producerId.getHighBits(), producerId.getLowBits(), Date.now());
        if (!bytes) return kafkajsEncode();
        const encoder = new Encoder(0);
        encoder.buf = bytes;
        encoder.offset = bytes.length;
        return encoder;
      };
      return built;
    };
  };
  installed = true;
  return true;
}

/** A header or key/value as kafkajs writes it: bytes as they are, anything else as its text. */
type Bytes = Buffer | string | null;

/** A message's headers flattened as kafkajs does (an array value is one header per element). */
function headerList(headers: Record<string, unknown> | undefined): [string, Bytes][] | null {
  const out: [string, Bytes][] = [];
  if (headers === undefined) return out;
  if (headers === null || typeof headers !== 'object') return null;
  for (const k of Object.keys(headers)) {
    const v = headers[k];
    for (const one of Array.isArray(v) ? v : [v]) {
      if (typeof one !== 'string' && !Buffer.isBuffer(one)) return null;
      out.push([k, one]);
    }
  }
  return out;
}

function bytesOf(v: unknown): Bytes | undefined {
  if (v == null) return null;
  if (typeof v === 'string' || Buffer.isBuffer(v)) return v;
  return undefined;
}

const byteLength = (b: Bytes) => (b === null ? -1 : typeof b === 'string' ? Buffer.byteLength(b) : b.length);
const zigzag = (n: number) => ((n << 1) ^ (n >> 31)) >>> 0;
function sizeOfVarInt(n: number): number {
  let z = zigzag(n);
  let bytes = 1;
  while (z >= 0x80) {
    z >>>= 7;
    bytes++;
  }
  return bytes;
}

/** The Produce v3 request body kafkajs would write, or null when it is one this does not cover. */
export function encodeProduce(args: ProduceArgs, producerIdHigh: number, producerIdLow: number, now: number): Buffer | null {
  if ((args.compression ?? 0) !== 0) return null;
  // Pass 1: everything checked and sized, so the request is written once into a buffer of its size.
  interface Rec {
    key: Bytes;
    keyLen: number;
    value: Bytes;
    valueLen: number;
    headers: [string, Bytes, number, number][];
    body: number;
  }
  const plans: { topic: string; topicLen: number; partitions: { partition: number; firstSequence: number; records: Rec[]; recordsLen: number }[] }[] = [];
  const txnId = args.transactionalId ?? null;
  let size = 2 + (txnId === null ? 0 : Buffer.byteLength(txnId)) + 2 + 4 + 4;
  for (const t of args.topicData) {
    const topicLen = Buffer.byteLength(t.topic);
    const topic = { topic: t.topic, topicLen, partitions: [] as (typeof plans)[number]['partitions'] };
    size += 2 + topicLen + 4;
    for (const p of t.partitions) {
      const records: Rec[] = [];
      let recordsLen = 0;
      for (let i = 0; i < p.messages.length; i++) {
        const m = p.messages[i]!;
        if (m.timestamp != null) return null;
        const key = bytesOf(m.key);
        const value = bytesOf(m.value);
        const list = headerList(m.headers);
        if (key === undefined || value === undefined || list === null) return null;
        const keyLen = byteLength(key);
        const valueLen = byteLength(value);
        // attributes, timestamp delta (always 0 here: no message timestamps), offset delta.
        let body = 1 + 1 + sizeOfVarInt(i);
        body += sizeOfVarInt(keyLen) + Math.max(0, keyLen) + sizeOfVarInt(valueLen) + Math.max(0, valueLen) + sizeOfVarInt(list.length);
        const headers: Rec['headers'] = [];
        for (const [hk, hv] of list) {
          const hkLen = Buffer.byteLength(hk);
          const hvLen = byteLength(hv);
          body += sizeOfVarInt(hkLen) + hkLen + sizeOfVarInt(hvLen) + Math.max(0, hvLen);
          headers.push([hk, hv, hkLen, hvLen]);
        }
        records.push({ key, keyLen, value, valueLen, headers, body });
        recordsLen += sizeOfVarInt(body) + body;
      }
      topic.partitions.push({ partition: p.partition, firstSequence: p.firstSequence ?? 0, records, recordsLen });
      // partition, batch size, first offset, batch length, leader epoch, magic, crc, the CRC'd header (40) and the records
      size += 4 + 4 + 8 + 4 + 4 + 1 + 4 + 40 + recordsLen;
    }
    plans.push(topic);
  }

  // Pass 2: written in place.
  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  const varint = (n: number) => {
    let z = zigzag(n);
    while (z >= 0x80) {
      buf[o++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    buf[o++] = z;
  };
  const bytes = (b: Bytes, len: number) => {
    varint(len);
    if (b === null) return;
    if (typeof b === 'string') o += buf.write(b, o);
    else o += b.copy(buf, o);
  };
  if (txnId === null) o = buf.writeInt16BE(-1, o);
  else {
    o = buf.writeInt16BE(Buffer.byteLength(txnId), o);
    o += buf.write(txnId, o);
  }
  o = buf.writeInt16BE(args.acks, o);
  o = buf.writeInt32BE(args.timeout, o);
  o = buf.writeInt32BE(plans.length, o);
  const attributes = txnId ? TRANSACTIONAL : 0;
  for (const t of plans) {
    o = buf.writeInt16BE(t.topicLen, o);
    o += buf.write(t.topic, o);
    o = buf.writeInt32BE(t.partitions.length, o);
    for (const p of t.partitions) {
      const batchLength = 4 + 1 + 4 + 40 + p.recordsLen;
      o = buf.writeInt32BE(p.partition, o);
      o = buf.writeInt32BE(8 + 4 + batchLength, o);
      o = buf.writeBigInt64BE(0n, o);
      o = buf.writeInt32BE(batchLength, o);
      o = buf.writeInt32BE(0, o);
      o = buf.writeInt8(2, o);
      const crcAt = o;
      o += 4;
      const crcFrom = o;
      o = buf.writeInt16BE(attributes, o);
      o = buf.writeInt32BE(p.records.length - 1, o);
      o = buf.writeBigInt64BE(BigInt(now), o);
      o = buf.writeBigInt64BE(BigInt(now), o);
      o = buf.writeInt32BE(producerIdHigh, o);
      o = buf.writeInt32BE(producerIdLow, o);
      o = buf.writeInt16BE(args.producerEpoch ?? 0, o);
      o = buf.writeInt32BE(p.firstSequence, o);
      o = buf.writeInt32BE(p.records.length, o);
      for (let i = 0; i < p.records.length; i++) {
        const r = p.records[i]!;
        varint(r.body);
        buf[o++] = 0;
        buf[o++] = 0;
        varint(i);
        bytes(r.key, r.keyLen);
        bytes(r.value, r.valueLen);
        varint(r.headers.length);
        for (const [hk, hv, hkLen, hvLen] of r.headers) {
          bytes(hk, hkLen);
          bytes(hv, hvLen);
        }
      }
      buf.writeUInt32BE(crc32c(buf.subarray(crcFrom, o)) >>> 0, crcAt);
    }
  }
  if (o !== size) throw new Error(`produce request encoded to ${o} bytes, sized ${size} [TG_KAFKA_ENCODING]`);
  return buf;
}
