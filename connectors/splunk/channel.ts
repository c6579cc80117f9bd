import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The sink's HEC channel, kept across restarts in `<stateDir>/channel`, so that Splunk sees one
 * client (channels are a per-indexer resource with limits) instead of a new one per start.
 */
export function persistedChannel(stateDir: string): string {
  const file = join(stateDir, 'channel');
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (UUID.test(id)) return id;
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const id = randomUUID();
  writeFileSync(`${file}.tmp`, `${id}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return id;
}
