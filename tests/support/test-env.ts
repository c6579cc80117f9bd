import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
/** Settings of the real services that tests/run.sh started; a missing one fails the test run, never skips it. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\`, which starts PostgreSQL and sshd and exports their settings`);
  return value;
}

export interface PostgresService {
  host: string;
  port: number;
  database: string;
  appUser: string;
  appPassword: string;
  superUser: string;
  superPassword: string;
  /** Certificate the test cluster presents; trusted as a CA by verify-full targets. */
  caFile: string;
}

export function postgresService(): PostgresService {
  return {
    host: requiredEnv('TG_PG_HOST'),
    port: Number(requiredEnv('TG_PG_PORT')),
    database: requiredEnv('TG_PG_DB'),
    appUser: requiredEnv('TG_PG_APP_USER'),
    appPassword: requiredEnv('TG_PG_APP_PASSWORD'),
    superUser: requiredEnv('TG_PG_SUPERUSER'),
    superPassword: requiredEnv('TG_PG_SUPERPASSWORD'),
    caFile: requiredEnv('TG_PG_CA_FILE'),
  };
}

export interface SshService {
  host: string;
  port: number;
  user: string;
  /** The private key the gateway (and a direct client) logs in with. */
  keyFile: string;
  /** The server's public host key, and its SHA256 fingerprint, to pin. */
  hostKeyFile: string;
  hostKeyFingerprint: string;
  /** A host key the server does not have. */
  otherHostKeyFile: string;
  knownHosts: string;
}

export function sshService(): SshService {
  const hostKeyFile = requiredEnv('TG_SSH_HOST_KEY_FILE');
  const blob = Buffer.from(readFileSync(hostKeyFile, 'utf8').trim().split(/\s+/)[1] ?? '', 'base64');
  return {
    host: requiredEnv('TG_SSH_HOST'),
    port: Number(requiredEnv('TG_SSH_PORT')),
    user: requiredEnv('TG_SSH_USER'),
    keyFile: requiredEnv('TG_SSH_KEY_FILE'),
    hostKeyFile,
    hostKeyFingerprint: `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`,
    otherHostKeyFile: requiredEnv('TG_SSH_OTHER_HOST_KEY_FILE'),
    knownHosts: requiredEnv('TG_SSH_KNOWN_HOSTS'),
  };
}
