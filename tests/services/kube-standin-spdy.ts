import { spawn } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { SpdyFrameReader } from '../../services/gateway/kubernetes/spdy-frames.js';
import { data, SpdyWriter } from '../support/spdy-writer.js';

/**
 * The stand-in's exec over SPDY/3.1, as a kubelet serves kubectl 1.29 (remotecommand v4): it answers each
 * stream kubectl opens, starts the command once the streams the request asked for are there, relays stdin,
 * stdout and stderr, and ends with a Status on the error stream. No flow control, no resize (the stand-in's
 * terminal is `script`'s). Not Kubernetes: a peer for the gateway's SPDY relay when the real tier is not built.
 */
export function spdyExec(req: IncomingMessage, socket: Duplex, q: URLSearchParams): void {
  const offered = String(req.headers['x-stream-protocol-version'] ?? '').split(',').map((v) => v.trim());
  if (!offered.includes('v4.channel.k8s.io')) {
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nthe stand-in speaks v4.channel.k8s.io over SPDY only');
    return;
  }
  socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n');
  socket.on('error', () => undefined);
  const tty = q.get('tty') === 'true';
  const wanted = new Set(['error', ...(q.get('stdin') === 'true' ? ['stdin'] : []), ...(q.get('stdout') === 'true' ? ['stdout'] : []), ...(q.get('stderr') === 'true' && !tty ? ['stderr'] : []), ...(tty ? ['resize'] : [])]);
  const reader = new SpdyFrameReader();
  const writer = new SpdyWriter();
  const ids = new Map<string, number>();
  const types = new Map<number, string>();
  let child: ReturnType<typeof spawn> | null = null;
  socket.on('data', (chunk: Buffer) => {
    let events;
    try {
      events = reader.push(chunk);
    } catch {
      socket.destroy();
      return;
    }
    for (const e of events) {
      if (e.kind === 'stream') {
        const t = e.headers.get('streamtype')?.[0] ?? '';
        ids.set(t, e.id);
        types.set(e.id, t);
        socket.write(writer.synReply(e.id, {}));
        if (!child && [...wanted].every((w) => ids.has(w))) child = start();
      } else if (e.kind === 'data' && types.get(e.id) === 'stdin' && child) {
        if (e.data.length) child.stdin!.write(e.data);
        if (e.fin) child.stdin!.end();
      }
    }
  });
  socket.on('close', () => child?.kill());

  function start(): ReturnType<typeof spawn> {
    const command = q.getAll('command');
    const quoted = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const c = tty ? spawn('script', ['-qefc', quoted, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = (type: string) => (d: Buffer) => {
      const id = ids.get(type);
      if (id !== undefined && !socket.destroyed) socket.write(data(id, d));
    };
    c.stdout!.on('data', out('stdout'));
    c.stderr!.on('data', out('stderr'));
    c.stdin!.on('error', () => undefined);
    c.on('close', (code) => {
      if (socket.destroyed) return;
      const status =
        code === 0
          ? { metadata: {}, status: 'Success' }
          : { metadata: {}, status: 'Failure', message: `command terminated with non-zero exit code: ${code}`, reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(code) }] } };
      socket.write(data(ids.get('error')!, JSON.stringify(status), true));
      for (const t of ['stdout', 'stderr']) if (ids.has(t)) socket.write(data(ids.get(t)!, '', true));
      socket.end();
    });
    return c;
  }
}
