import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { KubeEndpoint } from './kube-endpoint.js';
import { settleOnce } from './settle-once.js';

/** Hop-by-hop and credential headers never cross the gateway; the gateway sets its own credential. */
const DROPPED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host', 'authorization', 'proxy-authorization']);

/** The client's headers toward the cluster, without hop-by-hop ones and any Impersonate-* (refused before this). */
export function upstreamHeaders(headers: IncomingHttpHeaders, endpoint: KubeEndpoint, impersonation: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || DROPPED.has(name) || name.startsWith('impersonate-')) continue;
    out[name] = value;
  }
  if (endpoint.token) out.authorization = `Bearer ${endpoint.token}`;
  return { ...out, ...impersonation };
}

/** The cluster's path for a request: the endpoint's own path prefix, then the path below the target. */
export function upstreamPath(endpoint: KubeEndpoint, path: string, search: string): string {
  const base = endpoint.url.pathname.replace(/\/$/, '');
  return `${base}${path}${search}`;
}

export interface ProxyOutcome {
  status: number;
  bytesIn: number;
  bytesOut: number;
  /** Set when the cluster could not be reached or the stream broke. */
  error?: string;
  /** The first bytes of the request body, when asked for (a write's body for its record). */
  body?: Buffer;
}

const RESPONSE_DROPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'trailer', 'upgrade']);

/**
 * Relays one request and its answer (a watch or a followed log stays open as long as both sides
 * do), counting body bytes; resolves when the answer has ended or either side has gone.
 */
export function proxyRequest(req: IncomingMessage, res: ServerResponse, endpoint: KubeEndpoint, path: string, headers: Record<string, string | string[]>, stream: boolean, capture = 0): Promise<ProxyOutcome> {
  return new Promise((resolve) => {
    const outcome: ProxyOutcome = { status: 0, bytesIn: 0, bytesOut: 0 };
    // A client that went away shows itself as the end of its socket: Node's server keeps a half-closed socket
    // open while an answer is pending, and an idle `logs -f` or watch would then never end.
    const clientEnded = () => {
      up.destroy();
      res.destroy();
      done('the client went away');
    };
    const socket = req.socket;
    const settle = settleOnce(outcome, resolve);
    const done = (error?: string) => {
      socket.off('end', clientEnded);
      settle(error);
    };
    const up = https.request({
      host: endpoint.url.hostname,
      port: endpoint.url.port || 443,
      method: req.method,
      path,
      headers,
      agent: endpoint.agent,
      timeout: endpoint.connectTimeoutMs,
    });
    up.on('socket', (s) => s.setNoDelay(true));
    if (stream) socket.once('end', clientEnded);
    up.on('timeout', () => up.destroy(new Error(`no answer from the API server within ${endpoint.connectTimeoutMs / 1000} s`)));
    up.on('response', (answer) => {
      // Streams (watch, logs -f) may idle for long: the timeout covered the wait for headers only.
      up.setTimeout(0);
      outcome.status = answer.statusCode ?? 502;
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !RESPONSE_DROPPED.has(name)) out[name] = value;
      res.writeHead(outcome.status, out);
      // Streamed answers (watch, logs -f) must reach kubectl as they come, not with their first chunk.
      if (stream) res.flushHeaders();
      answer.on('data', (chunk: Buffer) => {
        outcome.bytesOut += chunk.length;
      });
      answer.pipe(res);
      answer.on('end', () => done());
      answer.on('error', (err) => done(err.message));
      answer.on('aborted', () => done('the API server ended the answer early'));
    });
    up.on('error', (err) => {
      if (!res.headersSent) {
        outcome.status = 502;
        done(err.message);
        return;
      }
      res.destroy();
      done(err.message);
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        up.destroy();
        done(outcome.error ?? 'the client went away');
      }
    });
    const kept: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      if (outcome.bytesIn < capture) kept.push(chunk.subarray(0, capture - outcome.bytesIn));
      outcome.bytesIn += chunk.length;
    });
    if (capture > 0) req.on('end', () => (outcome.body = Buffer.concat(kept)));
    req.pipe(up);
  });
}
