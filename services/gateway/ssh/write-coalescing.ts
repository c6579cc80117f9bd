import type { Socket } from 'node:net';

/** ssh2 keeps each connection's TCP socket here (lib/client.js, lib/server.js). */
interface WithSocket {
  _sock?: unknown;
}

/**
 * Relaying, ssh2 writes every 32 KiB packet to its socket on its own: one system call per packet on
 * each leg. From the first read on either leg in a turn of the event loop, both sockets stay corked
 * until that turn's poll phase is over (setImmediate), so the packets made from every read of the
 * turn go out as one writev per leg: data toward the other leg, and on the same leg the window
 * adjustments and the data a window adjustment released. Order and backpressure are unchanged:
 * ssh2 ignores the socket's write() result and relies on the channel windows.
 */
export function coalesceRelayWrites(client: WithSocket, target: WithSocket): void {
  const a = socketOf(client);
  const b = socketOf(target);
  if (!a || !b) return;
  let corked = false;
  const uncork = () => {
    corked = false;
    a.uncork();
    b.uncork();
  };
  const onRead = () => {
    if (corked) return;
    corked = true;
    a.cork();
    b.cork();
    setImmediate(uncork);
  };
  a.prependListener('data', onRead);
  b.prependListener('data', onRead);
}

function socketOf(c: WithSocket): Socket | null {
  const s = c._sock as Partial<Socket> | undefined;
  return s && typeof s.cork === 'function' && typeof s.prependListener === 'function' ? (s as Socket) : null;
}
