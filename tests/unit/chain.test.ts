import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, chainedFields, recordHash } from '../../events/index.js';

/** The vectors published in events/CHAIN.md, so that other implementations can test against them. */
describe('hash chain encoding', () => {
  const sessionId = '0190c0de-0000-7000-8000-000000000001';
  const started = { v: 1, sessionId, seq: 1, ts: '2026-11-25T12:00:00.000Z', stream: 'events' as const, type: 'session.started', data: { tls: true, protocol: 'postgres', requested: { database: 'app' } } };
  const chunk = { v: 1, sessionId, seq: 2, ts: '2026-11-25T12:00:00.001Z', stream: 'bytes' as const, direction: 'server', offset: 0, data: Buffer.from('R\0\0\0\x08\0\0\0\0', 'latin1') };

  it('serialises an event with sorted keys and hashes it with an empty prev', () => {
    assert.equal(canonicalJson(chainedFields(started)), '{"data":{"protocol":"postgres","requested":{"database":"app"},"tls":true},"seq":1,"sessionId":"0190c0de-0000-7000-8000-000000000001","stream":"events","ts":"2026-11-25T12:00:00.000Z","type":"session.started","v":1}');
    assert.equal(recordHash('', started), 'zbuEyil36lxCCi7AMXCRvAYC95iAMksLyMhkPRCqHNI');
  });

  it('chains a byte chunk through the digest of its payload', () => {
    assert.equal(recordHash(recordHash('', started), chunk), '4sgUdF9w-Dddy7SV5VLI2Q72vb8biMTM6FJo-cojLtI');
  });

  it('checks a chunk from its digest alone, as a copy without the bytes keeps it', () => {
    const { data: _payload, ...rest } = chunk;
    const digestOnly = { ...rest, length: 9, sha256: 'HZcR05-JTopPQjTX9fGe2bgA2pnDpB-gq1sSTKugl_I' };
    assert.equal(recordHash('x', digestOnly), recordHash('x', chunk));
  });

  it('changes the hash when any chained field or the previous hash changes', () => {
    const base = recordHash('p', started);
    assert.notEqual(recordHash('q', started), base);
    assert.notEqual(recordHash('p', { ...started, seq: 2 }), base);
    assert.notEqual(recordHash('p', { ...started, sessionId: 'other' }), base);
    assert.notEqual(recordHash('p', { ...started, data: { ...started.data, tls: false } }), base);
    assert.notEqual(recordHash('', { ...chunk, data: Buffer.from('R\0\0\0\x08\0\0\0\x01', 'latin1') }), recordHash('', chunk));
  });

  it('reads the same after a round trip through JSON storage', () => {
    const withUndefined = { ...started, data: { ...started.data, detail: undefined } };
    assert.equal(recordHash('', JSON.parse(JSON.stringify(withUndefined)) as typeof started), recordHash('', withUndefined));
  });
});
