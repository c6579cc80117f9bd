import type { Socket } from 'node:net';

/** ssh2 keeps each connection's TCP socket here (lib/client.js, lib/server.js). */
interface WithSocket {
  _sock?: unknown;
}

/**
 * Relaying, ssh2 writes every 32 KiB packet to its socket on its own: one system call per packet on
 * each leg. While one read from either leg is parsed, the other leg's socket is corked until the end
 * of that turn, so the packets it makes go out as one writev. Order and backpressure are unchanged:
 * ssh2 ignores the socket's write() result and relies on the channel windows.
 */
export function coalesceRelayWrites(client: WithSocket, target: WithSocket): void {
  const a = socketOf(client);
  const b = socketOf(target);
  if (!a || !b) return;
  corkWhileReading(a, b);
  corkWhileReading(b, a);
}

function corkWhileReading(from: Socket, to: Socket): void {
  let corked = false;
  const uncork = () => {
    corked = false;
    to.uncork();
  };
  from.prependListener('data', () => {
    if (corked || to.destroyed) return;
    corked = true;
    to.cork();
    process.nextTick(uncork);
  });
}

function socketOf(c: WithSocket): Socket | null {
  const s = c._sock as Partial<Socket> | undefined;
  return s && typeof s.cork === 'function' && typeof s.prependListener === 'function' ? (s as Socket) : null;
}
