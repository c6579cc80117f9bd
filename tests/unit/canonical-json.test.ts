import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { canonicalJson, chainedFields, chainedJson, recordHash, type ChainInput } from '../../events/index.js';
import { jcs } from '../../events/canonical-json.js';

/** The reference implementation's answer, or the fact that it refused. */
function reference(value: unknown): { text: string | undefined } | { refused: true } {
  try {
    return { text: canonicalize(value) };
  } catch {
    return { refused: true };
  }
}

function ours(value: unknown): { text: string | undefined } | { refused: true } {
  try {
    return { text: jcs(value) };
  } catch {
    return { refused: true };
  }
}

// Any UTF-16 code unit, so lone and paired surrogates, controls, quotes and backslashes all turn up.
const codeUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }),
  fc.constantFrom(0x22, 0x5c, 0x2f, 0x7f, 0x00, 0x1f, 0x08, 0x0c, 0x0a, 0x0d, 0x09, 0x2028, 0x2029, 0xfeff),
  fc.integer({ min: 0xd800, max: 0xdfff }),
).map((c) => String.fromCharCode(c));
const anyText = fc.array(codeUnit, { maxLength: 12 }).map((units) => units.join(''));
// Well-formed text too (paired surrogates, astral characters), which the reference accepts.
const wellFormedText = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }), fc.string({ maxLength: 12 }));
const text = fc.oneof(anyText, wellFormedText, wellFormedText);
const number = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 0, 1e21, 1e-7, 1e-6, 5e-324, -5e-324, 1.7976931348623157e308, 2 ** 53, 2 ** 53 + 2, 0.1 + 0.2, 333333333.3333333, 1e20, 123e-20, NaN, Infinity, -Infinity),
);
const key = fc.oneof(text, fc.constantFrom('a', 'b', 'aa', 'B', '\u00e9', '\ud83d\ude00', '\uffff', '10', '2', '', 'data', 'seq'));

const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    number,
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 6 }),
    fc.date({ noInvalidDate: true }),
  ),
}));

describe('canonical JSON encoder', () => {
  it('writes exactly what the canonicalize package writes, and refuses what it refuses', () => {
    fc.assert(fc.property(value, (v) => assert.deepEqual(ours(v), reference(v))), { numRuns: 20_000 });
  });

  it('orders keys by UTF-16 code units, not code points', () => {
    // As code points U+FF61 comes before U+1F600; as UTF-16 the emoji's 0xD83D comes before 0xFF61.
    const o = { '\uff61': 1, '\ud83d\ude00': 2, a: 3, A: 4 };
    assert.equal(jcs(o), '{"A":4,"a":3,"\ud83d\ude00":2,"\uff61":1}');
    assert.equal(jcs(o), canonicalize(o));
  });

  it('writes numbers as ECMAScript does, -0 as 0', () => {
    assert.equal(jcs([-0, 1e21, 5e-324, 1e-7, 100, 0.000001]), '[0,1e+21,5e-324,1e-7,100,0.000001]');
  });

  it('refuses a cycle with a code instead of overflowing the stack', () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    assert.throws(() => jcs(o), { code: 'TG_CHAIN_ENCODING' });
    assert.throws(() => canonicalJson(undefined), { code: 'TG_CHAIN_ENCODING' });
  });
});

/** The chain as events/CHAIN.md specifies it, computed with the reference implementation. */
function referenceHash(prev: string, r: ChainInput): string {
  return createHash('sha256').update(`tg-chain-1\n${prev}\n${canonicalize(chainedFields(r))!}`).digest('base64url');
}

const seq = fc.oneof(fc.integer({ min: 1, max: 2 ** 31 }), fc.constantFrom(1, 2 ** 53 - 1));
const envelope = { v: fc.constantFrom(1, 2), sessionId: fc.oneof(fc.uuid(), text), seq, ts: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), text) };
const eventInput = fc.record({ ...envelope, stream: fc.constant('events' as const), type: fc.oneof(fc.constantFrom('command.started', 'session.started', 'checkpoint.signed'), text), data: value });
const bytesInput = fc.record(
  { ...envelope, stream: fc.constant('bytes' as const), direction: fc.oneof(fc.constantFrom('client', 'server'), text), channel: fc.integer({ min: 0, max: 10 }), stderr: fc.constant(true as const), offset: fc.nat(), data: fc.uint8Array({ maxLength: 64 }) },
  { requiredKeys: ['v', 'sessionId', 'seq', 'ts', 'stream', 'direction', 'offset', 'data'] },
);
const digestInput = fc.record(
  { ...envelope, stream: fc.constant('bytes' as const), direction: fc.constantFrom('client', 'server'), channel: fc.integer({ min: 0, max: 10 }), offset: fc.nat(), length: fc.nat(), sha256: fc.base64String({ maxLength: 44 }) },
  { requiredKeys: ['v', 'sessionId', 'seq', 'ts', 'stream', 'direction', 'offset', 'length', 'sha256'] },
);

describe('record encoder', () => {
  it('chains every record to the hash the reference implementation gives', () => {
    fc.assert(
      fc.property(fc.oneof(eventInput, bytesInput, digestInput), fc.oneof(fc.constant(''), fc.base64String({ maxLength: 43 })), (r, prev) => {
        const expected = (() => {
          try {
            return { hash: referenceHash(prev, r), canonical: canonicalize(chainedFields(r)) };
          } catch {
            return 'refused';
          }
        })();
        const actual = (() => {
          try {
            return { hash: recordHash(prev, r), canonical: chainedJson(r) };
          } catch {
            return 'refused';
          }
        })();
        assert.deepEqual(actual, expected);
      }),
      { numRuns: 20_000 },
    );
  });

  it('takes the data text it was given, so the stored text and the hashed text are the same bytes', () => {
    const r = { v: 1, sessionId: 's', seq: 3, ts: 't', stream: 'events' as const, type: 'command.started', data: { text: 'SELECT 1', protocol: 'simple' } };
    const dataJson = canonicalJson(r.data);
    assert.equal(chainedJson(r, dataJson), canonicalize(chainedFields(r)));
    assert.ok(chainedJson(r, dataJson).includes(`"data":${dataJson},`));
  });
});
