import { NdjsonFileSink } from '../../connectors/consumer/ndjson-sink.js';
import type { RecordSink } from '../../connectors/consumer/record-sink.js';
import type { TrailgateConfig } from '../config/schema.js';
import type { Metrics } from '../metrics/metrics.js';
import { sentinelSinkFor } from '../../connectors/sentinel/sink.js';
import { splunkSinkFor } from './splunk-connection.js';

/** Builds one forwarder sink from configuration, or null when its section is absent. */
export type ForwarderSinkFactory = (config: TrailgateConfig) => RecordSink | null | Promise<RecordSink | null>;

/**
 * Every sink the forwarder can run, one line each; each configured one runs as its own consumer
 * with its own committed position, so a slow or failing SIEM never holds another.
 */
export const FORWARDER_SINKS: readonly (readonly [name: string, factory: ForwarderSinkFactory])[] = [
  ['forwarder', (c) => (c.consumers.forwarder ? new NdjsonFileSink(c.consumers.forwarder.file, { name: 'forwarder', streams: c.consumers.forwarder.streams }) : null)],
  ['splunk', (c) => (c.splunk ? splunkSinkFor(c.splunk, c.dataDir) : null)],
  ['sentinel', (c) => (c.sentinel ? sentinelSinkFor(c.sentinel) : null)],
];

/** The sinks the configuration asks for, in registration order. */
export async function forwarderSinks(config: TrailgateConfig): Promise<RecordSink[]> {
  const sinks: RecordSink[] = [];
  for (const [, factory] of FORWARDER_SINKS) {
    const sink = await factory(config);
    if (sink) sinks.push(sink);
  }
  return sinks;
}

/** A sink that reports delivery counters and a health state (the SIEM sinks). */
interface ObservableSink extends RecordSink {
  readonly stats: { queued: number; sent: number; acknowledged: number; resent: number; deadLettered: number };
  health(): { state: 'ok' | 'degraded' | 'stopped'; code?: string; reason?: string };
}

function observable(sink: RecordSink): sink is ObservableSink {
  return 'stats' in sink && typeof (sink as Partial<ObservableSink>).health === 'function';
}

const HEALTH_STATES = ['ok', 'degraded', 'stopped'] as const;

/** Per-sink metrics: events queued, sent, acknowledged, resent, dead-lettered, and the health state (position lag is trailgate_consumer_lag_records). */
export function registerSinkMetrics(metrics: Metrics, sink: RecordSink): void {
  if (!observable(sink)) return;
  const labels = { sink: sink.name };
  metrics.gauge('trailgate_sink_events_queued', 'Events handed to the sink and not yet acknowledged.', labels, () => sink.stats.queued);
  metrics.gauge('trailgate_sink_events_sent', 'Events the sink posted, counting resends.', labels, () => sink.stats.sent);
  metrics.gauge('trailgate_sink_events_acknowledged', 'Events the SIEM acknowledged.', labels, () => sink.stats.acknowledged);
  metrics.gauge('trailgate_sink_events_resent', 'Events posted again (lost ack, retried request): possible duplicates.', labels, () => sink.stats.resent);
  metrics.gauge('trailgate_sink_events_dead_lettered', 'Events the SIEM refused for good, in the dead-letter place.', labels, () => sink.stats.deadLettered);
  for (const state of HEALTH_STATES) {
    metrics.gauge('trailgate_sink_health', 'The sink\'s health: 1 for its current state (ok, degraded, stopped).', { ...labels, state }, () => (sink.health().state === state ? 1 : 0));
  }
}
