import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { fingerprintOf } from './host-key.js';
import { generateOpenSshEd25519 } from './openssh-ed25519.js';

export interface GatewayHostKey {
  /** The private key as ssh2's server takes it. */
  privateKey: string;
  /** `SHA256:...`, for clients to pin (`ssh-keygen -lf` shows the same). */
  fingerprint: string;
  /** The OpenSSH public key line, for a client's known_hosts. */
  publicKey: string;
  file: string;
}

/**
 * The gateway's SSH host key: from configuration, or generated (Ed25519) at first start into
 * dataDir/ssh and kept there, so clients that pinned it keep trusting the same gateway.
 */
export function loadOrCreateHostKey(configured: string | undefined, dataDir: string): GatewayHostKey {
  const file = configured ?? join(dataDir, 'ssh', 'ssh_host_ed25519_key');
  if (!configured && !existsSync(file)) {
    mkdirSync(join(dataDir, 'ssh'), { recursive: true, mode: 0o700 });
    const pair = generateOpenSshEd25519('trailgate-gateway');
    // wx: two gateways starting on one data dir must not overwrite each other's key.
    writeFileSync(file, pair.private, { mode: 0o600, flag: 'wx' });
    writeFileSync(`${file}.pub`, `${pair.public}\n`, { mode: 0o644 });
  }
  let privateKey: string;
  try {
    privateKey = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`TG_CONFIG_INVALID: ssh.hostKeyFile ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    const fix = configured ? 'give an unencrypted OpenSSH, PEM or PuTTY private key' : 'remove it and its .pub to have a new key generated at the next start';
    throw new Error(`TG_CONFIG_INVALID: ssh.hostKeyFile ${file} is not a usable private key: ${fix}`);
  }
  const blob = parsed.getPublicSSH();
  return { privateKey, fingerprint: fingerprintOf(blob), publicKey: `${parsed.type} ${blob.toString('base64')}`, file };
}
