import type { TrailRedactor } from '../../masking/detectors/trail-redactor.js';
import type { TargetMasking } from '../../masking/target-masking.js';
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import type { PostgresTargetRole } from '../../config/schema.js';
import { ScramClient } from './scram-client.js';

/** Where and how the gateway reaches one target; the credential never leaves this process. */
export interface TargetEndpoint {
  name: string;
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  /** Tag each statement with the run as a sqlcommenter comment. */
  sqlcommenter?: boolean;
  tls: 'disable' | 'require' | 'verify-full';
  ca?: Buffer;
  /** Database roles per set of rights (targets.<name>.roles). */
  roles?: PostgresTargetRole[];
  /** Result masking (targets.<name>.masking). */
  masking?: TargetMasking;
  /** Statement text, parameters and client bytes through the detectors before they are recorded (masking.trail). */
  trail?: TrailRedactor | null;
}

/** An authenticated target connection, ready for queries. */
export interface BackendLink {
  socket: net.Socket;
  processId: number;
  secretKey: number;
  /** ParameterStatus values in the order the target sent them. */
  parameters: [string, string][];
  status: 'I' | 'T' | 'E';
  tls: boolean;
  /** Bytes received after ReadyForQuery (normally none). */
  leftover: Buffer;
}

export class TargetError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Opens, secures and authenticates a connection to the target. */
export async function connectTarget(ep: TargetEndpoint, startupParams: Record<string, string>, timeoutMs: number): Promise<BackendLink> {
  const raw = net.connect({ host: ep.host, port: ep.port });
  raw.setNoDelay(true);
  const timer = setTimeout(() => raw.destroy(new TargetError('TG_TARGET_TIMEOUT', `no answer from target '${ep.name}' within ${timeoutMs} ms`)), timeoutMs);
  try {
    await once(raw, 'connect');
    const socket = ep.tls === 'disable' ? raw : await startTls(raw, ep);
    const link = await authenticate(socket, ep, startupParams);
    return link;
  } catch (err) {
    raw.destroy();
    if (err instanceof TargetError) throw err;
    throw new TargetError('TG_TARGET_UNREACHABLE', `cannot reach target '${ep.name}' at ${ep.host}:${ep.port}: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends a cancel request for a target backend, on a connection of its own as the protocol requires. */
export async function sendCancel(ep: TargetEndpoint, processId: number, secretKey: number, timeoutMs: number): Promise<void> {
  const socket = net.connect({ host: ep.host, port: ep.port });
  const timer = setTimeout(() => socket.destroy(new Error('cancel timed out')), timeoutMs);
  try {
    await once(socket, 'connect');
    socket.end(serialize.cancel(processId, secretKey));
    await once(socket, 'close');
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

function once(socket: net.Socket, event: 'connect' | 'close'): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.off(event, onEvent);
      reject(err);
    };
    const onEvent = () => {
      socket.off('error', onError);
      resolve();
    };
    socket.once(event, onEvent);
    socket.once('error', onError);
  });
}

async function startTls(raw: net.Socket, ep: TargetEndpoint): Promise<net.Socket> {
  const sslRequest = Buffer.alloc(8);
  sslRequest.writeInt32BE(8, 0);
  sslRequest.writeInt32BE(80877103, 4);
  raw.write(sslRequest);
  const answer = await readByte(raw);
  if (answer !== 0x53) throw new TargetError('TG_TARGET_NO_TLS', `target '${ep.name}' does not accept TLS, but targets.${ep.name}.tls is '${ep.tls}'`);
  const secured = tls.connect({
    socket: raw,
    // The host name (or IP) the certificate must match under verify-full.
    host: ep.host,
    servername: net.isIP(ep.host) ? undefined : ep.host,
    rejectUnauthorized: ep.tls === 'verify-full',
    ca: ep.ca,
  });
  await new Promise<void>((resolve, reject) => {
    secured.once('secureConnect', resolve);
    secured.once('error', (err) => reject(new TargetError('TG_TARGET_TLS', `TLS with target '${ep.name}' failed: ${err.message}`)));
  });
  return secured;
}

function readByte(socket: net.Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      socket.off('error', reject);
      socket.pause();
      // The server sends exactly one byte before the TLS handshake; anything more is a protocol breach.
      if (chunk.length !== 1) reject(new TargetError('TG_TARGET_PROTOCOL', 'target answered the SSL request with unexpected data'));
      else resolve(chunk[0]!);
    };
    socket.once('data', onData);
    socket.once('error', reject);
  });
}

function authenticate(socket: net.Socket, ep: TargetEndpoint, startupParams: Record<string, string>): Promise<BackendLink> {
  return new Promise((resolve, reject) => {
    const parser = new Parser();
    const parameters: [string, string][] = [];
    let processId = 0;
    let secretKey = 0;
    let scram: ScramClient | null = null;
    const fail = (err: Error) => {
      socket.off('data', onData);
      reject(err);
    };
    const password = (): string => {
      if (ep.password === undefined) throw new TargetError('TG_TARGET_NO_PASSWORD', `target '${ep.name}' asks for a password; set targets.${ep.name}.password`);
      return ep.password;
    };
    const handle = async (msg: BackendMessage & Record<string, unknown>): Promise<boolean> => {
      switch (msg.name) {
        case 'authenticationCleartextPassword':
          socket.write(serialize.password(password()));
          return false;
        case 'authenticationMD5Password': {
          const inner = createHash('md5').update(password() + ep.user).digest('hex');
          const outer = createHash('md5').update(Buffer.concat([Buffer.from(inner), msg.salt as Buffer])).digest('hex');
          socket.write(serialize.password(`md5${outer}`));
          return false;
        }
        case 'authenticationSASL': {
          const mechanisms = msg.mechanisms as string[];
          if (!mechanisms.includes('SCRAM-SHA-256')) throw new TargetError('TG_TARGET_AUTH', `target '${ep.name}' offers only ${mechanisms.join(', ')}; the gateway speaks SCRAM-SHA-256`);
          scram = new ScramClient(password());
          socket.write(serialize.sendSASLInitialResponseMessage(scram.mechanism, scram.initialResponse()));
          return false;
        }
        case 'authenticationSASLContinue':
          if (!scram) throw new TargetError('TG_TARGET_PROTOCOL', 'target sent SASLContinue before SASL');
          socket.write(serialize.sendSCRAMClientFinalMessage(await scram.continue(msg.data as string)));
          return false;
        case 'authenticationSASLFinal':
          if (!scram) throw new TargetError('TG_TARGET_PROTOCOL', 'target sent SASLFinal before SASL');
          scram.finish(msg.data as string);
          return false;
        case 'authenticationOk':
          return false;
        case 'parameterStatus':
          parameters.push([msg.parameterName as string, msg.parameterValue as string]);
          return false;
        case 'backendKeyData':
          processId = msg.processID as number;
          secretKey = msg.secretKey as number;
          return false;
        case 'readyForQuery':
          return true;
        case 'error': {
          const code = (msg as unknown as { code?: string }).code ?? '';
          const authFailure = code === '28P01' || code === '28000';
          throw new TargetError(
            authFailure ? 'TG_TARGET_AUTH' : 'TG_TARGET_REFUSED',
            authFailure
              ? `target '${ep.name}' refused the gateway's credential (${code}); check targets.${ep.name}.user and password`
              : `target '${ep.name}' refused the connection: ${(msg as unknown as Error).message} (${code})`,
          );
        }
        default:
          return false;
      }
    };
    // Messages are handled strictly in order, even when one needs async work (PBKDF2).
    let chain = Promise.resolve(false);
    let done = false;
    const onData = (chunk: Buffer) => {
      const batch: (BackendMessage & Record<string, unknown>)[] = [];
      try {
        parser.parse(chunk, (m) => batch.push(m as BackendMessage & Record<string, unknown>));
      } catch (err) {
        fail(new TargetError('TG_TARGET_PROTOCOL', `target '${ep.name}' sent an unreadable message: ${(err as Error).message}`));
        return;
      }
      for (const m of batch) {
        chain = chain.then(async (finished) => finished || (await handle(m)));
      }
      chain.then(
        (ready) => {
          if (!ready || done) return;
          done = true;
          socket.off('data', onData);
          socket.off('close', onClose);
          socket.pause();
          resolve({ socket, processId, secretKey, parameters, status: 'I', tls: ep.tls !== 'disable', leftover: Buffer.alloc(0) });
        },
        (err: Error) => fail(err),
      );
    };
    const onClose = () => fail(new TargetError('TG_TARGET_CLOSED', `target '${ep.name}' closed the connection during authentication`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', fail);
    socket.resume();
    socket.write(serialize.startup({ ...startupParams, user: ep.user, database: ep.database }));
  });
}
