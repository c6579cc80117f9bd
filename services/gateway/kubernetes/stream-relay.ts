import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { KubeEndpoint } from './kube-endpoint.js';
import { ERROR, EXEC_SUBPROTOCOLS, RESIZE } from './channel-protocol.js';
import { ExecRecording } from './exec-recording.js';
import type { KubeSession } from './kube-session.js';
import { statusBody } from './kube-status.js';
import type { RequestInfo } from './request-info.js';
import { relayUpgrade, type ObservedStream } from './upgrade-relay.js';
import { serverClose, serverMessage, WsFrameReader, WsProtocolError } from './ws-frames.js';

export type StreamKind = 'exec' | 'attach' | 'portforward';

export interface StreamOutcome {
  status: number;
  subprotocol?: string;
  bytesIn: number;
  bytesOut: number;
  error?: string;
  /** How the session ends when the stream broke its protocol (otherwise the client's disconnect). */
  endReason?: 'protocol-error';
  /** The TG_ code of such a break (TG_KUBE_WEBSOCKET_MALFORMED, TG_KUBE_SPDY_MALFORMED). */
  code?: string;
}

/** What the recording of one stream needs to know about it. */
export interface StreamPlan {
  kind: StreamKind;
  info: RequestInfo;
  query: URLSearchParams;
  recordStdin: boolean;
  rules: string[];
}

/** The error and resize channels carry one small JSON document per message: a peer sending more is not kubectl. */
const SMALL_MESSAGE_BYTES = 64 * 1024;

/**
 * Exec and attach over WebSocket, relayed at the byte level: the handshake goes to the cluster with the
 * client's own key (so the cluster's Sec-WebSocket-Accept is valid for the client) and only the client's
 * subprotocols that the gateway can read, no extension; once the cluster accepted, the frames pass
 * unchanged both ways, each chunk read and recorded by channel before it is forwarded (no message is
 * decoded and encoded again). A cluster refusal reaches the client as the cluster's own answer.
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
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => EXEC_SUBPROTOCOLS.includes(p));
  if (offered.length === 0) return Promise.resolve({ status: 400, bytesIn: 0, bytesOut: 0, error: `none of the offered subprotocols can be recorded (${EXEC_SUBPROTOCOLS.join(', ')} can)` });
  const h: Record<string, string | string[]> = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-protocol': offered.join(', ') };
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith('sec-websocket-')) h[k] = v;
  for (const name of ['sec-websocket-key', 'sec-websocket-version']) {
    const v = req.headers[name];
    if (typeof v === 'string') h[name] = v;
  }
  let rec: ExecRecording | null = null;
  return relayUpgrade(req, socket, head, endpoint, path, h, {
    opened: (answer) => {
      const subprotocol = String(answer.headers['sec-websocket-protocol'] ?? '');
      if (!offered.includes(subprotocol)) throw new WsProtocolError(`the API server chose subprotocol '${subprotocol.slice(0, 60)}', which the client did not offer through the gateway`);
      if (answer.headers['sec-websocket-extensions']) throw new WsProtocolError('the API server agreed an extension nobody asked for');
      rec = new ExecRecording(session, plan, subprotocol);
      rec.start();
      return { subprotocol, stream: channelStream(rec, subprotocol) };
    },
    register: (end) => {
      session.stream = { end };
    },
    closed: (o) => {
      session.stream = null;
      (rec as ExecRecording | null)?.finish(o.error);
    },
  });
}

/** Both directions' frames as channel data for the recording. */
function channelStream(rec: ExecRecording, subprotocol: string): ObservedStream {
  const readers = { true: new WsFrameReader(false), false: new WsFrameReader(true) };
  // the error and resize channels' messages, whole (per direction)
  const small = { true: [] as Buffer[], false: [] as Buffer[] };
  const smallBytes = { true: 0, false: 0 };
  let errorSeen = false;
  return {
    malformedCode: 'TG_KUBE_WEBSOCKET_MALFORMED',
    read(toClient, chunk) {
      const dir = `${toClient}` as const;
      for (const m of readers[dir].push(chunk)) {
        if (m.channel !== ERROR && m.channel !== RESIZE) {
          if (m.data.length) rec.channel(toClient, m.channel, m.data);
          continue;
        }
        smallBytes[dir] += m.data.length;
        if (smallBytes[dir] > SMALL_MESSAGE_BYTES) throw new WsProtocolError(`a channel ${m.channel} message of more than ${SMALL_MESSAGE_BYTES} bytes`);
        if (m.data.length) small[dir].push(Buffer.from(m.data));
        if (!m.end) continue;
        const whole = Buffer.concat(small[dir]);
        small[dir] = [];
        smallBytes[dir] = 0;
        if (m.channel === ERROR && toClient && whole.length) errorSeen = true;
        rec.channel(toClient, m.channel, whole);
      }
    },
    atBoundary: (toClient) => readers[`${toClient}`].atFrameBoundary,
    end: () => undefined,
    // v4/v5: the reason as a Status on the error channel, then a normal close, so kubectl exits 1 with it
    farewell: (reason) => (errorSeen || !/^v[45]\./.test(subprotocol) ? null : Buffer.concat([serverMessage(Buffer.concat([Buffer.from([ERROR]), Buffer.from(statusBody(500, reason))])), serverClose(1000)])),
  };
}
