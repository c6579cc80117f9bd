import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import type { KubeRequestData, SessionEndedData } from '../../../events/index.js';
import { listenOn } from '../listen.js';
import { clientImpersonation, impersonationHeaders } from './impersonation.js';
import { checkKubeRequest, type KubeDecision } from './kube-rights.js';
import { KubeRefusal, KubeSession, type KubeGatewayDeps } from './kube-session.js';
import { sendStatus, statusResponseText } from './kube-status.js';
import { requestInfo, type RequestInfo } from './request-info.js';
import { proxyRequest, upstreamHeaders, upstreamPath } from './rest-proxy.js';
import { ExecRecording } from './exec-recording.js';
import { relaySpdy } from './spdy-relay.js';
import { ExecStreams, ForwardStreams } from './spdy-streams.js';
import { relayStream, type StreamKind, type StreamOutcome, type StreamPlan } from './stream-relay.js';
import { EXEC_SUBPROTOCOLS } from './channel-protocol.js';
import { tunnelForward } from './forward-tunnel.js';
import { bodyCapture, recordedBody } from './write-body.js';

const STREAM_SUBRESOURCES: Record<string, StreamKind> = { exec: 'exec', attach: 'attach', portforward: 'portforward' };
const READ_VERBS = new Set(['get', 'list', 'watch']);

/** One request as the listener sees it: the target from the first path segment, the rest for the cluster. */
interface Parsed {
  target: string;
  path: string;
  search: string;
  query: URLSearchParams;
  info: RequestInfo;
}

function parse(req: IncomingMessage): Parsed | null {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'https://gateway');
  } catch {
    return null;
  }
  const m = /^\/([A-Za-z0-9_.-]+)(\/.*)?$/.exec(url.pathname);
  if (!m) return null;
  const path = m[2] ?? '/';
  return { target: m[1]!, path, search: url.search, query: url.searchParams, info: requestInfo(req.method ?? 'GET', path, url.searchParams) };
}

/**
 * The Kubernetes front door: HTTPS (HTTP/1.1 and upgrades) with the target as the first path segment,
 * `https://gateway:6443/<target>/api/...`, and the CI token as the bearer token. Every request is
 * decided before it is sent on (an exec or port-forward before its upgrade), sent with the gateway's
 * credential impersonating the job, and recorded.
 */
export class KubeListener {
  private readonly server: https.Server;
  private readonly sessions = new Map<Socket, KubeSession>();

  constructor(
    private readonly deps: KubeGatewayDeps,
    tlsFiles: { cert: Buffer; key: Buffer },
    idleTimeoutMs: number,
  ) {
    // HTTP/1.1 only: kubectl then sends upgrades as upgrades (over h2 it would not ask for WebSocket).
    this.server = https.createServer({ ...tlsFiles, ALPNProtocols: ['http/1.1'], keepAliveTimeout: idleTimeoutMs, requestTimeout: 0 });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.serve(req, res).catch((err: Error) => this.failed(res, err)));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head).catch(() => socket.destroy()));
    this.server.on('secureConnection', (socket: tls.TLSSocket) => {
      socket.setNoDelay(true);
      socket.on('close', () => {
        const s = this.sessions.get(socket);
        this.sessions.delete(socket);
        s?.end('client-disconnected');
      });
      socket.on('error', () => undefined);
    });
    this.server.on('tlsClientError', () => undefined);
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return listenOn(this.server, host, port);
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  private sessionOf(req: IncomingMessage): KubeSession {
    const socket = req.socket;
    let s = this.sessions.get(socket);
    if (!s) {
      s = new KubeSession(this.deps, { address: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 }, header(req, 'user-agent'));
      this.sessions.set(socket, s);
    }
    return s;
  }

  private failed(res: ServerResponse, err: Error): void {
    console.error(`trailgate: kubernetes request: ${err.stack ?? err.message}`);
    if (!res.headersSent) sendStatus(res, 500, `TG_INTERNAL: the gateway failed: ${err.message}`);
    else res.destroy();
  }

  /** Admission, impersonation and rights: everything decided before a byte goes to the cluster. */
  private async decide(req: IncomingMessage, session: KubeSession, p: Parsed): Promise<KubeDecision> {
    await session.admit(p.target, header(req, 'authorization'));
    const asked = clientImpersonation(req.headers);
    if (asked.length) {
      throw new KubeRefusal(403, 'TG_KUBE_IMPERSONATION_REFUSED', `the gateway impersonates the job itself; ${asked.join(', ')} from the client is refused (remove --as / --as-group)`);
    }
    const d = checkKubeRequest(session.grants, p.info);
    if (d.decision.outcome === 'denied') throw new KubeRefusal(403, 'TG_POLICY_DENIED', `${d.reason ?? 'not granted'}; \`trailgate policy explain --target ${p.target}\` shows the rules`, d.decision);
    return d;
  }

  private record(session: KubeSession, req: IncomingMessage, p: Parsed | null, startedAt: bigint, fields: Pick<KubeRequestData, 'status' | 'outcome' | 'bytesIn' | 'bytesOut' | 'decision'> & Partial<KubeRequestData>): void {
    const info = p?.info;
    const ua = header(req, 'user-agent');
    session.request({
      method: req.method ?? 'GET',
      verb: info?.verb ?? (req.method ?? 'get').toLowerCase(),
      path: (p?.path ?? req.url ?? '/').slice(0, 2048),
      ...(info?.apiGroup ? { apiGroup: info.apiGroup } : {}),
      ...(info?.apiVersion ? { apiVersion: info.apiVersion } : {}),
      ...(info?.resource ? { resource: info.resource } : {}),
      ...(info?.subresource ? { subresource: info.subresource } : {}),
      ...(info?.namespace ? { namespace: info.namespace } : {}),
      ...(info?.name ? { name: info.name } : {}),
      durationMs: Number(process.hrtime.bigint() - startedAt) / 1e6,
      ...(ua ? { userAgent: ua.slice(0, 256) } : {}),
      ...fields,
    });
  }

  /** A refusal: the client gets a Status it understands, the log gets the request with the reason. */
  private refused(session: KubeSession, req: IncomingMessage, p: Parsed | null, startedAt: bigint, err: KubeRefusal, answer: (status: number, message: string) => number): void {
    const message = `${err.code}: ${err.message}`;
    const bytesOut = answer(err.status, message);
    const needs = err.code === 'TG_KUBE_IMPERSONATION_REFUSED' ? ['impersonate'] : [];
    const decision = err.decision ?? { outcome: 'denied' as const, needs, missing: needs };
    this.record(session, req, p, startedAt, { status: err.status, outcome: 'denied', bytesIn: 0, bytesOut, decision, code: err.code, reason: err.message });
    // A connection whose first request was refused never served a job: it ends here.
    if (!session.ready) {
      session.end(err.status === 401 ? 'auth-failed' : 'policy-denied', message);
      req.socket.end();
    }
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = process.hrtime.bigint();
    const session = this.sessionOf(req);
    const p = parse(req);
    if (!p) {
      sendStatus(res, 404, "TG_TARGET_MISSING: the path names no target; the kubeconfig's server is https://<gateway>/<target>");
      return;
    }
    let d: KubeDecision;
    try {
      d = await this.decide(req, session, p);
      if (header(req, 'upgrade')) throw new KubeRefusal(400, 'TG_KUBE_UPGRADE', 'an upgrade the gateway does not relay');
      // A change reaches the cluster only while its recording can be written (strict recording).
      if (session.strict && !READ_VERBS.has(p.info.verb)) await session.recorder.durable().catch(() => Promise.reject(new KubeRefusal(503, 'TG_RECORDING_FAILED', 'the gateway cannot write its recording; the request was not sent')));
    } catch (err) {
      if (!(err instanceof KubeRefusal)) throw err;
      this.refused(session, req, p, startedAt, err, (status, message) => sendStatus(res, status, message));
      return;
    }
    const endpoint = session.endpoint!;
    const headers = upstreamHeaders(req.headers, endpoint, impersonationHeaders(session.identity!, d.grants, session.context.sessionId));
    const stream = p.info.verb === 'watch' || p.query.get('follow') === 'true';
    const o = await proxyRequest(req, res, endpoint, upstreamPath(endpoint, p.path, p.search), headers, stream, bodyCapture(p.info, endpoint.writeBodyBytes));
    let bytesOut = o.bytesOut;
    if (o.error && !res.headersSent) bytesOut = sendStatus(res, 502, `TG_KUBE_UPSTREAM: the API server could not be reached: ${o.error}`);
    this.record(session, req, p, startedAt, {
      status: o.status,
      outcome: o.error || o.status >= 400 ? 'error' : 'ok',
      bytesIn: o.bytesIn,
      bytesOut,
      decision: d.decision,
      ...(o.error ? { code: 'TG_KUBE_UPSTREAM', reason: o.error } : {}),
      ...recordedBody(p.info, header(req, 'content-type'), o.body, o.bytesIn, endpoint.writeBodyBytes),
    });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const startedAt = process.hrtime.bigint();
    const session = this.sessionOf(req);
    const p = parse(req);
    const answer = (status: number, message: string) => {
      const text = statusResponseText(status, message);
      socket.end(text);
      return Buffer.byteLength(text);
    };
    if (!p) {
      answer(404, "TG_TARGET_MISSING: the path names no target; the kubeconfig's server is https://<gateway>/<target>");
      return;
    }
    const protocol = header(req, 'upgrade') ?? '';
    const spdy = /^SPDY\/3\.1$/i.test(protocol);
    let d: KubeDecision;
    let streamProtocols: string[] = [];
    const kind = p.info.resource === 'pods' ? STREAM_SUBRESOURCES[p.info.subresource] : undefined;
    try {
      d = await this.decide(req, session, p);
      if (!kind) throw new KubeRefusal(400, 'TG_KUBE_UPGRADE', `the gateway relays upgrades only for pods/exec, pods/attach and pods/portforward, not ${p.path}`);
      if (spdy) {
        if (session.endpoint!.spdy === 'refuse') {
          throw new KubeRefusal(403, 'TG_KUBE_SPDY_REFUSED', `target '${p.target}' takes ${kind} over WebSocket only (spdy: refuse) and refuses ${protocol}; use kubectl 1.30 or newer for exec and attach, 1.31 or newer for port-forward`);
        }
        streamProtocols = spdyStreamProtocols(req, kind);
      } else if (!/^websocket$/i.test(protocol)) {
        throw new KubeRefusal(400, 'TG_KUBE_UPGRADE', `the gateway relays WebSocket and SPDY/3.1 upgrades, not ${protocol.slice(0, 40) || 'this one'}`);
      }
      if (kind !== 'portforward') {
        const command = p.query.getAll('command');
        session.recorder.closeChunks();
        session.execSeq = session.recorder.event('command.started', {
          protocol: kind === 'exec' ? 'exec' : 'shell',
          text: kind === 'exec' ? command.join(' ') : '',
          channel: 0,
          pty: p.query.get('tty') === 'true',
          decision: d.decision,
        });
      }
      // Strict recording: the stream opens only once its command is on disk.
      if (session.strict) await session.recorder.durable().catch(() => Promise.reject(new KubeRefusal(503, 'TG_RECORDING_FAILED', 'the gateway cannot write its recording; the stream was not opened')));
    } catch (err) {
      if (!(err instanceof KubeRefusal)) throw err;
      this.refused(session, req, p, startedAt, err, answer);
      return;
    }
    const endpoint = session.endpoint!;
    const headers = upstreamHeaders(req.headers, endpoint, impersonationHeaders(session.identity!, d.grants, session.context.sessionId));
    const path = upstreamPath(endpoint, p.path, p.search);
    const plan: StreamPlan = { kind: kind!, info: p.info, query: p.query, recordStdin: d.grants.some((g) => g.recordStdin), rules: d.decision.rules ?? [] };
    const o = spdy
      ? await this.spdyStream(req, socket, head, session, p, path, headers, streamProtocols, plan)
      : kind === 'portforward'
        ? await this.forward(req, socket, head, session, p, path, headers, plan.rules)
        : await relayStream(req, socket, head, endpoint, path, headers, session, plan);
    if (o.status === 400 && o.subprotocol === undefined && o.error?.startsWith('none of the offered')) answer(400, `TG_KUBE_SUBPROTOCOL: ${o.error}`);
    this.record(session, req, p, startedAt, {
      status: o.status,
      outcome: o.status === 101 && !o.error ? 'ok' : 'error',
      bytesIn: o.bytesIn,
      bytesOut: o.bytesOut,
      decision: d.decision,
      upgrade: { protocol: spdy ? 'SPDY/3.1' : 'websocket', ...(o.subprotocol ? { subprotocol: o.subprotocol } : {}) },
      ...(o.error ? { reason: o.error } : {}),
      ...(o.code ? { code: o.code } : {}),
    });
    if (o.endReason) session.end(o.endReason, o.error);
    else session.end('client-disconnected');
  }

  /** An exec, attach or port-forward over SPDY/3.1: recorded as its WebSocket twin (spdy-streams.ts). */
  private spdyStream(req: IncomingMessage, socket: Duplex, head: Buffer, session: KubeSession, p: Parsed, path: string, headers: Record<string, string | string[]>, protocols: string[], plan: StreamPlan): Promise<StreamOutcome> {
    let rec: ExecRecording | null = null;
    let forward: ForwardStreams | null = null;
    const ports = p.query.getAll('ports').join(',');
    return relaySpdy(req, socket, head, session.endpoint!, path, headers, protocols, {
      opened: (protocol) => {
        if (plan.kind === 'portforward') {
          session.recorder.event('forward.opened', { direction: 'local', channel: 0, host: `${p.info.namespace}/${p.info.name}`, port: Number(ports.split(',')[0]) || 0, rules: plan.rules, ...(ports ? { origin: `ports ${ports}` } : {}) });
          return (forward = new ForwardStreams());
        }
        rec = new ExecRecording(session, plan, protocol);
        rec.start();
        return new ExecStreams(rec, protocol);
      },
      register: (end) => {
        session.stream = { end };
      },
      closed: (o) => {
        session.stream = null;
        if (forward) {
          o.bytesIn = forward.fromClient;
          o.bytesOut = forward.toClient;
          if (!session.ended) session.recorder.event('forward.closed', { channel: 0, bytesFromClient: forward.fromClient, bytesToClient: forward.toClient });
        }
        (rec as ExecRecording | null)?.finish(o.error);
      },
    });
  }

  /** A port-forward tunnel: forward.opened when the cluster accepted it, forward.closed with the bytes each way. */
  private async forward(req: IncomingMessage, socket: Duplex, head: Buffer, session: KubeSession, p: Parsed, path: string, headers: Record<string, string | string[]>, rules: string[]) {
    const ports = p.query.getAll('ports').join(',');
    let opened = false;
    const o = await tunnelForward(
      req,
      socket,
      head,
      session.endpoint!,
      path,
      headers,
      () => {
        opened = true;
        session.recorder.event('forward.opened', { direction: 'local', channel: 0, host: `${p.info.namespace}/${p.info.name}`, port: Number(ports.split(',')[0]) || 0, rules, ...(ports ? { origin: `ports ${ports}` } : {}) });
      },
      (end) => {
        session.stream = { end };
      },
    );
    session.stream = null;
    if (opened && !session.ended) session.recorder.event('forward.closed', { channel: 0, bytesFromClient: o.bytesIn, bytesToClient: o.bytesOut });
    return o;
  }

  /** Ends every open session with a recorded reason; the listener keeps accepting. */
  endSessions(reason: SessionEndedData['reason'], detail: string): void {
    for (const [socket, s] of this.sessions) {
      // a stream closes its own connection (an exec after telling kubectl why)
      const streaming = s.stream !== null;
      s.end(reason, detail);
      if (!streaming) socket.destroy();
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const [socket, s] of this.sessions) {
        s.end('gateway-shutdown');
        socket.destroy();
      }
      this.server.closeAllConnections();
    });
  }
}

/** The stream protocols kubectl offers (X-Stream-Protocol-Version, repeated or comma-separated) that the gateway can read. */
function spdyStreamProtocols(req: IncomingMessage, kind: StreamKind): string[] {
  const known = kind === 'portforward' ? ['portforward.k8s.io'] : EXEC_SUBPROTOCOLS;
  const offered = (req.headersDistinct['x-stream-protocol-version'] ?? []).flatMap((v) => v.split(',')).map((v) => v.trim());
  const readable = offered.filter((v) => known.includes(v));
  if (!readable.length) throw new KubeRefusal(400, 'TG_KUBE_SUBPROTOCOL', `none of the offered stream protocols (${offered.join(', ').slice(0, 200) || 'none'}) can be recorded (${known.join(', ')} can)`);
  return readable;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
