import { hash } from 'node:crypto';
import { CanonicalEncodingError, jcs, jcsNumber, jcsString } from './canonical-json.js';

/**
 * The per-session hash chain, specified so that anyone can re-implement the check (see events/CHAIN.md):
 *
 *   hash(record) = base64url( SHA-256( "tg-chain-1\n" + prev + "\n" + canonical(record) ) )
 *
 * `prev` is the previous record's hash in the same session ("" for seq 1), `canonical` the RFC 8785
 * (JCS) serialisation of the record's chained fields. Byte chunks are chained through the SHA-256 of
 * their payload, so a verifier of events alone needs only that digest.
 */
export const CHAIN_VERSION = 'tg-chain-1';

export type ChainedFields =
  | { v: number; sessionId: string; seq: number; ts: string; stream: 'events'; type: string; data: unknown }
  | { v: number; sessionId: string; seq: number; ts: string; stream: 'bytes'; type: 'bytes'; direction: string; channel?: number; stderr?: true; offset: number; length: number; sha256: string };

/**
 * A record as it is chained: events with their data, byte chunks with their payload or, where a copy
 * keeps only that (a search index), the payload's digest and length.
 */
export type ChainInput =
  | { v: number; sessionId: string; seq: number; ts: string; stream: 'events'; type: string; data: unknown }
  | { v: number; sessionId: string; seq: number; ts: string; stream: 'bytes'; direction: string; channel?: number; stderr?: true; offset: number; data: Uint8Array }
  | { v: number; sessionId: string; seq: number; ts: string; stream: 'bytes'; direction: string; channel?: number; stderr?: true; offset: number; sha256: string; length: number };

export function payloadDigest(data: Uint8Array): string {
  return hash('sha256', data, 'base64url');
}

export function chainedFields(r: ChainInput): ChainedFields {
  if (r.stream === 'events') return { v: r.v, sessionId: r.sessionId, seq: r.seq, ts: r.ts, stream: 'events', type: r.type, data: r.data };
  return {
    v: r.v,
    sessionId: r.sessionId,
    seq: r.seq,
    ts: r.ts,
    stream: 'bytes',
    type: 'bytes',
    direction: r.direction,
    ...(r.channel === undefined ? {} : { channel: r.channel }),
    ...(r.stderr ? { stderr: true as const } : {}),
    offset: r.offset,
    ...('sha256' in r ? { length: r.length, sha256: r.sha256 } : { length: r.data.length, sha256: payloadDigest(r.data) }),
  };
}

export function canonicalJson(value: unknown): string {
  const text = jcs(value);
  if (text === undefined) throw new CanonicalEncodingError('TG_CHAIN_ENCODING: a record has no JSON form');
  return text;
}

/** The link: one hash over the previous hash and the record's canonical form (one-shot, no Hash object). */
export function linkHash(prev: string, canonical: string): string {
  return hash('sha256', `${CHAIN_VERSION}\n${prev}\n${canonical}`, 'base64url');
}

export function recordHash(prev: string, record: ChainInput): string {
  return linkHash(prev, chainedJson(record));
}

/** A record's chained fields without the schema version, as the recorder holds them before the envelope exists. */
export type ChainBody = ChainInput extends infer T ? (T extends ChainInput ? Omit<T, 'v'> : never) : never;

/**
 * JCS(chainedFields(r)) without building the object: the envelope's keys are known, so they are
 * written in their sorted order. Events may pass their data's canonical JSON when they already have it.
 */
export function chainedJson(r: ChainInput, dataJson?: string): string {
  return chainedJsonOf(r.v, r, dataJson);
}

export function chainedJsonOf(v: number, r: ChainBody, dataJson?: string): string {
  if (typeof v !== 'number' || !plainEnvelope(r)) return canonicalJson(chainedFields({ v, ...r } as ChainInput));
  if (r.stream === 'events') {
    const data = dataJson ?? jcs(r.data);
    return `{${data === undefined ? '' : `"data":${data},`}"seq":${jcsNumber(r.seq)},"sessionId":${jcsString(r.sessionId)},"stream":"events","ts":${jcsString(r.ts)},"type":${jcsString(r.type)},"v":${jcsNumber(v)}}`;
  }
  const length = 'sha256' in r ? r.length : r.data.length;
  const sha256 = 'sha256' in r ? r.sha256 : payloadDigest(r.data);
  if (typeof length !== 'number' || typeof sha256 !== 'string') return canonicalJson(chainedFields({ v, ...r } as ChainInput));
  // Sorted: channel, direction, length, offset, seq, sessionId, sha256, stderr, stream, ts, type, v.
  return `{${r.channel === undefined ? '' : `"channel":${jcsNumber(r.channel)},`}"direction":${jcsString(r.direction)},"length":${jcsNumber(length)},"offset":${jcsNumber(r.offset)},"seq":${jcsNumber(r.seq)},"sessionId":${jcsString(r.sessionId)},"sha256":${jcsString(sha256)},${r.stderr ? '"stderr":true,' : ''}"stream":"bytes","ts":${jcsString(r.ts)},"type":"bytes","v":${jcsNumber(v)}}`;
}

/** Whether the envelope has the types it is declared with; a log being verified may not, and takes the general way. */
function plainEnvelope(r: ChainBody): boolean {
  if (typeof r.seq !== 'number' || typeof r.sessionId !== 'string' || typeof r.ts !== 'string') return false;
  if (r.stream === 'events') return typeof r.type === 'string';
  return r.stream === 'bytes' && typeof r.direction === 'string' && typeof r.offset === 'number' && (r.channel === undefined || typeof r.channel === 'number');
}
