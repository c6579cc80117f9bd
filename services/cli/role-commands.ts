import { Consumer } from '../../connectors/consumer/consumer.js';
import { embeddedConsumerPositions } from '../../connectors/embedded-log/embedded-consumer.js';
import { createKafka, logTopics } from '../../connectors/kafka/kafka-client.js';
import { groupLag } from '../../connectors/kafka/kafka-record-source.js';
import type { TrailgateConfig } from '../config/schema.js';
import { embeddedLogFile, Gateway } from '../gateway/gateway.js';
import { Health } from '../metrics/health.js';
import { Metrics, serveMetrics } from '../metrics/metrics.js';
import { GatewayDrain } from '../gateway/gateway-drain.js';
import { consumerHealth } from '../roles/consumer-health.js';
import { openSource } from '../roles/consumer-role.js';
import { forwarderSinks, registerSinkMetrics } from '../roles/forwarder-sinks.js';
import { roleSink, type ConsumerRole } from '../roles/role-sinks.js';
import { cliConfig } from './cli-config.js';
import { printTable } from './table.js';

export interface RoleOptions {
  metricsPort?: string;
}

async function startMetrics(config: TrailgateConfig, metrics: Metrics, o: RoleOptions, health: Health): Promise<string | null> {
  const port = o.metricsPort !== undefined ? Number(o.metricsPort) : config.metrics?.port;
  if (port === undefined) return null;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw Object.assign(new Error(`--metrics-port ${o.metricsPort} is not a port number`), { code: 'TG_USAGE' });
  const host = config.metrics?.host ?? '127.0.0.1';
  const bound = await serveMetrics(metrics, host, port, health);
  return `http://${host}:${bound.port}/metrics`;
}

function onSignals(stop: (signal: string) => Promise<void>): void {
  const handler = (signal: string) => {
    console.log(`\n${signal}: stopping`);
    stop(signal).then(
      () => process.exit(0),
      (err: Error) => {
        console.error(`trailgate: shutdown failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => handler('SIGINT'));
  process.once('SIGTERM', () => handler('SIGTERM'));
}

/** `trailgate gateway`: the gateway alone, recording to the configured log (Kafka or embedded). */
export async function runGatewayRole(configFile: string | undefined, o: RoleOptions): Promise<void> {
  const config = cliConfig(configFile);
  const metrics = new Metrics();
  const health = new Health('gateway');
  const drain = new GatewayDrain(health, config.shutdown);
  const gateway = await Gateway.start({ config, metrics, admission: () => drain.refusal() });
  drain.attach(gateway, config.dataDir);
  // Before the banner: whoever reads it may send SIGTERM at once.
  onSignals((signal) => drain.drain(signal));
  const metricsUrl = await startMetrics(config, metrics, o, health);
  const { host, port } = gateway.postgresAddress;
  const log = config.log.kind === 'kafka' ? `kafka ${config.log.kafka!.brokers.join(',')} (topics ${config.log.kafka!.topicPrefix}.*), spool ${gateway.kafka!.spool.dir}` : `embedded ${embeddedLogFile(config.dataDir)}`;
  const ssh = gateway.ssh ? [`  ssh        ${gateway.ssh.address.host}:${gateway.ssh.address.port}`] : [];
  console.log([`trailgate gateway ${config.instance} is up`, `  postgres   ${host}:${port}`, ...ssh, `  event log  ${log}`, ...(metricsUrl ? [`  metrics    ${metricsUrl}`] : [])].join('\n'));
}

/** `trailgate indexer|forwarder|replay`: one consumer role on the configured log; the forwarder runs one consumer per configured sink. */
export async function runConsumerRole(role: ConsumerRole, configFile: string | undefined, o: RoleOptions): Promise<void> {
  const config = cliConfig(configFile);
  const sinks = role === 'forwarder' ? await forwarderSinks(config) : [await roleSink(role, config)];
  if (!sinks.length) await roleSink(role, config);
  const metrics = new Metrics();
  const consumers: Consumer[] = [];
  for (const sink of sinks) {
    registerSinkMetrics(metrics, sink);
    consumers.push(new Consumer(await openSource(config, sink), sink, metrics));
  }
  const health = consumerHealth(role, consumers);
  // Before the banner: whoever reads it may send SIGTERM at once.
  // A SIEM sink may be waiting for acks: closing it first ends the wait, and the unacknowledged batch comes again at the next start.
  onSignals((signal) => {
    health.drain(`${signal} received: stopping`);
    return Promise.all(consumers.map((c) => Promise.all([c.stop(), 'health' in c.sink ? c.sink.close?.() : undefined]))).then(() => undefined);
  });
  const metricsUrl = await startMetrics(config, metrics, o, health);
  const from = config.log.kind === 'kafka' ? `kafka ${config.log.kafka!.brokers.join(',')}` : embeddedLogFile(config.dataDir);
  console.log([`trailgate ${role} is up`, ...sinks.map((s) => `  ${s.name.padEnd(10)} reading ${from} (${s.streams.join(', ')})`), ...(metricsUrl ? [`  metrics    ${metricsUrl}`] : [])].join('\n'));
  // Each sink on its own position: one that fails keeps retrying alone while the others go on.
  await Promise.all(consumers.map((c) => c.run()));
}

/** `trailgate consumers`: every consumer's position and lag on the configured log. */
export async function runConsumersStatus(configFile: string | undefined, o: { json?: boolean }): Promise<void> {
  const config = cliConfig(configFile);
  const rows: { consumer: string; position: string; lag: string; state: string; error?: string; detail: string }[] = [];
  if (config.log.kind === 'kafka') {
    const kafkaConfig = config.log.kafka!;
    const kafka = await createKafka(kafkaConfig, 'status');
    const admin = kafka.admin();
    await admin.connect();
    try {
      const prefix = `${kafkaConfig.topicPrefix}.consumer.`;
      const { groups } = await admin.listGroups();
      const topics = logTopics(kafkaConfig.topicPrefix);
      for (const g of groups.filter((x) => x.groupId.startsWith(prefix)).sort((a, b) => a.groupId.localeCompare(b.groupId))) {
        // A replay store reads the gateways' ledgers in a group of its own.
        const reads = g.groupId.endsWith('.ledger') ? [topics.ledger] : [topics.events, topics.bytes];
        const report = await groupLag(admin, g.groupId, g.groupId.slice(prefix.length), reads);
        const read = report.parts.filter((p) => Number(p.committed) >= 0);
        // On Kafka a consumer's health lives in its own process: its /readyz and trailgate_consumer_health.
        rows.push({ consumer: report.consumer, position: read.map((p) => `${p.part}@${p.committed}`).join(' '), lag: String(read.reduce((n, p) => n + p.lag, 0)), state: '-', detail: `group ${g.groupId}` });
      }
    } finally {
      await admin.disconnect();
    }
  } else {
    for (const p of embeddedConsumerPositions(embeddedLogFile(config.dataDir))) {
      const source = await openSource(config, { name: p.consumer, streams: ['events', 'bytes'] });
      const lag = await source.lag();
      await source.stop();
      const h = p.health;
      const error = h?.code ? `${h.code}: ${h.reason ?? ''}` : undefined;
      const health = h && h.state !== 'ok' ? `; failing since ${h.since} (${h.failures} attempts): ${error}` : h?.recoveredAt ? `; recovered ${h.recoveredAt} (last error ${h.lastErrorAt}: ${error})` : '';
      rows.push({ consumer: p.consumer, position: `pos ${p.pos}`, lag: String(lag.total), state: h?.state ?? 'ok', ...(error ? { error } : {}), detail: `${p.deadLetters} dead letters, updated ${p.updatedAt}${health}` });
    }
  }
  if (o.json) {
    for (const r of rows) console.log(JSON.stringify(r));
    return;
  }
  if (!rows.length) {
    console.log('no consumers have committed a position on this log yet');
    return;
  }
  printTable(['CONSUMER', 'POSITION', 'LAG', 'STATE', 'DETAIL'], rows.map((r) => [r.consumer, r.position, r.lag, r.state, r.detail]));
}
