import { Consumer, type RecordSource } from '../../connectors/consumer/consumer.js';
import type { RecordSink } from '../../connectors/consumer/record-sink.js';
import { EmbeddedRecordSource } from '../../connectors/embedded-log/embedded-consumer.js';
import { KafkaRecordSource } from '../../connectors/kafka/kafka-record-source.js';
import type { TrailgateConfig } from '../config/schema.js';
import { embeddedLogFile } from '../gateway/gateway.js';
import type { Metrics } from '../metrics/metrics.js';

/** The log a consumer reads, as configured: Kafka, or the embedded log in dataDir. */
export async function openSource(config: TrailgateConfig, sink: Pick<RecordSink, 'name' | 'streams' | 'preferredBatchSize'>): Promise<RecordSource> {
  const batchSize = Math.max(config.consumers.batchSize, sink.preferredBatchSize ?? 0);
  if (config.log.kind === 'kafka') return KafkaRecordSource.create(config.log.kafka!, sink, batchSize);
  return new EmbeddedRecordSource(embeddedLogFile(config.dataDir), sink, { batchSize });
}

/** Runs the consumer framework with the sink it is given until `stop`. */
export async function startConsumer(config: TrailgateConfig, sink: RecordSink, metrics: Metrics): Promise<Consumer> {
  const source = await openSource(config, sink);
  return new Consumer(source, sink, metrics);
}
