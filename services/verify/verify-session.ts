import { canonicalJson, recordHash, type AuditRecord, type ChainInput, type CheckpointSignedData } from '../../events/index.js';
import { CHECKPOINT_TYP } from '../integrity/checkpoint-signer.js';
import type { TrustedKeys } from './trusted-keys.js';
import type { Failure, SessionVerdict } from './verdict.js';

function chainInput(r: AuditRecord): ChainInput {
  if (r.stream === 'events') return { v: r.v, sessionId: r.sessionId, seq: r.seq, ts: r.ts, stream: 'events', type: r.type, data: r.data };
  const chunk = { v: r.v, sessionId: r.sessionId, seq: r.seq, ts: r.ts, stream: 'bytes' as const, direction: r.direction, ...(r.channel === undefined ? {} : { channel: r.channel }), ...(r.stderr ? { stderr: true as const } : {}), offset: r.offset };
  // A copy exported from a SIEM carries the chunk's digest and length instead of its payload.
  const digest = r as unknown as { data?: Buffer; sha256?: unknown; length?: unknown };
  if (digest.data === undefined && typeof digest.sha256 === 'string' && typeof digest.length === 'number') return { ...chunk, sha256: digest.sha256, length: digest.length };
  return { ...chunk, data: r.data };
}

function hashesAs(r: AuditRecord, change: { seq?: number; sessionId?: string }): boolean {
  return recordHash(r.prev, { ...chainInput(r), ...change }) === r.hash;
}

/** Names what happened at the first record whose hash or link fails. */
function classify(recs: AuditRecord[], i: number, expectedPrev: string, otherSessions: () => string[]): Failure {
  const r = recs[i]!;
  const s = r.seq;
  const next = recs[i + 1];
  const selfOk = hashesAs(r, {});
  if (!selfOk) {
    // Written at another position of this session?
    const last = recs[recs.length - 1]!.seq + 1;
    for (let candidate = 1; candidate <= last; candidate++) {
      if (candidate === s || !hashesAs(r, { seq: candidate })) continue;
      if (candidate === s + 1 && !(next && hashesAs(next, { seq: s }))) {
        return { kind: 'missing', seq: s, message: `the record written as seq ${s} is gone and the records after it were renumbered (seq ${s} holds the record written as seq ${s + 1})` };
      }
      if (candidate === s - 1 && i > 0 && r.prev === recs[i - 1]!.prev) {
        return { kind: 'inserted', seq: s - 1, message: `seq ${s - 1} holds a record the gateway never wrote; the records after it were renumbered` };
      }
      return { kind: 'reordered', seq: s, message: `seq ${s} holds the record written as seq ${candidate}` };
    }
    for (const other of otherSessions()) {
      if (hashesAs(r, { sessionId: other })) return { kind: 'foreign', seq: s, message: `seq ${s} holds a record written for session ${other}` };
    }
    if (next && next.prev === expectedPrev && hashesAs(next, { seq: s })) {
      return { kind: 'inserted', seq: s, message: `seq ${s} holds a record the gateway never wrote; the records after it were renumbered` };
    }
    return { kind: 'modified', seq: s, message: `seq ${s} (${r.type}) no longer matches its hash: its content was changed` };
  }
  if (next && next.prev === expectedPrev && hashesAs(next, { seq: s })) {
    return { kind: 'inserted', seq: s, message: `seq ${s} holds a record the gateway never wrote; the records after it were renumbered` };
  }
  if (i > 0 && r.prev !== recs[i - 1]!.hash) {
    return { kind: 'modified', seq: s - 1, message: `seq ${s - 1} was rewritten with a new hash: seq ${s} still links to the original` };
  }
  return { kind: 'missing', seq: s, message: `seq ${s} links to a record that is not in the session` };
}

interface Envelope {
  instance?: string;
  client?: string;
  identity?: string;
  target?: string | null;
}

function envelopeOf(r: AuditRecord): Required<Envelope> {
  return { instance: r.instance, client: canonicalJson(r.client), identity: canonicalJson(r.identity), target: r.target?.name ?? null };
}

/**
 * Verifies one session: sequence, links, envelope against the chained events, signatures, and a
 * signed end. Stops at the first failure and names it.
 */
export async function verifySession(sessionId: string, recs: AuditRecord[], keys: TrustedKeys, otherSessions: () => string[], cutFields: (r: AuditRecord) => string[] = () => []): Promise<SessionVerdict> {
  const unchecked: number[] = [];
  const verdict = (status: SessionVerdict['status'], signedThrough: number, failure?: Failure): SessionVerdict => ({ sessionId, status, records: recs.length, signedThrough, ...(unchecked.length ? { contentUnchecked: unchecked } : {}), ...(failure ? { failure } : {}) });
  if (recs.length === 0) return verdict('tampered', 0, { kind: 'missing', seq: null, message: 'the session has no records' });

  const heads = new Map<number, string>();
  const chained: Envelope = {};
  /** Envelope fields whose chained source record was cut by a SIEM sink: there is nothing to hold them against. */
  const unanchored = new Set<keyof Envelope>();
  let prev = '';
  let signedThrough = 0;
  let sealedAt: number | null = null;
  let aborted: number | null = null;
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i]!;
    const expected = i + 1;
    if (sealedAt !== null) return verdict('tampered', signedThrough, { kind: 'after-end', seq: r.seq, message: `seq ${r.seq} follows the session's signed end at seq ${sealedAt}` });
    if (r.seq !== expected) return verdict('tampered', signedThrough, { kind: 'missing', seq: expected, message: r.seq > expected ? `seq ${expected}${r.seq - 1 > expected ? `-${r.seq - 1}` : ''} missing` : `seq ${r.seq} appears twice` });
    if (r.sessionId !== sessionId) return verdict('tampered', signedThrough, { kind: 'foreign', seq: r.seq, message: `seq ${r.seq} belongs to session ${r.sessionId}` });
    if (r.prev !== prev || !hashesAs(r, {})) {
      // A value cut by a SIEM cannot be re-hashed; the stored hash still has to link on both sides and be signed.
      const cut = cutFields(r);
      if (!cut.length) return verdict('tampered', signedThrough, classify(recs, i, prev, otherSessions));
      if (r.prev !== prev) return verdict('tampered', signedThrough, { kind: 'modified', seq: r.seq, message: `seq ${r.seq} (its ${cut.join(', ')} cut by the SIEM's field limit) does not link to the record before it: one of them was changed` });
      if (r.stream === 'events' && r.type === 'checkpoint.signed') return verdict('tampered', signedThrough, { kind: 'checkpoint-mismatch', seq: r.seq, message: `the checkpoint at seq ${r.seq} was cut by the SIEM's field limit (${cut.join(', ')}): its signature cannot be checked; raise the sink's maxFieldBytes` });
      unchecked.push(r.seq);
      if (r.stream === 'events') {
        if (r.type === 'session.started') unanchored.add('instance').add('client');
        else if (r.type === 'auth.decided') unanchored.add('identity');
        else if (r.type === 'policy.decided') unanchored.add('target');
      }
      heads.set(r.seq, r.hash);
      prev = r.hash;
      continue;
    }

    if (r.stream === 'events') {
      if (r.type === 'session.started') {
        const d = r.data as { instance?: string; client?: unknown };
        if (d.instance !== undefined) chained.instance = d.instance;
        if (d.client !== undefined) chained.client = canonicalJson(d.client);
      } else if (r.type === 'auth.decided') {
        const d = r.data as { outcome: string; identity?: unknown };
        if (d.outcome === 'granted' && d.identity !== undefined) chained.identity = canonicalJson(d.identity);
      } else if (r.type === 'policy.decided') {
        chained.target = (r.data as { target: string }).target;
      } else if (r.type === 'session.aborted') {
        aborted = r.seq;
      } else if (r.type === 'checkpoint.signed') {
        const d = r.data as CheckpointSignedData;
        const check = await keys.check(d.jws, CHECKPOINT_TYP);
        if (!check.ok) return verdict('tampered', signedThrough, { kind: check.kind, seq: r.seq, message: `checkpoint at seq ${r.seq}: ${check.message}` });
        const p = check.payload;
        if (p.sid !== sessionId || p.seq !== d.covers.seq || p.hash !== d.covers.hash || p.final !== d.final || heads.get(d.covers.seq) !== d.covers.hash) {
          return verdict('tampered', signedThrough, { kind: 'checkpoint-mismatch', seq: r.seq, message: `the chain head signed at seq ${r.seq} (through seq ${String(p.seq)}) does not match the records: records after seq ${signedThrough} were rewritten after they were signed` });
        }
        signedThrough = d.covers.seq;
        if (d.final) {
          if (d.covers.seq !== r.seq - 1) return verdict('tampered', signedThrough, { kind: 'checkpoint-mismatch', seq: r.seq, message: `the final signature at seq ${r.seq} covers seq ${d.covers.seq}, not the record before it` });
          sealedAt = r.seq;
        }
      }
    }
    heads.set(r.seq, r.hash);
    prev = r.hash;
  }
  // Every envelope must agree with what the chain itself says about the session.
  const want: Required<Envelope> = { instance: chained.instance ?? '', client: chained.client ?? '', identity: chained.identity ?? 'null', target: chained.target ?? null };
  for (const r of recs) {
    const seen = envelopeOf(r);
    for (const field of ['instance', 'client', 'identity', 'target'] as const) {
      if (((field === 'instance' || field === 'client') && chained[field] === undefined) || unanchored.has(field)) continue;
      if (seen[field] !== want[field]) {
        return verdict('tampered', signedThrough, { kind: 'envelope-mismatch', seq: r.seq, message: `seq ${r.seq} carries a ${field} that differs from the one the session's chained events record` });
      }
    }
  }
  if (sealedAt === null) {
    const last = recs[recs.length - 1]!.seq;
    return verdict('truncated', signedThrough, { kind: 'truncated', seq: last, message: `no signed end: the records stop at seq ${last} (signed through seq ${signedThrough}); the tail was cut off or the session is still open` });
  }
  if (aborted !== null) {
    return verdict('truncated', signedThrough, { kind: 'aborted', seq: aborted, message: `closed at seq ${aborted} by a restarted gateway: intact and signed up to there, anything the session did after seq ${aborted - 1} is lost` });
  }
  return verdict('intact', signedThrough);
}
