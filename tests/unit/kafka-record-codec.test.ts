/**
 * The gateway writes each pending record into its spool frame as text (encodePending): the same
 * message the general path makes (encodeRecord of toAuditRecord), with an event's data as the text
 * that was hashed. Consumers and the chain heads must not be able to tell the two apart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { PendingRecord } from '../../connectors/embedded-log/embedded-log.js';
import { decodeRecord, encodePending, encodeRecord, envelopeJson, packMessages, packSpoolMessages, toAuditRecord, unpackMessages } from '../../connectors/kafka/record-codec.js';
import { SessionHeads } from '../../connectors/kafka/session-heads.js';
import { canonicalJson, type SessionContext } from '../../events/index.js';

const identity = {
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github',
  profile: 'github' as const,
  subject: 'repo:acme/payments:ref:refs/heads/main',
  expiresAt: '2026-12-01T00:00:00.000Z',
  ci: { repository: 'acme/payments', workflow: 'deploy "prod"', ref: 'refs/heads/main', runId: '42', actor: 'ünïcode\u2028' },
  claims: { environment: 'prod', quote: '"\\' },
};
const contexts: SessionContext[] = [
  { sessionId: 's-1', instance: 'gw-a', protocol: 'postgres', target: { name: 'orders', kind: 'postgres' }, identity, client: { address: '10.0.0.7', port: 50123 } },
  { sessionId: 's-2', instance: 'gw-b', protocol: 'ssh', target: null, identity: null, client: { address: '::1', port: 2 } },
];

const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('"', '\\', '\u2028', '\u0000', 'select 1 -- é'));
const data = fc.dictionary(fc.oneof(text, fc.constantFrom('text', 'parameters', 'protocol', 'final')), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });
const pending = fc.oneof(
  fc.record({ seq: fc.integer({ min: 1, max: 1e6 }), type: fc.constantFrom('command.started', 'session.started', 'checkpoint.signed'), data }).map(
    ({ seq, type, data }) => ({ sessionId: 's-1', seq, ts: '2026-12-01T17:00:00.123Z', stream: 'events', type, data, prev: 'p-hash', hash: `h-${seq}` }) as PendingRecord,
  ),
  fc.record({ seq: fc.integer({ min: 1, max: 1e6 }), channel: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }), stderr: fc.boolean(), bytes: fc.uint8Array({ maxLength: 64 }) }).map(
    ({ seq, channel, stderr, bytes }) =>
      ({ sessionId: 's-2', seq, ts: '2026-12-01T17:00:00.123Z', stream: 'bytes', direction: 'server', ...(channel === undefined ? {} : { channel }), ...(stderr ? { stderr: true } : {}), offset: seq * 10, data: Buffer.from(bytes), prev: 'p', hash: `h-${seq}` }) as PendingRecord,
  ),
);

const ctxOf = (r: PendingRecord) => contexts.find((c) => c.sessionId === r.sessionId)!;
const general = (r: PendingRecord) => unpackMessages(packMessages([encodeRecord(toAuditRecord(ctxOf(r), r))]))[0]!;
const written = (r: PendingRecord, canonical?: string) => unpackMessages(packSpoolMessages([encodePending(envelopeJson(ctxOf(r)), r, canonical)]))[0]!;

describe('pending records written into the spool frame', () => {
  it('are byte for byte the general encoding when the data is serialised the same way', () => {
    fc.assert(
      fc.property(pending, (r) => {
        const a = general(r);
        const b = written(r);
        assert.equal(b.key, a.key);
        assert.equal(b.stream, a.stream);
        assert.deepEqual(b.headers, a.headers);
        assert.equal(Buffer.compare(b.value, a.value), 0, `${a.value.toString()}\n${b.value.toString()}`);
      }),
      { numRuns: 300 },
    );
  });

  it('decode to the same record with an event\'s data as its canonical text', () => {
    fc.assert(
      fc.property(pending, (r) => {
        const canonical = r.stream === 'events' ? canonicalJson(r.data) : undefined;
        const a = general(r);
        const b = written(r, canonical);
        assert.deepEqual(b.headers, a.headers);
        assert.deepEqual(decodeRecord(r.stream, b.value, b.headers), decodeRecord(r.stream, a.value, a.headers));
        if (canonical !== undefined) assert.ok(b.value.toString().includes(`"data":${canonical}`), 'the hashed text is what Kafka carries');
      }),
      { numRuns: 300 },
    );
  });

  it('frame several messages back to back, multi-byte text included', () => {
    const records = fc.sample(pending, { numRuns: 50, seed: 7 });
    const back = unpackMessages(packSpoolMessages(records.map((r) => encodePending(envelopeJson(ctxOf(r)), r))));
    assert.deepEqual(
      back.map((m) => [m.key, m.headers, m.value.toString('hex')]),
      records.map((r) => general(r)).map((m) => [m.key, m.headers, m.value.toString('hex')]),
    );
  });
});

describe('chain heads folded from a batch', () => {
  it('are the same when only the records that can change a head are parsed', () => {
    const session = (id: string, n: number, final: boolean) => {
      const out: PendingRecord[] = [{ sessionId: id, seq: 1, ts: 't', stream: 'events', type: 'session.started', data: { protocol: 'ssh', tls: false, requested: {} }, prev: '', hash: `${id}-1` } as PendingRecord];
      for (let seq = 2; seq <= n; seq++) {
        out.push(seq % 3 === 0
          ? ({ sessionId: id, seq, ts: 't', stream: 'bytes', direction: 'client', offset: seq, data: Buffer.from('x'), prev: '', hash: `${id}-${seq}` } as PendingRecord)
          : ({ sessionId: id, seq, ts: 't', stream: 'events', type: seq % 5 === 0 ? 'checkpoint.signed' : 'command.started', data: { final: false }, prev: '', hash: `${id}-${seq}` } as PendingRecord));
      }
      if (final) out.push({ sessionId: id, seq: n + 1, ts: 't', stream: 'events', type: 'checkpoint.signed', data: { final: true }, prev: '', hash: `${id}-end` } as PendingRecord);
      return out;
    };
    const ctx = (id: string): SessionContext => ({ ...contexts[1]!, sessionId: id, instance: 'gw' });
    const a = session('a', 40, true);
    const b = session('b', 33, false);
    // Interleaved as sessions write, then split into frames at arbitrary points.
    const all = a.flatMap((r, i) => [r, ...(b[i] ? [b[i]!] : [])]);
    const messages = unpackMessages(packSpoolMessages(all.map((r) => encodePending(envelopeJson(ctx(r.sessionId)), r))));
    const oneByOne = SessionHeads.load('/nonexistent');
    messages.forEach((m, i) => oneByOne.apply([m], i + 1));
    const batched = SessionHeads.load('/nonexistent');
    batched.apply(messages.slice(0, 17), 17);
    batched.apply(messages.slice(17), messages.length);
    assert.deepEqual(batched.unsealed('gw'), oneByOne.unsealed('gw'));
    assert.deepEqual(batched.unsealed('gw'), [{ context: { ...ctx('b'), protocol: 'ssh' }, lastSeq: 33, lastHash: 'b-33' }]);
    assert.deepEqual(batched.sessionIds().sort(), ['a', 'b']);
  });
});
