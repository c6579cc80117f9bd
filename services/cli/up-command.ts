import type { Consumer } from '../../connectors/consumer/consumer.js';
import { Gateway } from '../gateway/gateway.js';
import { GatewayDrain } from '../gateway/gateway-drain.js';
import { Health } from '../metrics/health.js';
import { searchSinkFor } from '../indexer/search-connection.js';
import { startConsumer } from '../roles/consumer-role.js';
import { forwarderSinks, registerSinkMetrics } from '../roles/forwarder-sinks.js';
import { cliConfig } from './cli-config.js';
import { replaySettings, serveReplay } from './replay-command.js';

export async function runUp(configFile: string | undefined, dev: boolean): Promise<void> {
  const config = cliConfig(configFile);
  // `up` is the one-machine setup: it always records to the embedded log and needs no Kafka.
  config.log = { kind: 'embedded' };
  const drain = new GatewayDrain(new Health('up'), config.shutdown);
  const gateway = await Gateway.start({ config, dev, admission: () => drain.refusal() });
  drain.attach(gateway, config.dataDir);
  const chosen = replaySettings(config, dev);
  const replay = chosen ? await serveReplay(config, chosen.settings).catch(async (err: Error) => {
    await gateway.stop();
    throw err;
  }) : null;
  // With a search cluster configured, the indexer runs here too, on its own committed position.
  const indexerSink = config.search ? searchSinkFor(config.search) : null;
  const indexer = indexerSink ? await startConsumer(config, indexerSink, gateway.metrics) : null;
  indexer?.run().catch((err: Error) => console.error(`trailgate: the indexer stopped: ${err.message}`));
  // Each configured forwarder sink (NDJSON file, Splunk, ...) runs here too, each on its own position.
  const forwarders: Consumer[] = [];
  for (const sink of await forwarderSinks(config)) {
    registerSinkMetrics(gateway.metrics, sink);
    const consumer = await startConsumer(config, sink, gateway.metrics);
    consumer.run().catch((err: Error) => console.error(`trailgate: the ${sink.name} forwarder stopped: ${err.message}`));
    forwarders.push(consumer);
  }
  const { host, port } = gateway.postgresAddress;
  const lines = [
    `trailgate ${dev ? '(DEVELOPMENT MODE: built-in token issuer and demo database enabled) ' : ''}is up`,
    `  postgres   ${host}:${port}`,
    ...(gateway.ssh ? [`  ssh        ${gateway.ssh.address.host}:${gateway.ssh.address.port} (host key ${gateway.ssh.hostKey.fingerprint}; log in as <target>@host)`] : []),
    `  event log  ${gateway.log.file}`,
    ...(indexerSink ? [`  indexer    ${config.search!.product} ${String(config.search!.url)} (data stream ${indexerSink.dataStream})`] : []),
    ...forwarders.map((f) => `  forwarder  ${f.sink.name}${f.sink.name === 'splunk' && config.splunk ? ` ${config.splunk.url} (ack ${config.splunk.ack})` : ''}`),
    ...(replay ? [`  replay     ${replay.url}${chosen?.devTokenFile ? ` (sign in with the token in ${chosen.devTokenFile})` : ''}`] : []),
    `  signing    key ${gateway.signingKid} (public keys: ${gateway.jwksFile}; keep a copy apart for \`trailgate verify --jwks\`)`,
    `  targets    ${[...gateway.targets.keys(), ...(gateway.ssh ? [...gateway.ssh.targets.keys()].map((t) => `${t} (ssh)`) : [])].map((t) => (t === 'demo' && dev ? 'demo (in-process PGlite, for trying Trailgate only)' : t)).join(', ') || '(none configured)'}`,
  ];
  if (gateway.aborted.length) lines.push(`  recovered  ${gateway.aborted.length} session(s) the previous run left open, closed as aborted: ${gateway.aborted.join(', ')}`);
  if (dev) {
    lines.push('  policy     development rule: any token of the development issuer may do anything on demo');
    lines.push('', 'try it:', `  PGPASSWORD="$(npx trailgate token)" psql "host=${host} port=${port} dbname=demo user=ci sslmode=require" -c 'select * from deployments'`, '  npx trailgate sessions');
  }
  console.log(lines.join('\n'));
  // The first signal drains as `trailgate gateway` does; a second one stops at once.
  let draining = false;
  const stop = (signal: string) => {
    if (draining) {
      console.log(`\n${signal} again: ending open sessions now`);
      gateway.stop().finally(() => process.exit(1));
      return;
    }
    draining = true;
    console.log(`\n${signal}: no new sessions; open ones have ${config.shutdown.drainSeconds} s to finish (${signal} again ends them now)`);
    drain
      .drain(signal)
      .then(() => Promise.all([indexer?.stop(), ...forwarders.map((f) => Promise.all([f.stop(), 'health' in f.sink ? f.sink.close?.() : undefined])), replay?.close()]))
      .then(
        () => process.exit(0),
        (err: Error) => {
          console.error(`trailgate: shutdown failed: ${err.message}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
