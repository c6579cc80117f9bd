import type { ClientRequest, IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { KubeEndpoint } from './kube-endpoint.js';
import { statusResponseText } from './kube-status.js';
import { settleOnce } from './settle-once.js';
import { StreamProtocolError } from './stream-protocol-error.js';
import type { StreamOutcome } from './stream-relay.js';

/** Bytes waiting toward one side before the other side is paused: at most this much is buffered per direction. */
const HIGH_WATER = 1024 * 1024;
/** Bytes still queued toward a client below which a cut stream is told why before it closes. */
const FAREWELL_QUEUE = 64 * 1024;


/** An upgraded stream's reading of the bytes it relays (the frames of WebSocket or SPDY/3.1). */
export interface ObservedStream {
  /** Reads (and records) one chunk before it is forwarded; throws StreamProtocolError for bytes that are not the protocol. */
  read(toClient: boolean, chunk: Buffer): void;
  /** Whether the bytes one way stopped between frames (a close inside one is a truncated frame). */
  atBoundary(toClient: boolean): boolean;
  /** The connection ended cleanly: whatever a stream left unread is read now. */
  end(): void;
  /** Bytes that tell the client why the gateway cut the stream (written only at a frame boundary), or null. */
  farewell(reason: string): Buffer | null;
  /** Code of a malformed stream's error. */
  readonly malformedCode: string;
}

export interface UpgradeHooks {
  /** The cluster switched protocols: the subprotocol it agreed and the stream's reader; throws to refuse the answer. */
  opened(answer: IncomingMessage): { subprotocol: string; stream: ObservedStream };
  /** Called with a function that ends the relay (the session's end), again once the connection is upgraded. */
  register(end: (reason: string) => void): void;
  /** The relay ended (before the promise resolves, so that a session's end still finds it open). */
  closed(outcome: StreamOutcome): void;
}

/**
 * One upgrade (exec, attach, port-forward) relayed at the byte level: the request goes to the cluster with
 * the gateway's headers; a refusal reaches the client as the cluster's own answer; once the cluster
 * switched protocols the client gets its 101 and the bytes pass unchanged both ways, each chunk read
 * (and recorded) by the stream before it is forwarded, with backpressure both ways.
 */
export function relayUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, endpoint: KubeEndpoint, path: string, headers: Record<string, string | string[]>, hooks: UpgradeHooks): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    const outcome: StreamOutcome = { status: 0, bytesIn: 0, bytesOut: 0 };
    const done = settleOnce(outcome, (o) => {
      hooks.closed(o);
      resolve(o);
    });
    const up = requestUpgrade(endpoint, req.method ?? 'GET', path, headers);
    hooks.register((reason) => {
      up.destroy();
      socket.destroy();
      done(reason);
    });
    up.on('response', (answer) => {
      outcome.status = answer.statusCode ?? 502;
      passRefusal(answer, socket, (bodyBytes) => {
        outcome.bytesOut = bodyBytes;
        done(`the API server answered ${outcome.status}`);
      });
    });
    up.on('upgrade', (answer, upSocket, upHead) => {
      up.setTimeout(0);
      outcome.status = 101;
      let stream: ObservedStream;
      try {
        const o = hooks.opened(answer);
        outcome.subprotocol = o.subprotocol;
        stream = o.stream;
      } catch (err) {
        upSocket.destroy();
        socket.destroy();
        done((err as Error).message);
        return;
      }
      socket.write(switchingProtocols(answer));
      let finished = false;
      /** A clean end lets what is queued toward each side go out first; an error or a malformed frame cuts both. */
      const finish = (error?: string, malformed = false) => {
        if (finished) return;
        finished = true;
        if (!error) {
          try {
            stream.end();
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
      const pass = (from: Duplex, to: Duplex, toClient: boolean) => (chunk: Buffer) => {
        if (finished) return;
        try {
          stream.read(toClient, chunk);
        } catch (err) {
          const code = err instanceof StreamProtocolError ? err.code : stream.malformedCode;
          outcome.code = code;
          finish(`${code}: ${toClient ? 'the API server' : 'the client'} sent ${(err as Error).message}`, true);
          return;
        }
        if (toClient) outcome.bytesOut += chunk.length;
        else outcome.bytesIn += chunk.length;
        if (!to.write(chunk) && to.writableLength >= HIGH_WATER) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      };
      const fromClient = pass(socket, upSocket, false);
      const toClient = pass(upSocket, socket, true);
      socket.on('data', fromClient);
      upSocket.on('data', toClient);
      // from here the session's end cuts the upgraded connections (the request no longer owns its socket),
      // telling the client why when the bytes toward it are at a frame boundary
      hooks.register((reason) => {
        // only toward a client that reads: one that stopped would hold its socket open behind the queue
        const last = !finished && stream.atBoundary(true) && socket.writableLength < FAREWELL_QUEUE ? stream.farewell(reason) : null;
        if (last) socket.end(last);
        finish(reason);
      });
      if (head.length) fromClient(head);
      if (upHead.length) toClient(upHead);
      const closed = (toClient: boolean) => () => finish(stream.atBoundary(toClient) ? undefined : `${stream.malformedCode}: ${toClient ? 'the API server' : 'the client'} closed the connection inside a frame`);
      socket.on('close', closed(false));
      upSocket.on('close', closed(true));
      // The client's end is its going away (the server keeps half-open sockets); the API server's end likewise.
      socket.on('end', closed(false));
      upSocket.on('end', closed(true));
      socket.on('error', (e) => finish(e.message));
      upSocket.on('error', (e) => finish(e.message));
    });
    up.on('error', (err) => {
      answerUnreachable(socket, outcome, err);
      done(err.message);
    });
    socket.on('close', () => {
      if (outcome.status !== 101) up.destroy();
    });
    up.end();
  });
}

/** The upgrade request to the cluster, refused with an error when the API server does not answer in time. */
export function requestUpgrade(endpoint: KubeEndpoint, method: string, path: string, headers: Record<string, string | string[]>): ClientRequest {
  const up = https.request({ host: endpoint.url.hostname, port: endpoint.url.port || 443, method, path, headers, ...endpoint.tls, agent: false, timeout: endpoint.connectTimeoutMs });
  up.on('timeout', () => up.destroy(new Error(`no answer from the API server within ${endpoint.connectTimeoutMs / 1000} s`)));
  return up;
}

/** The cluster refused the upgrade: the client gets the cluster's own answer (its first 64 chunks), then `ended` the body's length. */
export function passRefusal(answer: IncomingMessage, socket: Duplex, ended: (bodyBytes: number) => void): void {
  const parts: Buffer[] = [];
  answer.on('data', (c: Buffer) => parts.length < 64 && parts.push(c));
  answer.on('end', () => {
    const body = Buffer.concat(parts);
    socket.end(`HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}\r\nContent-Type: ${answer.headers['content-type'] ?? 'application/json'}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString('latin1')}`, 'latin1');
    ended(body.length);
  });
}

/** The cluster's 101 with its headers as it sent them, for the client. */
export function switchingProtocols(answer: IncomingMessage): string {
  let text = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (let i = 0; i < answer.rawHeaders.length; i += 2) text += `${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}\r\n`;
  return `${text}\r\n`;
}

/** The API server could not be reached: a Status the client prints, unless it already has an answer. */
export function answerUnreachable(socket: Duplex, outcome: StreamOutcome, err: Error): void {
  if (outcome.status !== 0) return;
  outcome.status = 502;
  socket.end(statusResponseText(502, `TG_KUBE_UPSTREAM: the API server could not be reached: ${err.message}`));
}
