import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { DeliveryStop } from '../../connectors/kafka/delivery-stop.js';
import { permanentDeliveryError } from '../../connectors/kafka/kafka-errors.js';
import { Metrics } from '../../services/metrics/metrics.js';

const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

/** A broker error response as kafkajs raises it. */
const protocol = (type: string, code: number, retriable: boolean) => new KafkaJSProtocolError(Object.assign(new Error(type), { type, code, retriable }) as unknown as Error);

describe('which spool delivery failures are permanent', () => {
  it('names a record too large for its topic, with the setting to raise', () => {
    const p = permanentDeliveryError(protocol('MESSAGE_TOO_LARGE', 10, false), 'tg');
    assert.equal(p?.code, 'TG_KAFKA_RECORD_TOO_LARGE');
    assert.match(p!.fix, /max\.message\.bytes on tg\.events and tg\.bytes/);
    assert.equal(permanentDeliveryError(new KafkaJSNumberOfRetriesExceeded(protocol('RECORD_LIST_TOO_LARGE', 18, false), { retryCount: 5, retryTime: 300 }), 'tg')?.code, 'TG_KAFKA_RECORD_TOO_LARGE');
  });

  it('names authorization and authentication refusals, wherever they are wrapped', () => {
    for (const [type, code] of [['TOPIC_AUTHORIZATION_FAILED', 29], ['TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 53], ['CLUSTER_AUTHORIZATION_FAILED', 31]] as const) {
      const wrapped = Object.assign(new KafkaJSNonRetriableError('the transaction failed'), { cause: protocol(type, code, false) });
      const p = permanentDeliveryError(wrapped, 'tg');
      assert.equal(p?.code, 'TG_KAFKA_NOT_AUTHORIZED', type);
      assert.match(p!.fix, /transactional id tg\.gateway\.<instance>/);
    }
    assert.equal(permanentDeliveryError(Object.assign(new Error('SASL PLAIN authentication failed: Authentication failed'), { name: 'KafkaJSSASLAuthenticationError' }), 'tg')?.code, 'TG_KAFKA_AUTHENTICATION');
    assert.equal(permanentDeliveryError(protocol('POLICY_VIOLATION', 44, false), 'tg')?.code, 'TG_KAFKA_REFUSED');
  });

  it('leaves what another try may mend to the retries', () => {
    assert.equal(permanentDeliveryError(new KafkaJSConnectionError('connect ECONNREFUSED 127.0.0.1:9092'), 'tg'), null);
    assert.equal(permanentDeliveryError(protocol('NOT_LEADER_FOR_PARTITION', 6, true), 'tg'), null);
    assert.equal(permanentDeliveryError(protocol('INVALID_PRODUCER_EPOCH', 47, false), 'tg'), null, 'a fenced producer is replaced, not a stop');
    assert.equal(permanentDeliveryError(new Error('something else'), 'tg'), null);
  });
});

describe('a drainer stopped on a permanent refusal', () => {
  it('says so once, shows it in metrics, waits for the recheck or a resume, and clears on delivery', async () => {
    const metrics = new Metrics();
    const lines: string[] = [];
    const stop = new DeliveryStop(metrics, 'gw-1', 3_600_000, (l) => lines.push(l));
    const p = permanentDeliveryError(protocol('MESSAGE_TOO_LARGE', 10, false), 'tg')!;
    stop.stop(p, new Error('The request included a message larger than the max message size the server will accept'));
    stop.stop(p, new Error('The request included a message larger than the max message size the server will accept'));
    assert.equal(lines.length, 1, 'one line per stop, not per attempt');
    assert.match(lines[0]!, /Kafka delivery stopped, records stay in the spool .*\[TG_KAFKA_RECORD_TOO_LARGE\]/);
    assert.equal(stop.stopped?.code, 'TG_KAFKA_RECORD_TOO_LARGE');
    const text = metrics.render();
    assert.match(text, /^trailgate_kafka_delivery_stopped\{instance="gw-1",code="TG_KAFKA_RECORD_TOO_LARGE"\} 1$/m);
    assert.match(text, /^trailgate_kafka_delivery_stops_total\{instance="gw-1",code="TG_KAFKA_RECORD_TOO_LARGE"\} 2$/m);
    // An hour's recheck: only resume() ends this wait within the test.
    const waited = stop.wait();
    stop.resume();
    await waited;
    stop.clear();
    assert.equal(stop.stopped, null);
    assert.match(metrics.render(), /^trailgate_kafka_delivery_stopped\{instance="gw-1",code="TG_KAFKA_RECORD_TOO_LARGE"\} 0$/m);
    assert.match(lines.at(-1)!, /resumed after TG_KAFKA_RECORD_TOO_LARGE/);
  });
});
