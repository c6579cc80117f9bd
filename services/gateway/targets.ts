import { readFileSync } from 'node:fs';
import type { PostgresTargetConfig, SshTargetConfig, TrailgateConfig } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import { keysDir } from '../integrity/signing-keys.js';
import { TrailRedactor } from '../masking/detectors/trail-redactor.js';
import { TargetMasking } from '../masking/target-masking.js';
import type { TargetEndpoint } from './postgres/backend-connection.js';
import { pinnedFingerprint } from './ssh/host-key.js';

/** An SSH host the gateway logs in to with its own key, after the host proved the pinned key. */
export interface SshEndpoint {
  name: string;
  host: string;
  port: number;
  user: string;
  privateKey: string;
  passphrase?: string;
  /** `SHA256:` fingerprints any of which the host may present. */
  hostKeys: string[];
  sendEnv: boolean;
  connectTimeoutMs: number;
}

/** Turns the configured Postgres targets into endpoints, reading each credential once at start. */
export function targetEndpoints(config: TrailgateConfig): Map<string, TargetEndpoint> {
  const out = new Map<string, TargetEndpoint>();
  for (const [name, t] of Object.entries(config.targets)) {
    if (t.kind !== 'postgres') continue;
    out.set(name, postgresEndpoint(name, t, config.dataDir));
  }
  return out;
}

/** `dataDir` null: the masking key is not read (commands that only explain masking). */
export function postgresEndpoint(name: string, t: PostgresTargetConfig, dataDir: string | null): TargetEndpoint {
  const password = resolveSecret(t.password, `targets.${name}.password`);
  return {
    name,
    host: t.host,
    port: t.port,
    database: t.database,
    user: t.user,
    tls: t.tls,
    sqlcommenter: t.sqlcommenter,
    roles: t.roles,
    ...(t.masking ? { masking: new TargetMasking(name, t.masking, dataDir === null ? null : keysDir(dataDir)) } : {}),
    trail: TrailRedactor.of(t.masking?.trail),
    ...(password !== undefined ? { password } : {}),
    ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}),
  };
}

/** The configured SSH targets, keys read and pinned host keys checked at start. */
export function sshEndpoints(config: TrailgateConfig): Map<string, SshEndpoint> {
  const out = new Map<string, SshEndpoint>();
  for (const [name, t] of Object.entries(config.targets)) {
    if (t.kind === 'ssh') out.set(name, sshEndpoint(name, t));
  }
  return out;
}

function sshEndpoint(name: string, t: SshTargetConfig): SshEndpoint {
  const privateKey = resolveSecret(t.privateKey, `targets.${name}.privateKey`) as string;
  const passphrase = resolveSecret(t.passphrase, `targets.${name}.passphrase`);
  const hostKeys = (typeof t.hostKey === 'string' ? [t.hostKey] : t.hostKey).map((k, i) => {
    try {
      return pinnedFingerprint(k);
    } catch (err) {
      throw new Error(`TG_CONFIG_INVALID: targets.${name}.hostKey${typeof t.hostKey === 'string' ? '' : `.${i}`} ${(err as Error).message}`);
    }
  });
  return {
    name,
    host: t.host,
    port: t.port,
    user: t.user,
    privateKey: privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`,
    ...(passphrase !== undefined ? { passphrase } : {}),
    hostKeys,
    sendEnv: t.sendEnv,
    connectTimeoutMs: t.connectTimeoutSeconds * 1000,
  };
}
