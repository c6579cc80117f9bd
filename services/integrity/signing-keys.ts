import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';

/** The key the gateway signs checkpoints and ledger entries with. */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: JWK;
}

export interface PublishedKeys {
  keys: JWK[];
}

const CURRENT = 'signing-key.pem';
const JWKS = 'jwks.json';

export function keysDir(dataDir: string): string {
  return join(dataDir, 'keys');
}

/** The key id is the RFC 7638 thumbprint of the public key: a replaced key cannot keep its id. */
async function describe(privateKey: KeyObject): Promise<SigningKey> {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`TG_INTEGRITY_KEY_TYPE: the signing key is ${privateKey.asymmetricKeyType ?? 'not asymmetric'}; use an Ed25519 private key (openssl genpkey -algorithm ed25519)`);
  }
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { kid, privateKey, publicJwk: { ...jwk, kid, alg: 'EdDSA', use: 'sig' } };
}

function readPrivateKey(file: string): KeyObject {
  try {
    return createPrivateKey(readFileSync(file));
  } catch (err) {
    throw new Error(`TG_INTEGRITY_KEY_UNREADABLE: cannot read the signing key ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give a PKCS#8 PEM Ed25519 private key`);
  }
}

function writeSecret(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function readPublishedKeys(dir: string): PublishedKeys {
  const file = join(dir, JWKS);
  if (!existsSync(file)) return { keys: [] };
  return JSON.parse(readFileSync(file, 'utf8')) as PublishedKeys;
}

/** Adds a public key to the published set; older keys stay so that older sessions still verify. */
function publish(dir: string, key: SigningKey): void {
  const set = readPublishedKeys(dir);
  if (set.keys.some((k) => k.kid === key.kid)) return;
  const tmp = join(dir, `${JWKS}.tmp`);
  writeFileSync(tmp, `${JSON.stringify({ keys: [...set.keys, key.publicJwk] }, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, join(dir, JWKS));
}

/**
 * The signing key: from a configured file, else the one generated at first start. Its public key is
 * always in `<keys>/jwks.json`.
 */
export async function loadOrCreateSigningKey(dir: string, configuredFile?: string): Promise<SigningKey> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let privateKey: KeyObject;
  if (configuredFile) privateKey = readPrivateKey(configuredFile);
  else if (existsSync(join(dir, CURRENT))) privateKey = readPrivateKey(join(dir, CURRENT));
  else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    writeSecret(join(dir, CURRENT), privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  }
  const key = await describe(privateKey);
  publish(dir, key);
  return key;
}

/** Replaces the generated signing key; the old public key stays published. Takes effect at the next start. */
export async function rotateSigningKey(dir: string): Promise<{ previous: string | null; current: string }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const previous = existsSync(join(dir, CURRENT)) ? (await describe(readPrivateKey(join(dir, CURRENT)))).kid : null;
  const privateKey = generateKeyPairSync('ed25519').privateKey;
  const key = await describe(privateKey);
  publish(dir, key);
  writeSecret(join(dir, CURRENT), privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  return { previous, current: key.kid };
}
