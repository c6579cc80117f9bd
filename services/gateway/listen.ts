import type { AddressInfo } from 'node:net';

/** What a front door's server needs to listen: Node's net.Server and ssh2's Server both fit. */
interface Listenable {
  listen(port: number, host: string, cb: () => void): unknown;
  address(): AddressInfo | string | null;
  once(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
}

/** Listens and resolves with the address really bound (port 0 picks a free one). */
export function listenOn(server: Listenable, host: string, port: number): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      resolve({ host: addr.address, port: addr.port });
    });
  });
}
