import { readFileSync } from 'node:fs';
import type { SecretRef } from './schema.js';

/** Reads a secret from where the configuration points; the error names the key but never the value. */
export function resolveSecret(ref: SecretRef | undefined, key: string): string | undefined {
  if (ref === undefined) return undefined;
  if (typeof ref === 'string') return ref;
  if ('env' in ref) {
    const value = process.env[ref.env];
    if (value === undefined) throw new Error(`TG_CONFIG_SECRET: ${key} refers to environment variable ${ref.env}, which is not set`);
    return value;
  }
  try {
    return readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new Error(`TG_CONFIG_SECRET: ${key} refers to file ${ref.file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
