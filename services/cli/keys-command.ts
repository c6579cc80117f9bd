import { keysDir, loadOrCreateSigningKey, readPublishedKeys, rotateSigningKey } from '../integrity/signing-keys.js';
import { cliConfig } from './cli-config.js';

/** Prints the published JWKS: keep a copy apart from the gateway and verify against it. */
export async function runKeysJwks(configFile: string | undefined): Promise<void> {
  const config = cliConfig(configFile);
  const dir = keysDir(config.dataDir);
  // Creates the key on a fresh data directory, so the JWKS can be taken before the first session.
  await loadOrCreateSigningKey(dir, config.integrity.signingKeyFile);
  process.stdout.write(`${JSON.stringify(readPublishedKeys(dir), null, 2)}\n`);
}

export async function runKeysRotate(configFile: string | undefined): Promise<void> {
  const config = cliConfig(configFile);
  if (config.integrity.signingKeyFile) {
    throw Object.assign(new Error(`the signing key comes from ${config.integrity.signingKeyFile}; rotate it by replacing that file (its public key is published at the next start)`), { code: 'TG_KEYS_CONFIGURED' });
  }
  const r = await rotateSigningKey(keysDir(config.dataDir));
  console.log(`new signing key ${r.current}${r.previous ? ` replaces ${r.previous} (still published, so older sessions verify)` : ''}; restart the gateway to sign with it, and update the JWKS copy you verify against`);
}
