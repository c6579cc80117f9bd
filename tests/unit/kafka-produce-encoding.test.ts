/**
 * The drainer's produce requests are encoded in one pass (connectors/kafka/produce-encoding.ts)
 * instead of by kafkajs' record-by-record encoder: the broker must receive the very same bytes.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it, mock } from 'node:test';
import fc from 'fast-check';
import { installProduceEncoder } from '../../connectors/kafka/produce-encoding.js';

const require = createRequire(import.meta.url);
type Request = { apiKey: number; apiVersion: number; encode: () => Promise<{ buffer: Buffer }> };
type Make = (args: Record<string, unknown>) => { request: Request };
const produce = require('kafkajs/src/protocol/requests/produce/index.js') as { protocol: (q: { version: number }) => Make };
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): unknown };
// How kafkajs frames every request before it goes on the socket (size, API key and version, correlation id, client id).
const frame = require('kafkajs/src/protocol/request.js') as (q: { correlationId: number; clientId: string; request: Request }) => Promise<{ buffer: Buffer }>;
// kafkajs' own encoder, taken before the one-pass encoder is put in front of it.
const kafkajs = produce.protocol;
assert.equal(installProduceEncoder(), true, 'kafkajs is the version the encoder was written for');
const patched = produce.protocol;

const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('', 'é', '😀', '\u0000', '{"v":1}'));
const sizes = fc.constantFrom(0, 1, 63, 64, 127, 128, 8191, 8192, 16384, 70_000);
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  sizes.map((n) => Buffer.alloc(n, 7)),
);
const value = fc.oneof(bytes, text, fc.constant(null));
const headerValue = fc.oneof(text, bytes, fc.array(text, { minLength: 1, maxLength: 3 }));
const message = fc.record(
  { key: fc.oneof(text, bytes, fc.constant(null)), value, headers: fc.dictionary(fc.oneof(text, fc.constantFrom('tg-record', 'tg-type')), headerValue, { maxKeys: 4 }) },
  { requiredKeys: ['value'] },
);
const partition = fc.record({ partition: fc.nat(50), firstSequence: fc.nat(2 ** 31 - 1), messages: fc.array(message, { maxLength: 8 }) });
const request = fc.record({
  acks: fc.constantFrom(-1, 0, 1),
  timeout: fc.nat(120_000),
  transactionalId: fc.oneof(fc.constant(null), text),
  producerId: fc.oneof(fc.constant(undefined), fc.bigInt({ min: -1n, max: 2n ** 62n }).map((n) => Long.fromValue(n.toString()))),
  producerEpoch: fc.nat(32767),
  topicData: fc.array(fc.record({ topic: text, partitions: fc.array(partition, { maxLength: 3 }) }), { maxLength: 3 }),
});

/** The request as kafkajs puts it on the socket, framed, with its own encoder and with the one-pass one. */
async function both(version: number, args: Record<string, unknown>, clientId = 'trailgate-gateway'): Promise<[Buffer, Buffer]> {
  const a = await frame({ correlationId: 7, clientId, request: kafkajs({ version })(args).request });
  const b = await frame({ correlationId: 7, clientId, request: patched({ version })(args).request });
  return [Buffer.from(a.buffer), Buffer.from(b.buffer)];
}

describe('produce requests encoded in one pass', () => {
  it('are byte for byte what kafkajs writes, for generated requests of every version the drainer may use', async () => {
    mock.method(Date, 'now', () => 1_764_600_000_123);
    try {
      await fc.assert(
        fc.asyncProperty(request, fc.constantFrom(3, 4, 5, 6, 7), fc.oneof(text, fc.constant('x'.repeat(600))), async (args, version, clientId) => {
          const [expected, actual] = await both(version, args, clientId);
          assert.deepEqual(actual, expected);
        }),
        { numRuns: 300 },
      );
    } finally {
      mock.restoreAll();
    }
  });

  it('are the same for a batch whose offsets and sizes need multi-byte varints', async () => {
    mock.method(Date, 'now', () => 1_764_600_000_123);
    try {
      const messages = Array.from({ length: 300 }, (_, i) => ({ key: `session-${i % 7}`, value: Buffer.alloc(i * 50, i), headers: { 'tg-type': 'bytes', 'tg-record': `{"seq":${i},"é":"😀"}`, 'tg-v': '1' } }));
      const args = { acks: -1, timeout: 30_000, transactionalId: 'tg.gateway.a', producerId: Long.fromValue('9007199254740993'), producerEpoch: 3, topicData: [{ topic: 'tg.bytes', partitions: [{ partition: 2, firstSequence: 2_147_483_000, messages }] }] };
      const [expected, actual] = await both(7, args);
      assert.equal(actual.length, expected.length);
      assert.deepEqual(actual, expected);
    } finally {
      mock.restoreAll();
    }
  });

  it('leaves what it does not cover to kafkajs: compression and message timestamps', async () => {
    mock.method(Date, 'now', () => 1_764_600_000_123);
    const withTimestamp = { acks: -1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'k', value: 'v', timestamp: '1764600000000' }] }] }] };
    const compressed = { ...withTimestamp, compression: 1, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'k', value: 'v' }] }] }] };
    try {
      for (const args of [withTimestamp, compressed]) {
        const [expected, actual] = await both(7, args);
        assert.deepEqual(actual, expected);
      }
    } finally {
      mock.restoreAll();
    }
  });
});
