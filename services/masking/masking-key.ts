// The per-target HMAC key of `strategy: hmac`: read from the configured file, or generated once into the key dir.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where a generated key lives: beside the signing keys, one per target (equal values differ across targets). */
export function maskingKeyPath(keysDir: string, target: string): string {
  return join(keysDir, `masking-${target}.key`);
}

/** Reads the key (hex or raw bytes, at least 32 bytes); generates it on first start when no file is configured. */
export function loadMaskingKey(target: string, keyFile: string | undefined, keysDir: string): Buffer {
  const file = keyFile ?? maskingKeyPath(keysDir, target);
  if (!keyFile && !existsSync(file)) {
    mkdirSync(keysDir, { recursive: true, mode: 0o700 });
    // flag wx: two gateways starting on one data directory never overwrite each other's key.
    try {
      writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw keyError(target, file, err);
    }
    chmodSync(file, 0o600);
  }
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (err) {
    throw keyError(target, file, err);
  }
  const text = raw.toString('utf8').trim();
  const key = /^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 ? Buffer.from(text, 'hex') : raw;
  if (key.length < 32) {
    throw new Error(`TG_MASKING_KEY_SHORT: the masking key of target '${target}' (${file}) has ${key.length} bytes; give at least 32 (openssl rand -hex 32)`);
  }
  return key;
}

function keyError(target: string, file: string, err: unknown): Error {
  return new Error(`TG_MASKING_KEY_UNREADABLE: cannot read or create the masking key of target '${target}' at ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); set targets.${target}.masking.keyFile to a readable file`);
}
