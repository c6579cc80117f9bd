import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { serialize } from 'pg-protocol';
import { TrailScanConfig } from '../../services/masking/detectors/trail-config.js';
import { TrailRedactor, redactedCommand, sameLengthMarker } from '../../services/masking/detectors/trail-redactor.js';
import { FrontendFramer } from '../../services/gateway/postgres/frontend-framer.js';
import { recordedClientMessage } from '../../services/gateway/postgres/recorded-client-bytes.js';

const trail = TrailRedactor.of(undefined)!;
const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

function framed(raw: Buffer) {
  const framer = new FrontendFramer(1 << 20);
  framer.push(raw);
  return framer.messages()[0]!;
}

describe('trail scan configuration', () => {
  it('is on by default with the high-precision detectors, email opt-in, and can be turned off per target', () => {
    assert.deepEqual(TrailScanConfig.parse(undefined), { scan: true, detectors: ['card', 'iban', 'jwt', 'cloud-token', 'vcs-token', 'private-key'] });
    assert.deepEqual(TrailScanConfig.parse({ detectors: ['email'] }), { scan: true, detectors: ['email'] });
    assert.equal(TrailRedactor.of(TrailScanConfig.parse({ scan: false })), null);
    assert.throws(() => TrailScanConfig.parse({ detectors: ['ssn'] }));
  });
});

describe('recorded client bytes', () => {
  it('masks a Bind parameter whose length field is a letter, keeping the message length', () => {
    let jwt = `${b64url({ alg: 'HS256' })}.${b64url({ s: 'x' })}.`;
    jwt += 'A'.repeat(97 - jwt.length); // length 97 = 'a': a naive scan would glue it to the token
    const raw = serialize.bind({ portal: '', statement: 's1', values: [jwt, '4111111111111111', null] });
    const recorded = recordedClientMessage(framed(raw), trail);
    assert.equal(recorded.length, raw.length);
    const text = recorded.toString('latin1');
    assert.ok(text.includes(sameLengthMarker('jwt', 97)) && text.includes(sameLengthMarker('card', 16)), text);
    assert.ok(!text.includes(jwt) && !text.includes('4111111111111111'));
    assert.deepEqual(raw.subarray(0, 5), recorded.subarray(0, 5));
  });

  it('leaves messages without hits as the same buffer, and never touches what carries no text', () => {
    const q = framed(serialize.query('select 1'));
    assert.equal(recordedClientMessage(q, trail), q.raw);
    const e = framed(serialize.execute({ portal: '', rows: 0 }));
    assert.equal(recordedClientMessage(e, trail), e.raw);
  });
});

describe('recorded commands', () => {
  it('masks text and text or binary parameters and counts hits per detector', () => {
    const key = 'AKIA' + 'Q'.repeat(16);
    const pan = '5555555555554444';
    const out = redactedCommand({ protocol: 'extended', text: `select '${key}'`, parameters: [pan, null, { base64: Buffer.from(`x ${pan} y`).toString('base64') }] }, trail);
    assert.equal(out.text, "select '[masked:cloud-token]'");
    assert.equal(out.parameters![0], '[masked:card]');
    assert.equal(out.parameters![1], null);
    assert.equal(Buffer.from((out.parameters![2] as { base64: string }).base64, 'base64').toString(), `x ${sameLengthMarker('card', 16)} y`);
    assert.deepEqual(out.detectorHits, { 'cloud-token': 1, card: 2 });
  });

  it('returns the record itself when nothing is found (no detectorHits field)', () => {
    const data = { protocol: 'simple' as const, text: `select ${randomBytes(4).readUInt32BE(0)}` };
    assert.equal(redactedCommand(data, trail), data);
  });
});
