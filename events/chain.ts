import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

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
  return createHash('sha256').update(data).digest('base64url');
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
  const text = canonicalize(value);
  if (text === undefined) throw new Error('TG_CHAIN_ENCODING: a record has no JSON form');
  return text;
}

/** The link: one hash over the previous hash and the record's canonical form. */
export function linkHash(prev: string, canonical: string): string {
  return createHash('sha256').update(`${CHAIN_VERSION}\n${prev}\n${canonical}`).digest('base64url');
}

export function recordHash(prev: string, record: ChainInput): string {
  return linkHash(prev, canonicalJson(chainedFields(record)));
}
