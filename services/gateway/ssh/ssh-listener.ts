import ssh2 from 'ssh2';
import type { SessionEndedData, SpoolWatermarkData } from '../../../events/index.js';
import { serveSshConnection, type SshGatewayDeps } from './ssh-connection.js';
import type { SshSession } from './ssh-session.js';
import { listenOn } from '../listen.js';

/** The SSH front door: an ssh2 server with the gateway's host key; each connection is served on its own. */
export class SshListener {
  private readonly server: ssh2.Server;
  private readonly sessions = new Set<SshSession>();
  private readonly connections = new Set<ssh2.Connection>();

  constructor(deps: SshGatewayDeps, hostKey: string) {
    this.server = new ssh2.Server({ hostKeys: [hostKey], ident: 'Trailgate' }, (conn, info) => {
      this.connections.add(conn);
      conn.on('close', () => this.connections.delete(conn));
      try {
        serveSshConnection(conn, info, deps, this.sessions);
      } catch {
        // A failure in one connection must never take the listener down.
        conn.end();
      }
    });
    // Client errors before the handshake (port scans, garbage) concern that client only.
    this.server.on('error', () => undefined);
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return listenOn(this.server, host, port);
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Records a spool watermark crossing in every open session. */
  noteWatermark(data: SpoolWatermarkData): void {
    for (const s of this.sessions) {
      if (s.ended) continue;
      s.recorder.closeChunks();
      s.recorder.event('spool.watermark', data);
    }
  }

  /** Ends every open session with a recorded reason; the listener keeps accepting. */
  endSessions(reason: SessionEndedData['reason'], detail: string): void {
    for (const s of this.sessions) s.end(reason, detail);
  }

  /** Stops accepting, ends every open session with a recorded reason, and closes client connections. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sessions) s.end('gateway-shutdown');
      for (const c of this.connections) c.end();
    });
  }
}
