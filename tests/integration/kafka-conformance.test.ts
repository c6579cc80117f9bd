/**
 * Conformance of the Kafka client (kafkajs, through Trailgate's wrapper) against the real broker:
 * exactly the features the gateway's spool drainer and the consumers rely on. A broker upgrade or a
 * client change that breaks one of them fails here, by name, before it loses or doubles a record.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { createKafka } from '../../connectors/kafka/kafka-client.js';
import { protocolErrorType, retryingTransient, transactionErrorKind } from '../../connectors/kafka/kafka-errors.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import { eventually, kafkaLog, killBroker, restartBroker } from '../support/kafka-env.js';

interface Seen {
  offset: string;
  value: Buffer;
  headers: Record<string, Buffer>;
}

const SENTINEL = 'end-of-test';

/**
 * Everything a read_committed consumer gets from a one-partition topic up to a committed sentinel
 * record: since the partition is read in order, anything that should not be seen would come first.
 */
async function readCommitted(kafka: Kafka, topic: string, opts: { maxBytes?: number } = {}): Promise<Seen[]> {
  const consumer = kafka.consumer({ groupId: `${topic}.reader.${randomBytes(3).toString('hex')}`, readUncommitted: false, ...(opts.maxBytes ? { maxBytes: opts.maxBytes, maxBytesPerPartition: opts.maxBytes } : {}) });
  const seen: Seen[] = [];
  let done = false;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        if (done) return;
        if (message.value?.toString() === SENTINEL) {
          done = true;
          return;
        }
        seen.push({ offset: message.offset, value: message.value ?? Buffer.alloc(0), headers: message.headers as Record<string, Buffer> });
      },
    });
    await eventually(() => done, `the sentinel of ${topic}`, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

describe('Kafka client conformance (kafkajs against the real broker)', () => {
  let kafka: Kafka;
  let admin: Admin;
  const prefix = `conf${randomBytes(3).toString('hex')}`;
  const producers: Producer[] = [];
  const txProducer = async (id: string) => {
    const p = kafka.producer({ transactionalId: `${prefix}.${id}`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 });
    producers.push(p);
    await p.connect();
    return p;
  };
  const topic = async (name: string, compacted = false) => {
    const t = `${prefix}.${name}`;
    await admin.createTopics({ topics: [{ topic: t, numPartitions: 1, replicationFactor: 1, ...(compacted ? { configEntries: [{ name: 'cleanup.policy', value: 'compact' }] } : {}) }], waitForLeaders: true });
    return t;
  };
  const sentinel = async (p: Producer, t: string) => {
    const tx = await p.transaction();
    await tx.send({ topic: t, acks: -1, messages: [{ key: 'k', value: SENTINEL }] });
    await tx.commit();
  };

  before(async () => {
    kafka = await createKafka(KafkaLogConfig.parse(kafkaLog(prefix).kafka), 'conformance');
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    for (const p of producers) await p.disconnect().catch(() => undefined);
    await admin.disconnect();
  });

  it('commits idempotent transactions with binary values and headers, hides aborted ones, and counts control records in the high watermark', async () => {
    const t = await topic('basic');
    const p = await txProducer('basic');
    const binary = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f, 0x0a, 0x0d]);
    const tx1 = await p.transaction();
    await tx1.send({ topic: t, acks: -1, messages: [0, 1, 2].map((i) => ({ key: 's-1', value: Buffer.concat([binary, Buffer.from([i])]), headers: { 'tg-type': 'bytes', 'tg-seq': String(i), 'tg-raw': binary } })) });
    await tx1.commit();
    const tx2 = await p.transaction();
    await tx2.send({ topic: t, acks: -1, messages: [{ key: 's-1', value: 'ABORTED-1' }, { key: 's-1', value: 'ABORTED-2' }] });
    await tx2.abort();
    const tx3 = await p.transaction();
    await tx3.send({ topic: t, acks: -1, messages: [{ key: 's-1', value: 'ABORTED-3' }] });
    await tx3.abort();

    // 3 records + commit marker, 2 aborted + abort marker, 1 aborted + abort marker. The coordinator writes the
    // markers after EndTxn returns, so the watermark reaches 9 shortly after the last abort, never more.
    let high = '';
    await eventually(async () => {
      high = (await admin.fetchTopicOffsets(t))[0]!.high;
      return high === '9';
    }, 'the high watermark to count transaction markers and aborted records', 30_000).catch((e: Error) => {
      throw new Error(`${e.message}: it stayed at ${high}, expected 9`);
    });

    await sentinel(p, t);
    const seen = await readCommitted(kafka, t);
    assert.deepEqual(seen.map((m) => m.offset), ['0', '1', '2'], 'exactly the committed records');
    seen.forEach((m, i) => {
      assert.deepEqual(m.value, Buffer.concat([binary, Buffer.from([i])]), 'binary values intact');
      assert.equal(m.headers['tg-seq']!.toString(), String(i));
      assert.deepEqual(m.headers['tg-raw'], binary, 'binary headers intact');
    });
  });

  it('skips aborted transactions when the abort marker comes in a later fetch, and two aborts of one producer in one fetch', async () => {
    const t = await topic('aborts');
    const p = await txProducer('aborts');
    const step = async (values: string[], commit: boolean) => {
      const tx = await p.transaction();
      await tx.send({ topic: t, acks: -1, messages: values.map((value) => ({ key: 's', value })) });
      await (commit ? tx.commit() : tx.abort());
    };
    await step(['c1'], true);
    await step(['x1', 'x2'], false);
    await step(['y1'], false);
    await step(['c2'], true);
    await sentinel(p, t);
    assert.deepEqual((await readCommitted(kafka, t)).map((m) => m.value.toString()), ['c1', 'c2'], 'default fetch sizes');
    assert.deepEqual((await readCommitted(kafka, t, { maxBytes: 1 })).map((m) => m.value.toString()), ['c1', 'c2'], 'one record per fetch');
  });

  it('fences an older producer at the newer one\'s first transaction: its open transaction never becomes visible', async () => {
    const t = await topic('fencing');
    const a = await txProducer('fenced');
    const txA = await a.transaction();
    await txA.send({ topic: t, acks: -1, messages: [{ key: 's', value: 'zombie' }] });
    const b = await txProducer('fenced');
    const txB = await b.transaction();
    const failure = await txA.send({ topic: t, acks: -1, messages: [{ key: 's', value: 'zombie-2' }] }).then(() => txA.commit()).then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(failure, 'the fenced producer cannot commit');
    assert.ok(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED'].includes(protocolErrorType(failure) ?? ''), `fenced by epoch, got ${protocolErrorType(failure)}: ${(failure as Error).message}`);
    assert.equal(transactionErrorKind(failure), 'fatal', 'the drainer replaces a fenced producer');
    await txB.send({ topic: t, acks: -1, messages: [{ key: 's', value: 'live' }] });
    await txB.commit();
    await sentinel(b, t);
    assert.deepEqual((await readCommitted(kafka, t)).map((m) => m.value.toString()), ['live']);
  });

  it('commits a group offset inside a transaction against a compacted topic with no records, and drops it with an abort', async () => {
    const t = await topic('positions', true);
    const group = `${prefix}.spool.gw.test`;
    const p = await txProducer('positions');
    const commit = await p.transaction();
    await commit.sendOffsets({ consumerGroupId: group, topics: [{ topic: t, partitions: [{ partition: 0, offset: '42' }] }] });
    await commit.commit();
    const aborted = await p.transaction();
    // Right after a commit the coordinator may answer CONCURRENT_TRANSACTIONS, which kafkajs does not retry here.
    await retryingTransient(() => aborted.sendOffsets({ consumerGroupId: group, topics: [{ topic: t, partitions: [{ partition: 0, offset: '99' }] }] }));
    await aborted.abort();
    const [read] = await admin.fetchOffsets({ groupId: group, topics: [t] });
    assert.equal(read!.partitions.find((x) => x.partition === 0)!.offset, '42');
  });

  it('commits a consumer group\'s offsets by hand', async () => {
    const t = await topic('manual');
    const p = await txProducer('manual');
    const tx = await p.transaction();
    await tx.send({ topic: t, acks: -1, messages: [{ key: 's', value: 'a' }, { key: 's', value: 'b' }] });
    await tx.commit();
    const group = `${prefix}.manual`;
    const consumer = kafka.consumer({ groupId: group, readUncommitted: false });
    await consumer.connect();
    let got = 0;
    try {
      await consumer.subscribe({ topics: [t], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message, partition }) => {
          got++;
          await consumer.commitOffsets([{ topic: t, partition, offset: String(BigInt(message.offset) + 1n) }]);
        },
      });
      await eventually(() => got === 2, 'both records');
    } finally {
      await consumer.disconnect();
    }
    const [read] = await admin.fetchOffsets({ groupId: group, topics: [t] });
    assert.equal(read!.partitions[0]!.offset, '2', 'the next offset to read');
  });

  it('survives a broker kill and restart in the middle of transactional produce with nothing lost or doubled', async () => {
    const t = await topic('restart');
    const positions = await topic('restart-positions', true);
    const group = `${prefix}.spool.restart`;
    const total = 60;
    let p = await txProducer('restart');
    let failures = 0;
    let killed = false;
    let restarted: Promise<void> = Promise.resolve();
    // The drainer's pattern: each batch with its position in one transaction; after a failure the
    // producer is replaced (fencing the old one) and the position read back decides what to resend.
    let next = 0;
    for (let attempts = 0; next < total && attempts < 500; attempts++) {
      try {
        const tx = await p.transaction();
        await tx.send({ topic: t, acks: -1, messages: [{ key: 's', value: `r${next}` }] });
        if (next === total / 2 && !killed) {
          // Killed with this transaction open: its commit fails or is retried across the restart.
          killed = true;
          await killBroker();
          restarted = restartBroker();
        }
        await retryingTransient(() => tx.sendOffsets({ consumerGroupId: group, topics: [{ topic: positions, partitions: [{ partition: 0, offset: String(next + 1) }] }] }));
        await tx.commit();
        next++;
      } catch {
        failures++;
        await p.disconnect().catch(() => undefined);
        p = await txProducer('restart').catch(() => p);
        try {
          await p.transaction().then((tx) => tx.abort());
          const [read] = await admin.fetchOffsets({ groupId: group, topics: [positions] });
          next = Math.max(0, Number(read!.partitions[0]!.offset));
        } catch {
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
    await restarted;
    // Whether the client saw the kill as an error or retried through it depends on how fast the broker is back.
    assert.ok(killed, `the broker was killed inside a transaction (${failures} attempts failed)`);
    await eventually(async () => {
      try {
        await sentinel(p, t);
        return true;
      } catch {
        return false;
      }
    }, 'the broker back', 180_000);
    const values = (await readCommitted(kafka, t)).map((m) => m.value.toString());
    assert.deepEqual(values, Array.from({ length: total }, (_, i) => `r${i}`), 'every record once, in order');
  });
});
