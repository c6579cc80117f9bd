import { Consumer } from '../../connectors/consumer/consumer.js';
import { ReplayStore } from '../../connectors/embedded-log/replay-store.js';
import { resetConsumerGroups } from '../../connectors/kafka/kafka-group-reset.js';
import { KafkaLedgerSource } from '../../connectors/kafka/kafka-ledger-source.js';
import { consumerGroup } from '../../connectors/kafka/kafka-record-source.js';
import type { TrailgateConfig } from '../config/schema.js';
import type { Metrics } from '../metrics/metrics.js';
import { openSource } from './consumer-role.js';
import { roleSink } from './role-sinks.js';

/** A replay store being filled from Kafka: the records through the consumer framework, the ledgers beside them. */
export interface RunningReplayStore {
  store: ReplayStore;
  consumer: Consumer;
  /** Settles when either consumer stops; rejects when one fails. */
  running: Promise<void>;
  stop(): Promise<void>;
}

export async function startReplayStore(config: TrailgateConfig, metrics: Metrics, log: (line: string) => void = console.error): Promise<RunningReplayStore> {
  const sink = await roleSink('replay', config);
  if (!(sink instanceof ReplayStore)) throw Object.assign(new Error('the replay role\'s sink is not a replay store'), { code: 'TG_SINK_NOT_CONFIGURED' });
  if (sink.isEmpty()) {
    // A new (or emptied) store is filled from the beginning, whatever the group committed before.
    const group = consumerGroup(config.log.kafka!.topicPrefix, sink.name);
    await resetConsumerGroups(config.log.kafka!, [group, `${group}.ledger`]).catch(async (err: Error) => {
      await sink.close();
      throw err;
    });
  }
  const consumer = new Consumer(await openSource(config, sink), sink, metrics, { log });
  const ledger = await KafkaLedgerSource.create(config.log.kafka!, sink.name, log);
  const running = Promise.all([consumer.run(), ledger.run((entries) => void sink.writeLedger(entries))]).then(() => undefined);
  return {
    store: sink,
    consumer,
    running,
    async stop() {
      await ledger.stop();
      await consumer.stop();
    },
  };
}
