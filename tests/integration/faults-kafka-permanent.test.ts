/**
 * A refusal from the real Kafka broker that no retry mends: the events topic takes smaller records
 * than a statement's event (max.message.bytes lowered by an operator). The gateway keeps serving from
 * its spool; the drainer stops with TG_KAFKA_RECORD_TOO_LARGE and a metric instead of retrying at the
 * pace of new records, and once the topic is fixed and delivery resumed every session arrives whole,
 * once, in order.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { TOPIC_MAX_MESSAGE_BYTES } from '../../connectors/kafka/kafka-client.js';
import { KafkaRecordSource } from '../../connectors/kafka/kafka-record-source.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { assertWholeSessions, closeBrokerSockets, CollectingSink, eventually, kafkaBrokers, kafkaLog } from '../support/kafka-env.js';

const { Kafka, ConfigResourceTypes, logLevel } = kafkajs;

after(() => {
  closeBrokerSockets();
});

describe('a spooled record larger than its Kafka topic accepts', () => {
  const log = kafkaLog();
  const events = `${log.kafka.topicPrefix}.events`;
  const admin = new Kafka({ clientId: 'faults-kafka-permanent', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  let h: GatewayHarness;
  after(async () => {
    await h?.stop();
    await admin.disconnect();
  });

  const setLimit = (bytes: number) =>
    admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: events, configEntries: [{ name: 'max.message.bytes', value: String(bytes) }] }] });

  it('stops the drainer with TG_KAFKA_RECORD_TOO_LARGE and a metric, not a retry per new record, while the gateway serves from its spool', async () => {
    await admin.connect();
    // An operator's topic, made before the gateway, with a limit below a large statement's event.
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: events, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '8192' }] }] });
    h = await GatewayHarness.start({ log, instance: 'gw-permanent' });
    const small = await h.client();
    await small.query('select 1 as small');
    await small.end();
    await h.gateway.writer.flush();
    await h.gateway.kafka!.drained();

    const big = await h.client();
    await big.query(`select '${'x'.repeat(32 * 1024)}' as big`);
    await big.end();
    await eventually(() => h.gateway.kafka!.deliveryStop.stopped !== null, 'the drainer to stop on the refusal', 60_000);
    const stopped = h.gateway.kafka!.deliveryStop.stopped!;
    assert.equal(stopped.code, 'TG_KAFKA_RECORD_TOO_LARGE');
    assert.match(stopped.message, /raise max\.message\.bytes on .*\.events/);
    assert.match(h.gateway.metrics.render(), /^trailgate_kafka_delivery_stopped\{instance="gw-permanent",code="TG_KAFKA_RECORD_TOO_LARGE"\} 1$/m);
    const stops = () => Number(/^trailgate_kafka_delivery_stops_total\{instance="gw-permanent",code="TG_KAFKA_RECORD_TOO_LARGE"\} (\d+)$/m.exec(h.gateway.metrics.render())?.[1]);
    assert.equal(stops(), 1);

    // New sessions go on, spooled; each append would wake a drainer that merely backs off.
    for (let i = 0; i < 5; i++) {
      const c = await h.client();
      await c.query(`select ${i} as while_stopped`);
      await c.end();
    }
    await h.gateway.writer.flush();
    assert.equal(stops(), 1, 'no further attempt until the recheck interval or a resume');
    assert.ok(h.gateway.kafka!.spool.pendingBytes > 0, 'the records wait in the spool');
  });

  it('delivers everything once, in order, after the topic is fixed and delivery resumed', async () => {
    await setLimit(TOPIC_MAX_MESSAGE_BYTES);
    // The broker applies the new limit a moment after accepting it (longer on a loaded machine); an
    // attempt before that is refused again and waits for the next recheck: resume until one goes through.
    const stop = h.gateway.kafka!.deliveryStop;
    const delivering = () => {
      if (stop.stopped === null) return true;
      stop.resume();
      return false;
    };
    await eventually(delivering, 'the drainer to deliver again', 60_000);
    await h.gateway.kafka!.drained();
    assert.match(h.gateway.metrics.render(), /^trailgate_kafka_delivery_stopped\{instance="gw-permanent",code="TG_KAFKA_RECORD_TOO_LARGE"\} 0$/m);

    const sink = new CollectingSink('permanent-check');
    const consumer = new Consumer(await KafkaRecordSource.create(KafkaLogConfig.parse(log.kafka), sink, 200), sink, new Metrics());
    const running = consumer.run();
    try {
      const sealed = () => [...sink.records.values()].filter((r) => r.type === 'checkpoint.signed' && (r.data as { final?: boolean }).final).length;
      await eventually(() => sealed() === 7, 'all seven sessions to reach the consumer, sealed', 60_000);
      const sessions = new Map([...sink.records.values()].filter((r) => r.type === 'session.started').map((r) => [r.sessionId, 'gw-permanent']));
      assert.equal(sessions.size, 7);
      assertWholeSessions(sink, sessions);
      assert.equal(sink.doubled.size, 0, 'nothing twice');
      assert.ok([...sink.records.values()].some((r) => r.type === 'command.started' && String((r.data as { text?: string }).text).length > 32 * 1024), 'the large statement arrived');
    } finally {
      await consumer.stop();
      await running.catch(() => undefined);
    }
  });
});
