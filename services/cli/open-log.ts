import { existsSync } from 'node:fs';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import type { TrailgateConfig } from '../config/schema.js';
import { readableLog } from '../replay/store-file.js';

/** The log the read commands read: the embedded log, or on Kafka this machine's replay store. */
export function openLogForReading(config: TrailgateConfig): EmbeddedLog {
  const { file, kind } = readableLog(config);
  if (!existsSync(file)) {
    if (kind === 'replay-store') throw Object.assign(new Error(`no replay store at ${file}; on Kafka the read commands read the copy \`trailgate replay\` keeps: start it with this configuration (replay.store names the file)`), { code: 'TG_REPLAY_STORE_MISSING' });
    throw Object.assign(new Error(`no event log at ${file}; run \`trailgate up\` first or pass --config with the gateway's configuration`), { code: 'TG_LOG_MISSING' });
  }
  return new EmbeddedLog(file, { readonly: true });
}
