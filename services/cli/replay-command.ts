import { existsSync } from 'node:fs';
import { ReplayConfig } from '../config/replay-schema.js';
import type { TrailgateConfig } from '../config/schema.js';
import { embeddedLogFile } from '../gateway/gateway.js';
import { devAdmin } from '../replay/dev-admin.js';
import { EmbeddedReplaySource } from '../replay/embedded-source.js';
import { embeddedLogIntegrity } from '../replay/log-integrity.js';
import { startReplayServer, type RunningReplay } from '../replay/server/start.js';
import { cliConfig } from './cli-config.js';

/** The replay section to serve with: the configured one, plus the generated admin under --dev. */
export function replaySettings(config: TrailgateConfig, dev: boolean): { settings: ReplayConfig; devTokenFile?: string } | null {
  if (!config.replay && !dev) return null;
  const settings = config.replay ?? ReplayConfig.parse({});
  if (!dev) return { settings };
  const admin = devAdmin(config.dataDir);
  return { settings: { ...settings, users: [...settings.users, admin.user] }, devTokenFile: admin.file };
}

/** Starts the replay UI on the embedded log of this configuration. */
export async function serveReplay(config: TrailgateConfig, settings: ReplayConfig): Promise<RunningReplay> {
  const file = embeddedLogFile(config.dataDir);
  if (!existsSync(file)) throw Object.assign(new Error(`no event log at ${file}; start the gateway once (\`trailgate up\`) or pass --config with its configuration`), { code: 'TG_LOG_MISSING' });
  const source = new EmbeddedReplaySource(file);
  const integrity = embeddedLogIntegrity(source.log, { dataDir: config.dataDir, trustedJwksFile: config.integrity.trustedJwksFile });
  const replay = await startReplayServer({ source, config: settings, integrity, log: (line) => console.error(line) });
  return {
    ...replay,
    close: async () => {
      await replay.close();
      source.close();
    },
  };
}

/** `trailgate replay`: the web UI as a process of its own. */
export async function runReplay(configFile: string | undefined, o: { dev?: boolean }): Promise<void> {
  const config = cliConfig(configFile);
  const chosen = replaySettings(config, o.dev ?? false);
  if (!chosen) throw Object.assign(new Error('the configuration has no replay section; add `replay: { listen: ..., users: [...] }` (see trailgate.yaml)'), { code: 'TG_REPLAY_NOT_CONFIGURED' });
  const replay = await serveReplay(config, chosen.settings);
  console.log(`trailgate replay is up\n  replay     ${replay.url}${chosen.devTokenFile ? ` (sign in with the token in ${chosen.devTokenFile})` : ''}`);
  const stop = () => void replay.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
