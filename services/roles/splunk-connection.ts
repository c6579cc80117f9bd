import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SplunkConfig } from '../../connectors/splunk/config.js';
import { SplunkSink } from '../../connectors/splunk/sink.js';
import { resolveSecret } from '../config/secrets.js';

/** The Splunk sink that `splunk:` in trailgate.yaml describes, its token read from env or file; its channel lives in <dataDir>/splunk. */
export function splunkSinkFor(config: SplunkConfig, dataDir: string, log?: (line: string) => void): SplunkSink {
  const token = resolveSecret(config.token, 'splunk.token')!;
  let ca: string | undefined;
  if (config.caFile) {
    try {
      ca = readFileSync(config.caFile, 'utf8');
    } catch (err) {
      throw Object.assign(new Error(`splunk.caFile ${config.caFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`), { code: 'TG_CONFIG_INVALID' });
    }
  }
  const { caFile: _caFile, token: _token, ...rest } = config;
  return new SplunkSink({ ...rest, token, ...(ca !== undefined ? { ca } : {}), stateDir: join(dataDir, 'splunk') }, log);
}
