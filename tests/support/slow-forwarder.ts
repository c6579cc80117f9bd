/**
 * A forwarder that writes its batches one record at a time, slowly, so that a test can SIGKILL it in
 * the middle of a batch. Same consumer framework, same NDJSON sink, same consumer group as
 * `trailgate forwarder`.  Usage: node --import tsx tests/support/slow-forwarder.ts CONFIG
 */
import { Consumer } from '../../connectors/consumer/consumer.js';
import { NdjsonFileSink } from '../../connectors/consumer/ndjson-sink.js';
import type { RecordSink } from '../../connectors/consumer/record-sink.js';
import { loadConfig } from '../../services/config/load.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { openSource } from '../../services/roles/consumer-role.js';

const config = loadConfig(process.argv[2]);
const forwarder = config.consumers.forwarder!;
const inner = new NdjsonFileSink(forwarder.file, { name: 'forwarder', streams: forwarder.streams });
const sink: RecordSink = {
  name: inner.name,
  streams: inner.streams,
  async write(records) {
    for (const r of records) {
      await inner.write([r]);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return { deadLetters: [] };
  },
};
const consumer = new Consumer(await openSource(config, sink), sink, new Metrics());
await consumer.run();
