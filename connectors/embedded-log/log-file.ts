import { join } from 'node:path';

/** Where the embedded log lives in a data directory; apart from the gateway so the CLI's readers load nothing else. */
export function embeddedLogFile(dataDir: string): string {
  return join(dataDir, 'trailgate.db');
}
