import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 in front of a real service that a test can take away and bring back on the
 * same port: while blocked, connections are refused (nothing listens) and open ones are cut, as when the
 * service's host is down. Bytes pass through untouched (TLS included), so clients talk to the service itself.
 */
export class BlockablePort {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private port = 0;

  private constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  /** Relays to `upstream` (`http://host:port`, `https://host:port` or `host:port`). */
  static async start(upstream: string): Promise<BlockablePort> {
    const u = new URL(upstream.includes('://') ? upstream : `tcp://${upstream}`);
    const relay = new BlockablePort(u.hostname, Number(u.port));
    await relay.listen();
    return relay;
  }

  /** The upstream URL with this relay's port in it. */
  url(scheme = 'http'): string {
    return `${scheme}://127.0.0.1:${this.port}`;
  }

  get blocked(): boolean {
    return this.server === null;
  }

  /** Stops listening and cuts every relayed connection. */
  async block(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async unblock(): Promise<void> {
    if (!this.server) await this.listen();
  }

  stop(): Promise<void> {
    return this.block();
  }

  private async listen(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.upstreamPort, this.upstreamHost);
      this.sockets.add(client).add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }
}
