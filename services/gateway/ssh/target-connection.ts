import { Client, type BaseAgent } from 'ssh2';
import type { SshEndpoint } from '../targets.js';
import { fingerprintOf } from './host-key.js';

export type SshTargetErrorCode = 'TG_TARGET_HOST_KEY' | 'TG_TARGET_UNREACHABLE' | 'TG_TARGET_AUTH' | 'TG_TARGET_TIMEOUT';

export class SshTargetError extends Error {
  constructor(
    readonly code: SshTargetErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface SshTargetLink {
  client: Client;
  /** The host key the target proved, `SHA256:...`. */
  hostKey: string;
  serverVersion?: string;
}

/**
 * Logs in to an SSH target with the gateway's key. The host must present one of the pinned host keys;
 * any other key ends the handshake before the gateway authenticates or sends anything.
 */
export function connectSshTarget(ep: SshEndpoint, agent?: BaseAgent): Promise<SshTargetLink> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let presented: string | undefined;
    let settled = false;
    const fail = (err: SshTargetError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      // ssh2 keeps the server's software version from its identification line here.
      const serverVersion = (client as unknown as { _remoteVer?: unknown })._remoteVer;
      resolve({ client, hostKey: presented!, ...(typeof serverVersion === 'string' ? { serverVersion } : {}) });
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (presented !== undefined && !ep.hostKeys.includes(presented)) {
        fail(new SshTargetError('TG_TARGET_HOST_KEY', `the target's host key ${presented} is not the pinned one (${ep.hostKeys.join(' or ')}); the gateway refuses to log in to a host it cannot identify`));
      } else if (err.level === 'client-authentication') {
        fail(new SshTargetError('TG_TARGET_AUTH', `the target refused the gateway's key for user '${ep.user}'`));
      } else if (err.level === 'client-timeout') {
        fail(new SshTargetError('TG_TARGET_TIMEOUT', `no SSH handshake within ${ep.connectTimeoutMs / 1000} s`));
      } else {
        fail(new SshTargetError('TG_TARGET_UNREACHABLE', err.code ? `${err.message} (${err.code})` : err.message));
      }
    });
    client.on('close', () => fail(new SshTargetError('TG_TARGET_UNREACHABLE', 'the target closed the connection during the handshake')));
    try {
      client.connect({
        host: ep.host,
        port: ep.port,
        username: ep.user,
        privateKey: ep.privateKey,
        ...(ep.passphrase !== undefined ? { passphrase: ep.passphrase } : {}),
        readyTimeout: ep.connectTimeoutMs,
        keepaliveInterval: 30_000,
        hostVerifier: (key: Buffer) => {
          presented = fingerprintOf(key);
          return ep.hostKeys.includes(presented);
        },
        // Only the gateway's key: never an agent, never a password. The agent, when a rule grants it,
        // is only offered onward to the target's commands (see agent-relay.ts).
        authHandler: ['publickey'],
        ...(agent ? { agent } : {}),
        ident: 'Trailgate',
      });
    } catch (err) {
      fail(new SshTargetError('TG_TARGET_UNREACHABLE', (err as Error).message));
    }
  });
}
