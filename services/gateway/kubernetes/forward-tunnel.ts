import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { KubeEndpoint } from './kube-endpoint.js';
import type { StreamOutcome } from './stream-relay.js';
import { settleOnce } from './settle-once.js';
import { TunnelCounter } from './tunnel-counter.js';
import { answerUnreachable, passRefusal, requestUpgrade, switchingProtocols } from './upgrade-relay.js';

/**
 * Port-forward over WebSocket, passed through at the byte level: kubectl 1.31+ names its subprotocol
 * `SPDY/3.1+portforward.k8s.io`, which WebSocket libraries refuse as a token, and the tunnel's payload
 * is not recorded anyway. The handshake goes to the cluster with the client's own key (so the cluster's
 * Sec-WebSocket-Accept is valid for the client); frames are counted (tunnel-counter.ts), not parsed for content.
 */
export function tunnelForward(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  endpoint: KubeEndpoint,
  path: string,
  headers: Record<string, string | string[]>,
  onOpen: (subprotocol: string | undefined) => void,
  register: (end: (reason: string) => void) => void,
): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    const outcome: StreamOutcome = { status: 0, bytesIn: 0, bytesOut: 0 };
    const done = settleOnce(outcome, resolve);
    const h: Record<string, string | string[]> = { ...headers, connection: 'Upgrade', upgrade: 'websocket' };
    for (const name of ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol']) {
      const v = req.headers[name];
      if (v !== undefined) h[name] = v;
    }
    const up = requestUpgrade(endpoint, 'GET', path, h);
    up.on('response', (answer) => {
      // the cluster refused the upgrade: the client gets the cluster's own answer
      outcome.status = answer.statusCode ?? 502;
      passRefusal(answer, socket, () => done(`the API server answered ${outcome.status}`));
    });
    up.on('upgrade', (answer, upSocket, upHead) => {
      up.setTimeout(0);
      outcome.status = 101;
      const subprotocol = answer.headers['sec-websocket-protocol'];
      socket.write(switchingProtocols(answer));
      onOpen(subprotocol);
      const spdy = /^SPDY\//i.test(String(subprotocol ?? ''));
      const fromClient = new TunnelCounter(spdy);
      const toClient = new TunnelCounter(spdy);
      const count = (c: TunnelCounter, chunk: Buffer) => c.push(chunk);
      socket.on('data', (d: Buffer) => count(fromClient, d));
      upSocket.on('data', (d: Buffer) => count(toClient, d));
      if (head.length) {
        count(fromClient, head);
        upSocket.write(head);
      }
      if (upHead.length) {
        count(toClient, upHead);
        socket.write(upHead);
      }
      socket.pipe(upSocket);
      upSocket.pipe(socket);
      const finish = (error?: string) => {
        outcome.bytesIn = fromClient.forwarded ?? fromClient.payload;
        outcome.bytesOut = toClient.forwarded ?? toClient.payload;
        socket.destroy();
        upSocket.destroy();
        done(error);
      };
      register((reason) => finish(reason));
      socket.on('close', () => finish());
      upSocket.on('close', () => finish());
      // The client's socket stays half-open after its end (the server's allowHalfOpen), and the API server keeps a
      // tunnel whose client sent its end: the client's end is its going away (a WebSocket closes with a frame first).
      socket.on('end', () => finish());
      socket.on('error', (e) => finish(e.message));
      upSocket.on('error', (e) => finish(e.message));
    });
    up.on('error', (err) => {
      answerUnreachable(socket, outcome, err);
      done(err.message);
    });
    up.end();
  });
}
