import { existsSync } from 'node:fs';
import { ReplayConfig } from '../config/replay-schema.js';
import type { TrailgateConfig } from '../config/schema.js';
import { Health } from '../metrics/health.js';
import { Metrics, serveMetrics } from '../metrics/metrics.js';
import { devAdmin } from '../replay/dev-admin.js';
import { EmbeddedReplaySource } from '../replay/embedded-source.js';
import { embeddedLogIntegrity } from '../replay/log-integrity.js';
import { startReplayServer, type RunningReplay } from '../replay/server/start.js';
import { readableLog } from '../replay/store-file.js';
import { startReplayStore, type RunningReplayStore } from '../roles/replay-store-role.js';
import { cliConfig } from './cli-config.js';
import { approvalStoreFor } from '../approvals/gateway-approvals.js';

/** The replay section to serve with: the configured one, plus the generated admin under --dev. */
export function replaySettings(config: TrailgateConfig, dev: boolean): { settings: ReplayConfig; devTokenFile?: string } | null {
  if (!config.replay && !dev) return null;
  const settings = config.replay ?? ReplayConfig.parse({});
  if (!dev) return { settings };
  const admin = devAdmin(config.dataDir);
  return { settings: { ...settings, users: [...settings.users, admin.user] }, devTokenFile: admin.file };
}

/** Starts the replay UI on the embedded log of this configuration, or on Kafka on this machine's replay store. */
export async function serveReplay(config: TrailgateConfig, settings: ReplayConfig): Promise<RunningReplay> {
  const { file } = readableLog(config);
  if (!existsSync(file)) throw Object.assign(new Error(`no event log at ${file}; start the gateway once (\`trailgate up\`) or pass --config with its configuration`), { code: 'TG_LOG_MISSING' });
  const source = new EmbeddedReplaySource(file);
  const integrity = embeddedLogIntegrity(source.log, { dataDir: config.dataDir, trustedJwksFile: config.integrity.trustedJwksFile });
  // Reviewers decide here; the gateway holding the statement reads their reviews from the same store.
  const approvals = config.approvals ? { store: await approvalStoreFor(config, file), people: config.approvals.people } : undefined;
  const replay = await startReplayServer({ source, config: settings, integrity, log: (line) => console.error(line), ...(approvals ? { approvals } : {}) });
  return {
    ...replay,
    close: async () => {
      await replay.close();
      await approvals?.store.close();
      source.close();
    },
  };
}

/**
 * `trailgate replay`: the web UI as a process of its own. On Kafka it also keeps the replay store, a
 * full copy of the log that the UI and the read commands read; the UI is served when configured.
 */
export async function runReplay(configFile: string | undefined, o: { dev?: boolean }): Promise<void> {
  const config = cliConfig(configFile);
  const chosen = replaySettings(config, o.dev ?? false);
  const onKafka = config.log.kind === 'kafka';
  if (!chosen && !onKafka) throw Object.assign(new Error('the configuration has no replay section; add `replay: { listen: ..., users: [...] }` (see trailgate.yaml)'), { code: 'TG_REPLAY_NOT_CONFIGURED' });
  const metrics = new Metrics();
  let store: RunningReplayStore | null = null;
  if (onKafka) store = await startReplayStore(config, metrics);
  const replay = chosen ? await serveReplay(config, chosen.settings) : null;
  // /healthz and /readyz on the metrics port, as for every role: ready while the log it reads is there.
  const health = new Health('replay').check('log', () => (existsSync(readableLog(config).file) ? null : `no log to read at ${readableLog(config).file}`));
  const stop = (signal: string) => {
    health.drain(`${signal} received: stopping`);
    void (async () => {
      await replay?.close();
      await store?.stop();
    })().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  const served = config.metrics ? await serveMetrics(metrics, config.metrics.host, config.metrics.port, health) : null;
  const lines = ['trailgate replay is up'];
  if (store) lines.push(`  store      ${store.store.file} (consumer ${store.store.name}, from kafka ${config.log.kafka!.brokers.join(',')})`);
  if (replay) lines.push(`  replay     ${replay.url}${chosen?.devTokenFile ? ` (sign in with the token in ${chosen.devTokenFile})` : ''}`);
  if (served) lines.push(`  metrics    http://${config.metrics!.host}:${served.port}/metrics`);
  console.log(lines.join('\n'));
  if (store) {
    await store.running.catch((err: Error) => {
      console.error(`trailgate: the replay store stopped: ${err.message}`);
      process.exit(1);
    });
  }
}
