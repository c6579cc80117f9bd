/**
 * The Sentinel sink on the consumer framework in a process of its own, so that a test can SIGKILL it
 * in the middle of a batch and start it again.
 * Usage: node --import tsx tests/support/sentinel-forwarder.ts '{"log": ..., "sentinel": ..., "name": ..., "batchSize": N}'
 */
import { Consumer, type RecordSource } from '../../connectors/consumer/consumer.js';
import { EmbeddedRecordSource } from '../../connectors/embedded-log/embedded-consumer.js';
import { KafkaRecordSource } from '../../connectors/kafka/kafka-record-source.js';
import { SentinelConfig } from '../../connectors/sentinel/config.js';
import { sentinelSinkFor } from '../../connectors/sentinel/sink.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import { Metrics } from '../../services/metrics/metrics.js';

const args = JSON.parse(process.argv[2]!) as { log: { file: string } | { kafka: unknown }; sentinel: unknown; name: string; batchSize: number };
const log = (line: string) => process.stderr.write(`${line}\n`);
const sink = sentinelSinkFor(SentinelConfig.parse(args.sentinel), { name: args.name, log });
const source: RecordSource = 'file' in args.log
  ? new EmbeddedRecordSource(args.log.file, sink, { batchSize: args.batchSize, pollMs: 20 })
  : await KafkaRecordSource.create(KafkaLogConfig.parse(args.log.kafka), sink, args.batchSize);
const consumer = new Consumer(source, sink, new Metrics(), { retryMs: 50, log });
process.on('SIGTERM', () => void consumer.stop().then(() => process.exit(0)));
log('sentinel forwarder running');
await consumer.run();
