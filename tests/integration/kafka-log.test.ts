/**
 * The Kafka event log with a real broker: several gateways publish to one Kafka, consumers read it
 * through the one consumer framework, and every session arrives whole and in order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { createKafka, logTopics } from '../../connectors/kafka/kafka-client.js';
import type { TransactionTiming } from '../../connectors/kafka/kafka-log-sink.js';
import { KafkaRecordSource } from '../../connectors/kafka/kafka-record-source.js';
import { encodeRecord } from '../../connectors/kafka/record-codec.js';
import type { AuditRecord } from '../../events/index.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { keysDir, readPublishedKeys } from '../../services/integrity/signing-keys.js';
import { TrustedKeys } from '../../services/verify/trusted-keys.js';
import { verifySession } from '../../services/verify/verify-session.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { assertWholeSessions, CollectingSink, eventually, kafkaLog } from '../support/kafka-env.js';

/** Records in the order one stream of one session reached the sink must be in sequence order. */
function consumeInto(sink: CollectingSink, log: ReturnType<typeof kafkaLog>, metrics = new Metrics()) {
  const order = new Map<string, number>();
  const inner = sink.write.bind(sink);
  sink.write = async (records) => {
    for (const r of records) {
      const key = `${r.sessionId}/${r.stream}`;
      assert.ok((order.get(key) ?? 0) < r.seq, `records of ${key} arrive in order`);
      order.set(key, r.seq);
    }
    return inner(records);
  };
  return KafkaRecordSource.create(KafkaLogConfig.parse(log.kafka), sink, 200).then((source) => new Consumer(source, sink, metrics));
}

describe('Kafka event log', () => {
  it('takes two gateway instances on one Kafka; each session reaches a consumer whole and in order', async () => {
    const log = kafkaLog();
    const gateways = [await GatewayHarness.start({ instance: 'gw-a', log }), await GatewayHarness.start({ instance: 'gw-b', log })];
    const sink = new CollectingSink('whole-sessions');
    const consumer = await consumeInto(sink, log);
    const running = consumer.run();
    try {
      let written = 0;
      for (const h of gateways) h.gateway.writer.on('written', (records) => (written += records.length));
      const transactions: TransactionTiming[] = [];
      for (const h of gateways) h.gateway.kafka!.on('transaction', (t) => transactions.push(t));
      const sessions = new Map<string, string>();
      await Promise.all(
        gateways.flatMap((h, g) =>
          [0, 1, 2].map(async (n) => {
            const c = await h.client();
            const { rows } = await c.query<{ id: string }>("select current_setting('application_name') as id");
            assert.ok(rows[0]!.id.startsWith('tg:'));
            for (let i = 0; i < 40; i++) await c.query('select $1::int as i, repeat($2, 200) as filler', [i, `gw${g}-c${n}`]);
            await c.end();
          }),
        ),
      );
      for (const h of gateways) {
        await eventually(() => h.gateway.postgres.activeSessions === 0, 'sessions to end');
        await h.gateway.writer.flush();
        await h.gateway.kafka!.drained();
      }
      await eventually(() => sink.records.size >= written, `the consumer to receive all ${written} records`);
      for (const r of sink.records.values()) if (r.type === 'session.started') sessions.set(r.sessionId, r.instance);
      assert.equal(sessions.size, 6, 'six sessions, three per gateway');
      assert.equal(sink.records.size, written, 'exactly what the gateways wrote');
      assert.equal(sink.doubled.size, 0, 'nothing delivered twice');
      assertWholeSessions(sink, sessions);
      assert.deepEqual(new Set(sessions.values()), new Set(['gw-a', 'gw-b']));
      // What came through Kafka is the gateway's signed hash chain, byte for byte.
      const keys = new TrustedKeys(gateways.flatMap((h) => readPublishedKeys(keysDir(h.dataDir)).keys), 'test data directories');
      for (const [id, list] of sink.bySession()) {
        const verdict = await verifySession(id, list, keys, () => []);
        assert.equal(verdict.status, 'intact', `session ${id} verifies from Kafka: ${JSON.stringify(verdict.failure)}`);
      }
      // kafkajs would look the coordinators up before each transactional request: four per transaction.
      const lookups = transactions.reduce((n, t) => n + (t.requests.GroupCoordinator ?? 0), 0);
      assert.ok(transactions.length >= 4, `several transactions per gateway (${transactions.length})`);
      assert.ok(lookups <= 2 * gateways.length, `the coordinators are looked up once per producer, not per transaction (${lookups} lookups in ${transactions.length} transactions)`);
      const lag = await consumer.lag();
      assert.ok(lag.parts.length > 0, 'lag is reported per partition');
    } finally {
      await consumer.stop();
      await running.catch(() => undefined);
      for (const h of gateways) await h.stop();
    }
  });

  it('delivers a statement larger than the broker\'s default record size limit (1 MiB) as one event', async () => {
    const log = kafkaLog();
    const h = await GatewayHarness.start({ instance: 'gw-large', log });
    const sink = new CollectingSink('large', ['events']);
    const consumer = new Consumer(await KafkaRecordSource.create(KafkaLogConfig.parse(log.kafka), sink, 100), sink, new Metrics());
    const running = consumer.run();
    try {
      const c = await h.client();
      const literal = 'y'.repeat(3 * 1024 * 1024);
      const { rows } = await c.query(`select length('${literal}') as n`);
      assert.equal(rows[0].n, literal.length);
      await c.end();
      await eventually(() => h.gateway.postgres.activeSessions === 0, 'the session to end');
      await h.gateway.writer.flush();
      await h.gateway.kafka!.drained(120_000);
      await eventually(() => [...sink.records.values()].some((r) => r.type === 'command.started' && String((r.data as { text: string }).text).includes(literal)), 'the 3 MiB statement at the consumer');
    } finally {
      await consumer.stop();
      await running.catch(() => undefined);
      await h.stop();
    }
  });

  it('skips and counts unknown record types, and puts poison records into the dead-letter topic', async () => {
    const log = kafkaLog();
    const config = KafkaLogConfig.parse(log.kafka);
    const topics = logTopics(config.topicPrefix);
    const kafka = await createKafka(config, 'test');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [topics.events, topics.bytes, topics.deadLetter, topics.spoolPositions].map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })) });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const base = { v: 1, sessionId: 's-1', ts: new Date().toISOString(), instance: 'gw', target: null, identity: null, client: { address: '127.0.0.1', port: 1 } };
    const record = (seq: number, type: string, data: unknown) => ({ ...base, id: `s-1:${seq}`, seq, stream: 'events', type, data, prev: 'carried-as-is' }) as unknown as AuditRecord;
    const m = (r: AuditRecord) => {
      const e = encodeRecord(r);
      return { key: e.key, value: e.value, headers: e.headers };
    };
    await producer.send({
      acks: -1,
      topic: topics.events,
      messages: [
        m(record(1, 'session.started', { protocol: 'postgres', tls: false, requested: {} })),
        m(record(2, 'future.thing', { from: 'a newer gateway' })),
        { key: 's-1', value: Buffer.from('{"not": "a record"'), headers: {} },
        m(record(3, 'command.started', { protocol: 'simple', text: 'select 1 -- POISON' })),
        m(record(4, 'session.ended', { reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0, commands: 1 })),
      ],
    });
    const sink = new CollectingSink('poison', ['events'], (r) => r.type === 'command.started' && String((r.data as { text: string }).text).includes('POISON'));
    const metrics = new Metrics();
    const consumer = new Consumer(await KafkaRecordSource.create(config, sink, 100), sink, metrics);
    const running = consumer.run();
    const dlq = kafka.consumer({ groupId: `${config.topicPrefix}.test-dlq` });
    const letters: { headers: Record<string, string>; value: string }[] = [];
    try {
      await eventually(() => sink.delivered >= 3, 'the consumer to read the topic');
      assert.deepEqual([...sink.records.values()].map((r) => r.seq), [1, 4]);
      assert.equal((sink.records.get('s-1:1') as unknown as { prev: string }).prev, 'carried-as-is', 'fields this build does not know are kept');
      assert.equal(metrics.value('trailgate_consumer_records_skipped_total', { consumer: 'poison', type: 'future.thing' }), 1);
      await dlq.connect();
      await dlq.subscribe({ topics: [topics.deadLetter], fromBeginning: true });
      void dlq.run({
        eachMessage: async ({ message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          letters.push({ headers, value: message.value?.toString() ?? '' });
        },
      });
      await eventually(() => letters.length >= 2, 'two dead letters');
      const codes = letters.map((l) => l.headers['tg-dl-code']).sort();
      assert.deepEqual(codes, ['TG_RECORD_UNDECODABLE', 'TG_TEST_POISON']);
      const poison = letters.find((l) => l.headers['tg-dl-code'] === 'TG_TEST_POISON')!;
      assert.match(poison.value, /POISON/, 'the dead letter keeps the original record');
      assert.match(poison.headers['tg-dl-origin']!, new RegExp(`^${topics.events}/0@3$`));
      assert.equal(metrics.value('trailgate_consumer_dead_letters_total', { consumer: 'poison', code: 'TG_TEST_POISON' }), 1);
      await eventually(async () => (await consumer.lag()).total === 0, 'the consumer to commit past the poison records');
    } finally {
      await dlq.disconnect().catch(() => undefined);
      await consumer.stop();
      await running.catch(() => undefined);
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});

