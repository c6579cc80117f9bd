import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { KubeEndpoint } from './kube-endpoint.js';
import { EXEC_SUBPROTOCOLS } from './channel-protocol.js';
import { ExecRecording } from './exec-recording.js';
import type { KubeSession } from './kube-session.js';
import type { RequestInfo } from './request-info.js';

/** Bytes waiting toward one side before the other side is paused: at most this much is buffered per stream. */
const HIGH_WATER = 1024 * 1024;

export type StreamKind = 'exec' | 'attach' | 'portforward';

export interface StreamOutcome {
  status: number;
  subprotocol?: string;
  bytesIn: number;
  bytesOut: number;
  error?: string;
  /** How the session ends when the stream broke its protocol (otherwise the client's disconnect). */
  endReason?: 'protocol-error';
}

/** What the recording of one stream needs to know about it. */
export interface StreamPlan {
  kind: StreamKind;
  info: RequestInfo;
  query: URLSearchParams;
  recordStdin: boolean;
  rules: string[];
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024, handleProtocols: (_offered, req) => (req as UpgradeRequest).tgSubprotocol ?? false });
type UpgradeRequest = IncomingMessage & { tgSubprotocol?: string };

/**
 * Opens the stream to the cluster first (with the client's subprotocols that the gateway can read),
 * and only when the cluster accepted it completes the client's upgrade with the same subprotocol;
 * then relays messages both ways, recording as it goes. A cluster refusal reaches the client as the
 * cluster's own answer.
 */
export function relayStream(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  endpoint: KubeEndpoint,
  path: string,
  headers: Record<string, string | string[]>,
  session: KubeSession,
  plan: StreamPlan,
): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    const known = EXEC_SUBPROTOCOLS;
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => known.includes(p));
    const outcome: StreamOutcome = { status: 0, bytesIn: 0, bytesOut: 0 };
    let settled = false;
    const done = (error?: string) => {
      if (settled) return;
      settled = true;
      if (error && !outcome.error) outcome.error = error;
      session.stream = null;
      resolve(outcome);
    };
    if (offered.length === 0) {
      outcome.status = 400;
      done(`none of the offered subprotocols can be recorded (${known.join(', ')} can)`);
      return;
    }
    const h: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith('sec-websocket-')) h[k] = v;
    const url = `wss://${endpoint.url.host}${path}`;
    const upstream = new WebSocket(url, offered, { headers: h, ...endpoint.tls, perMessageDeflate: false, handshakeTimeout: endpoint.connectTimeoutMs, maxPayload: 16 * 1024 * 1024 });
    session.stream = {
      end: (reason) => {
        upstream.terminate();
        socket.destroy();
        done(reason);
      },
    };
    upstream.on('unexpected-response', (_r, answer) => {
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
    upstream.on('error', (err) => {
      if (outcome.status === 0) {
        outcome.status = 502;
        socket.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `TG_KUBE_UPSTREAM: the API server could not be reached: ${err.message}`, reason: 'InternalError', code: 502 })}`);
      }
      done(err.message);
    });
    upstream.on('open', () => {
      outcome.status = 101;
      outcome.subprotocol = upstream.protocol;
      (req as UpgradeRequest).tgSubprotocol = upstream.protocol;
      wss.handleUpgrade(req, socket, head, (client) => pump(client, upstream, session, plan, outcome, done));
    });
    socket.on('close', () => {
      if (outcome.status !== 101) upstream.terminate();
    });
  });
}

function pump(client: WebSocket, upstream: WebSocket, session: KubeSession, plan: StreamPlan, outcome: StreamOutcome, done: (error?: string) => void): void {
  const subprotocol = upstream.protocol;
  const rec = new ExecRecording(session, plan, subprotocol);
  rec.start();
  const relay = (from: WebSocket, to: WebSocket, toClient: boolean) => {
    from.on('message', (data: Buffer, isBinary: boolean) => {
      if (toClient) outcome.bytesOut += data.length;
      else outcome.bytesIn += data.length;
      if (isBinary && data.length > 0) rec.channel(toClient, data[0]!, data.subarray(1));
      if (to.readyState !== WebSocket.OPEN) return;
      to.send(data, { binary: isBinary }, () => {
        if (to.bufferedAmount < HIGH_WATER / 4 && from.isPaused) from.resume();
      });
      if (to.bufferedAmount >= HIGH_WATER) from.pause();
    });
  };
  relay(upstream, client, true);
  relay(client, upstream, false);
  let finished = false;
  const finish = (error?: string) => {
    if (finished) return;
    finished = true;
    rec.finish(error);
    done(error);
  };
  // A close from either side closes the other with the same code, so kubectl sees how the command ended.
  upstream.on('close', (code, reason) => {
    if (client.readyState === WebSocket.OPEN) client.close(closable(code), reason);
    finish();
  });
  client.on('close', (code, reason) => {
    if (upstream.readyState === WebSocket.OPEN) upstream.close(closable(code), reason);
    finish();
  });
  upstream.on('error', (err) => {
    client.terminate();
    finish(err.message);
  });
  client.on('error', (err) => {
    upstream.terminate();
    finish(err.message);
  });
  session.stream = {
    end: (reason) => {
      client.terminate();
      upstream.terminate();
      finish(reason);
    },
  };
}

/** Codes a peer may send in a close frame (1005/1006 are only ever observed). */
function closable(code: number): number {
  return code === 1005 || code === 1006 || code < 1000 ? 1000 : code;
}
