import type { RecordSink } from '../../connectors/consumer/record-sink.js';
import { NdjsonFileSink } from '../../connectors/consumer/ndjson-sink.js';
import type { TrailgateConfig } from '../config/schema.js';
import { ReplayStore } from '../../connectors/embedded-log/replay-store.js';
import { searchSinkFor } from '../indexer/search-connection.js';
import { replayConsumerName, replayStoreFile } from '../replay/store-file.js';

/** The consumer roles that run as their own processes on the log. */
export const CONSUMER_ROLES = ['indexer', 'forwarder', 'replay'] as const;
export type ConsumerRole = (typeof CONSUMER_ROLES)[number];

/** Builds a role's sink from configuration, or returns null when the configuration has none for it. */
export type SinkFactory = (config: TrailgateConfig) => RecordSink | null | Promise<RecordSink | null>;

const factories = new Map<ConsumerRole, SinkFactory>([
  ['indexer', (config) => (config.search ? searchSinkFor(config.search) : null)],
  ['forwarder', (config) => (config.consumers.forwarder ? new NdjsonFileSink(config.consumers.forwarder.file, { name: 'forwarder', streams: config.consumers.forwarder.streams }) : null)],
  // On the embedded log the replay UI reads the log itself; on Kafka it reads a store of its own.
  ['replay', (config) => (config.log.kind === 'kafka' ? new ReplayStore(replayStoreFile(config), replayConsumerName(config)) : null)],
]);

/** Where each role's sink is configured, for the error a role without one stops with. */
const HOW_TO_CONFIGURE: Record<ConsumerRole, string> = {
  indexer: 'the indexer writes to a search cluster: add a `search:` section (product, url) to trailgate.yaml',
  forwarder: 'configure a forwarder sink in trailgate.yaml: consumers.forwarder (kind: ndjson, file: PATH), a `splunk:` or a `sentinel:` section',
  replay: 'the replay store copies a Kafka log (log.kind: kafka); on the embedded log `trailgate replay` reads the log itself',
};

/** Lets a connector provide the sink of a role (search for the indexer, the replay store). */
export function registerRoleSink(role: ConsumerRole, factory: SinkFactory): void {
  factories.set(role, factory);
}

export async function roleSink(role: ConsumerRole, config: TrailgateConfig): Promise<RecordSink> {
  const sink = (await factories.get(role)?.(config)) ?? null;
  if (!sink) throw Object.assign(new Error(`no sink is configured for the ${role}: ${HOW_TO_CONFIGURE[role]}`), { code: 'TG_SINK_NOT_CONFIGURED' });
  return sink;
}
