import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { KubeEndpoint } from './kube-endpoint.js';
import { settleOnce } from './settle-once.js';
import { SpdyFrameReader, SpdyProtocolError } from './spdy-frames.js';
import type { SpdyObserver } from './spdy-streams.js';
import type { StreamOutcome } from './stream-relay.js';

/** Bytes waiting toward one side before the other side is paused (as the WebSocket relay). */
const HIGH_WATER = 1024 * 1024;

export interface SpdyRelayHooks {
  /** The cluster accepted the upgrade with this X-Stream-Protocol-Version: the observer of the streams. */
  opened(protocol: string): SpdyObserver;
  /** Called with a function that ends the relay (the session's end), again once the connection is upgraded. */
  register(end: (reason: string) => void): void;
  /** The relay ended (before `relaySpdy` resolves, so that a session's end still finds it open). */
  closed(outcome: StreamOutcome): void;
}

/**
 * An exec, attach or port-forward over SPDY/3.1 (kubectl 1.29, 1.30's port-forward): the upgrade goes
 * to the cluster with the gateway's headers and the client's offered stream protocols that the gateway
 * can read; once the cluster switched protocols, the client gets its 101 and the frames pass unchanged
 * both ways, each chunk read (and recorded) before it is forwarded. Bytes that are not SPDY end the
 * stream with TG_KUBE_SPDY_MALFORMED.
 */
export function relaySpdy(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  endpoint: KubeEndpoint,
  path: string,
  headers: Record<string, string | string[]>,
  protocols: string[],
  hooks: SpdyRelayHooks,
): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    const outcome: StreamOutcome = { status: 0, bytesIn: 0, bytesOut: 0 };
    const done = settleOnce(outcome, (o) => {
      hooks.closed(o);
      resolve(o);
    });
    const h: Record<string, string | string[]> = { ...headers, connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': protocols };
    const up = https.request({ host: endpoint.url.hostname, port: endpoint.url.port || 443, method: req.method ?? 'POST', path, headers: h, ...endpoint.tls, agent: false, timeout: endpoint.connectTimeoutMs });
    up.on('timeout', () => up.destroy(new Error(`no answer from the API server within ${endpoint.connectTimeoutMs / 1000} s`)));
    hooks.register((reason) => {
      up.destroy();
      socket.destroy();
      done(reason);
    });
    up.on('response', (answer) => {
      // the cluster refused the upgrade: the client gets the cluster's own answer
      outcome.status = answer.statusCode ?? 502;
      const parts: Buffer[] = [];
      answer.on('data', (c: Buffer) => parts.length < 64 && parts.push(c));
      answer.on('end', () => {
        const body = Buffer.concat(parts);
        outcome.bytesOut = body.length;
        socket.end(`HTTP/1.1 ${outcome.status} ${answer.statusMessage ?? ''}\r\nContent-Type: ${answer.headers['content-type'] ?? 'application/json'}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString('latin1')}`, 'latin1');
        done(`the API server answered ${outcome.status}`);
      });
    });
    up.on('upgrade', (answer, upSocket, upHead) => {
      up.setTimeout(0);
      outcome.status = 101;
      const protocol = String(answer.headers['x-stream-protocol-version'] ?? '');
      outcome.subprotocol = protocol;
      let observer: SpdyObserver;
      try {
        if (!protocols.includes(protocol)) throw new SpdyProtocolError(`the API server chose stream protocol '${protocol.slice(0, 60)}', which the client did not offer through the gateway`);
        observer = hooks.opened(protocol);
      } catch (err) {
        upSocket.destroy();
        socket.destroy();
        done((err as Error).message);
        return;
      }
      let text = 'HTTP/1.1 101 Switching Protocols\r\n';
      for (let i = 0; i < answer.rawHeaders.length; i += 2) text += `${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}\r\n`;
      socket.write(`${text}\r\n`);
      let finished = false;
      /** A clean end lets what is queued toward each side go out first; an error or a malformed frame cuts both. */
      const finish = (error?: string, malformed = false) => {
        if (finished) return;
        finished = true;
        if (!error) {
          try {
            observer.end();
          } catch (err) {
            error = (err as Error).message;
          }
        }
        if (malformed) outcome.endReason = 'protocol-error';
        if (error) {
          // a farewell already queued toward the client goes out before its socket closes
          if (socket.writableEnded) socket.once('finish', () => socket.destroy());
          else socket.destroy();
          upSocket.destroy();
        } else {
          socket.end(() => socket.destroy());
          upSocket.end(() => upSocket.destroy());
        }
        done(error);
      };
      const pass = (from: Duplex, to: Duplex, toClient: boolean) => {
        const reader = new SpdyFrameReader();
        const relay = (chunk: Buffer) => {
          if (finished) return;
          try {
            for (const e of reader.push(chunk)) observer.event(toClient, e);
          } catch (err) {
            const e = err instanceof SpdyProtocolError ? err : new SpdyProtocolError((err as Error).message);
            finish(`${e.code}: ${toClient ? 'the API server' : 'the client'} sent ${e.message}`, true);
            return;
          }
          if (toClient) outcome.bytesOut += chunk.length;
          else outcome.bytesIn += chunk.length;
          if (!to.write(chunk) && to.writableLength >= HIGH_WATER) {
            from.pause();
            to.once('drain', () => from.resume());
          }
        };
        from.on('data', relay);
        return { relay, reader };
      };
      const fromClient = pass(socket, upSocket, false);
      const toClient = pass(upSocket, socket, true);
      // from here the session's end cuts the upgraded connections (the request no longer owns its socket),
      // telling kubectl why on the error stream when the frames toward it are at a boundary
      hooks.register((reason) => {
        const last = toClient.reader.atFrameBoundary && !finished ? observer.farewell(reason) : null;
        if (last) socket.end(last);
        finish(reason);
      });
      if (head.length) fromClient.relay(head);
      if (upHead.length) toClient.relay(upHead);
      const closed = (who: string, reader: SpdyFrameReader) => () => finish(reader.atFrameBoundary ? undefined : `TG_KUBE_SPDY_MALFORMED: ${who} closed the connection inside a frame`);
      socket.on('close', closed('the client', fromClient.reader));
      upSocket.on('close', closed('the API server', toClient.reader));
      // The client's end is its going away (the server keeps half-open sockets); the API server's end likewise.
      socket.on('end', closed('the client', fromClient.reader));
      upSocket.on('end', closed('the API server', toClient.reader));
      socket.on('error', (e) => finish(e.message));
      upSocket.on('error', (e) => finish(e.message));
    });
    up.on('error', (err) => {
      if (outcome.status === 0) {
        outcome.status = 502;
        socket.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `TG_KUBE_UPSTREAM: the API server could not be reached: ${err.message}`, reason: 'InternalError', code: 502 })}`);
      }
      done(err.message);
    });
    socket.on('close', () => {
      if (outcome.status !== 101) up.destroy();
    });
    up.end();
  });
}
