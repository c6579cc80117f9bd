import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import type { TrailgateConfig } from '../config/schema.js';

/** The configuration a command runs with: the given file, ./trailgate.yaml, or the defaults. */
export function cliConfig(file: string | undefined): TrailgateConfig {
  if (file) return loadConfig(file);
  return loadConfig(existsSync('trailgate.yaml') ? 'trailgate.yaml' : undefined);
}
