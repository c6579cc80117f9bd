import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { TrailgateConfig } from './schema.js';

export class ConfigError extends Error {
  readonly code = 'TG_CONFIG_INVALID';
}

/** Reads and validates trailgate.yaml; every problem is reported with the key that causes it. */
export function loadConfig(file: string | undefined): TrailgateConfig {
  let raw: unknown = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); pass --config with the path of trailgate.yaml`);
    }
    try {
      raw = parse(text) ?? {};
    } catch (err) {
      throw new ConfigError(`${file}: is not valid YAML: ${(err as Error).message}`);
    }
  }
  return validateConfig(raw, file);
}

export function validateConfig(raw: unknown, file = 'configuration'): TrailgateConfig {
  const result = TrailgateConfig.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new ConfigError(`${file} has ${lines.length} problem${lines.length > 1 ? 's' : ''}:\n${lines.join('\n')}`);
  }
  const config = result.data;
  config.instance ??= hostname();
  // Relative paths in the file are relative to the file, so the gateway can start from any directory.
  if (file !== 'configuration' && !isAbsolute(config.dataDir)) config.dataDir = resolve(dirname(file), config.dataDir);
  return config;
}
