import net from 'node:net';
import type { RelaySession } from './relay-session.js';
import { servePostgresConnection, type PostgresGatewayDeps } from './postgres-connection.js';
import { listenOn } from '../listen.js';

/** The Postgres front door: accepts clients and serves each connection on its own. */
export class PostgresListener {
  private readonly server: net.Server;
  private readonly sessions = new Set<RelaySession>();
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly deps: PostgresGatewayDeps) {
    this.server = net.createServer({ pauseOnConnect: false }, (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      // A failure in one connection must never take the listener down.
      servePostgresConnection(socket, this.deps, this.sessions).catch(() => socket.destroy());
    });
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return listenOn(this.server, host, port);
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Client connections not yet closed, sessions or not: a closed one must never stay here. */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Every open session, for events about the gateway's own state. */
  forEachSession(fn: (session: RelaySession) => void): void {
    for (const s of this.sessions) fn(s);
  }

  /** Ends every open session with a recorded reason; the listener keeps accepting. */
  endSessions(reason: Parameters<RelaySession['end']>[0], detail: string): void {
    for (const s of this.sessions) s.end(reason, detail);
  }

  /** Ends every session with the FATAL of a log that cannot record them (recording.maxHeldBytes reached). */
  refuseRecording(err: Parameters<RelaySession['refuseRecording']>[0]): void {
    for (const s of this.sessions) s.refuseRecording(err);
  }

  /** Stops accepting, ends every open session with a recorded reason, and closes client sockets. */
  async close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions) s.end('gateway-shutdown');
    // An ended session's last message (its FATAL) is still queued: let it reach the client, then cut the rest.
    await closedWithin(this.sockets, CLOSE_GRACE_MS);
    for (const socket of this.sockets) socket.destroy();
    await stopped;
  }
}

/** How long client sockets get to close by themselves once their sessions ended. */
const CLOSE_GRACE_MS = 2_000;

function closedWithin(sockets: ReadonlySet<net.Socket>, ms: number): Promise<void> {
  if (sockets.size === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    Promise.all([...sockets].map((s) => new Promise((r) => s.once('close', r)))).then(() => {
      clearTimeout(timer);
      resolve();
    }, resolve);
  });
}
