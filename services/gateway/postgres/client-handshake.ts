import type net from 'node:net';
import tls from 'node:tls';
import { authenticationCleartextPassword, errorResponse, negotiateProtocolVersion } from './backend-writer.js';
import { FrontendFramer } from './frontend-framer.js';
import { decodeCancelRequest, decodePassword, decodeStartupParameters } from './frontend-messages.js';
import { CANCEL_REQUEST_CODE, Fe, GSSENC_REQUEST_CODE, PROTOCOL_3_0, ProtocolError, SSL_REQUEST_CODE, SqlState } from './protocol.js';

export type HandshakeResult =
  | { kind: 'cancel'; processId: number; secretKey: number }
  | { kind: 'startup'; socket: net.Socket; framer: FrontendFramer; tls: boolean; parameters: Record<string, string>; password: string | undefined };

export interface HandshakeOptions {
  tlsContext: tls.SecureContext | null;
  requireTls: boolean;
  maxMessageBytes: number;
}

/**
 * Runs the client side of the startup phase: TLS negotiation, the startup message and the password
 * exchange that carries the CI token. Policy and recording happen in the caller.
 */
export class ClientHandshake {
  private socket: net.Socket;
  private framer: FrontendFramer;
  private tls = false;
  private waiting: (() => void) | null = null;
  private failure: Error | null = null;
  /** Removes this handshake's own listeners; others on the socket (the listener's bookkeeping) stay. */
  private readonly unlisten: (() => void)[] = [];

  constructor(
    socket: net.Socket,
    private readonly o: HandshakeOptions,
  ) {
    this.socket = socket;
    this.framer = new FrontendFramer(o.maxMessageBytes);
    this.listen(socket);
  }

  get clientSocket(): net.Socket {
    return this.socket;
  }

  async run(): Promise<HandshakeResult> {
    for (;;) {
      const packet = await this.nextStartupPacket();
      if (packet.code === SSL_REQUEST_CODE) {
        if (this.tls) throw new ProtocolError('TG_PG_DOUBLE_SSL', 'SSL request received on an encrypted connection');
        await this.upgrade();
        continue;
      }
      if (packet.code === GSSENC_REQUEST_CODE) {
        this.socket.write('N');
        continue;
      }
      if (packet.code === CANCEL_REQUEST_CODE) return { kind: 'cancel', ...decodeCancelRequest(packet.body) };
      if (packet.code >> 16 !== 3) {
        throw new ProtocolError('TG_PG_PROTOCOL_VERSION', `unsupported frontend protocol ${packet.code >> 16}.${packet.code & 0xffff}: the gateway speaks 3.0`, SqlState.FeatureNotSupported);
      }
      const parameters = decodeStartupParameters(packet.body);
      const unsupported = Object.keys(parameters).filter((k) => k.startsWith('_pq_.'));
      if (packet.code !== PROTOCOL_3_0 || unsupported.length) {
        this.socket.write(negotiateProtocolVersion(PROTOCOL_3_0, unsupported));
        for (const k of unsupported) delete parameters[k];
      }
      const replication = parameters.replication;
      if (replication !== undefined && !['false', 'off', 'no', '0'].includes(replication.toLowerCase())) {
        throw new ProtocolError('TG_PG_REPLICATION', 'replication connections are not relayed: they bypass statement policy and recording', SqlState.FeatureNotSupported);
      }
      if (this.o.requireTls && !this.tls) {
        throw new ProtocolError('TG_PG_TLS_REQUIRED', 'the gateway requires TLS for connections that are not on loopback: connect with sslmode=require (or verify-full)', SqlState.InvalidAuthorization);
      }
      return { kind: 'startup', socket: this.socket, framer: this.framer, tls: this.tls, parameters, password: await this.askPassword() };
    }
  }

  /**
   * Closes a connection that has said all it had to say (a cancel request). Over TLS this sends
   * close_notify first: libpq reports a bare TCP close as 'SSL error: unexpected eof'.
   */
  finish(): void {
    if (this.socket.destroyed) return;
    const socket = this.socket;
    socket.end();
    // A client that never closes its side must not keep the connection open.
    setTimeout(() => socket.destroy(), 5000).unref();
  }

  /** Sends a fatal error to the client in its own protocol, then closes. */
  reject(sqlstate: string, message: string, hint?: string): void {
    if (this.socket.destroyed) return;
    const socket = this.socket;
    socket.end(errorResponse({ severity: 'FATAL', sqlstate, message, ...(hint ? { hint } : {}) }));
    // A client that never closes its side must not keep the connection open.
    setTimeout(() => socket.destroy(), 5000).unref();
  }

  private async askPassword(): Promise<string | undefined> {
    this.socket.write(authenticationCleartextPassword());
    const msg = await this.nextMessage();
    if (msg.type !== Fe.Password) throw new ProtocolError('TG_PG_EXPECTED_PASSWORD', `expected a password message, got '${String.fromCharCode(msg.type)}'`);
    const password = decodePassword(msg.body);
    return password === '' ? undefined : password;
  }

  private async upgrade(): Promise<void> {
    if (!this.o.tlsContext) {
      this.socket.write('N');
      return;
    }
    // Bytes sent after the SSL request but before the handshake could be injected by a man in the middle.
    if (this.framer.pendingBytes > 0) throw new ProtocolError('TG_PG_SSL_PIPELINED', 'unencrypted data received after the SSL request');
    this.socket.removeAllListeners('data');
    this.socket.write('S');
    const secure = new tls.TLSSocket(this.socket, { isServer: true, secureContext: this.o.tlsContext });
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', resolve);
      secure.once('error', (err) => reject(new ProtocolError('TG_PG_TLS_HANDSHAKE', `TLS handshake failed: ${err.message}`)));
    });
    this.socket = secure;
    this.tls = true;
    this.listen(secure);
  }

  private listen(socket: net.Socket): void {
    const onData = (chunk: Buffer) => {
      this.framer.push(chunk);
      this.wake();
    };
    const onClose = () => {
      this.failure ??= new ProtocolError('TG_PG_CLIENT_GONE', 'client closed the connection during startup');
      this.wake();
    };
    const onError = (err: Error) => {
      this.failure ??= err;
      this.wake();
    };
    socket.on('data', onData).once('close', onClose).once('error', onError);
    this.unlisten.push(() => socket.off('data', onData).off('close', onClose).off('error', onError));
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  private async nextStartupPacket() {
    for (;;) {
      const packet = this.framer.nextStartupPacket();
      if (packet) return packet;
      await this.more();
    }
  }

  private async nextMessage() {
    for (;;) {
      const [msg] = this.framer.messages(1);
      if (msg) return msg;
      await this.more();
    }
  }

  private more(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = () => (this.failure ? reject(this.failure) : resolve());
    });
  }

  /** Hands the socket to the relay: it registers its own listeners. */
  detach(): void {
    for (const off of this.unlisten.splice(0)) off();
    this.socket.pause();
  }
}
