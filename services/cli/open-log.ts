import { existsSync } from 'node:fs';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import type { TrailgateConfig } from '../config/schema.js';
import { embeddedLogFile } from '../../connectors/embedded-log/log-file.js';

export function openLogForReading(config: TrailgateConfig): EmbeddedLog {
  const file = embeddedLogFile(config.dataDir);
  if (!existsSync(file)) throw Object.assign(new Error(`no event log at ${file}; run \`trailgate up\` first or pass --config with the gateway's configuration`), { code: 'TG_LOG_MISSING' });
  return new EmbeddedLog(file, { readonly: true });
}
