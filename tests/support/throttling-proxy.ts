import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type StormMode =
  /** Every request is answered 429 before it reaches the cluster. */
  | 'requests'
  /** Bulk requests reach the cluster with every other document left out; those items are answered 429, as a full write queue does. */
  | 'items';

/**
 * ThrottlingProxy: a local HTTP proxy in front of a search cluster that answers 429 for a while
 * ("a 429 storm"), the way a cluster whose write queue is full does, and passes everything through
 * otherwise. It listens on 127.0.0.1 only.
 */
export class ThrottlingProxy {
  private stormUntil = 0;
  private mode: StormMode = 'requests';
  /** 429 answers given, whole requests and single items. */
  rejectedRequests = 0;
  rejectedItems = 0;
  /** Headers the upstream stamps on its answers that clients check (Elasticsearch's product header), repeated on the proxy's own. */
  private productHeaders: Record<string, string> = {};

  private constructor(
    private readonly server: http.Server,
    private readonly upstream: URL,
  ) {}

  static async start(upstreamUrl: string): Promise<ThrottlingProxy> {
    const server = http.createServer();
    const proxy = new ThrottlingProxy(server, new URL(upstreamUrl));
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => void proxy.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Answers 429 from now for `ms` milliseconds. */
  storm(ms: number, mode: StormMode): void {
    this.mode = mode;
    this.stormUntil = Date.now() + ms;
  }

  get storming(): boolean {
    return Date.now() < this.stormUntil;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    try {
      if (this.storming && this.mode === 'requests') {
        this.rejectedRequests++;
        return this.send(res, 429, { error: { type: 'es_rejected_execution_exception', reason: 'rejected execution (queue capacity 0) by ThrottlingProxy' }, status: 429 });
      }
      if (this.storming && this.mode === 'items' && req.method === 'POST' && /\/_bulk(\?|$)/.test(req.url ?? '')) {
        return await this.throttleItems(req, res, body);
      }
      const answer = await this.forward(req.method ?? 'GET', req.url ?? '/', req.headers, body);
      res.writeHead(answer.status, { 'content-type': answer.contentType, ...this.productHeaders });
      res.end(answer.body);
    } catch (err) {
      this.send(res, 502, { error: { type: 'proxy_error', reason: (err as Error).message }, status: 502 });
    }
  }

  /** Forwards the even-numbered documents, answers the odd ones 429, and merges the answers in order. */
  private async throttleItems(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const lines = body.toString('utf8').split('\n').filter((l) => l.length);
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < lines.length; i += 2) pairs.push([lines[i]!, lines[i + 1]!]);
    const forwarded = pairs.filter((_, i) => i % 2 === 0);
    let upstreamItems: unknown[] = [];
    if (forwarded.length) {
      const answer = await this.forward('POST', req.url ?? '/_bulk', req.headers, Buffer.from(`${forwarded.flat().join('\n')}\n`));
      if (answer.status !== 200) {
        res.writeHead(answer.status, { 'content-type': answer.contentType, ...this.productHeaders });
        return void res.end(answer.body);
      }
      upstreamItems = (JSON.parse(answer.body.toString('utf8')) as { items: unknown[] }).items;
    }
    const items = pairs.map((pair, i) => {
      if (i % 2 === 0) return upstreamItems[i / 2];
      this.rejectedItems++;
      const action = JSON.parse(pair[0]) as Record<string, { _index?: string; _id?: string }>;
      const [op, meta] = Object.entries(action)[0]!;
      return { [op]: { _index: meta._index, _id: meta._id, status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution (queue capacity 0) by ThrottlingProxy' } } };
    });
    this.send(res, 200, { took: 1, errors: true, items });
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', ...this.productHeaders });
    res.end(JSON.stringify(body));
  }

  private forward(method: string, path: string, headers: http.IncomingHttpHeaders, body: Buffer): Promise<{ status: number; contentType: string; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const out = http.request(
        { host: this.upstream.hostname, port: this.upstream.port, method, path, headers: forwardHeaders(headers, this.upstream.host, body.length) },
        (answer) => {
          const product = answer.headers['x-elastic-product'];
          if (typeof product === 'string') this.productHeaders = { 'x-elastic-product': product };
          void readBody(answer).then((b) => resolve({ status: answer.statusCode ?? 502, contentType: answer.headers['content-type'] ?? 'application/json', body: b }), reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  }
}

/** The client's headers minus hop-by-hop ones; no compression, so answers can be read and rewritten. */
function forwardHeaders(headers: http.IncomingHttpHeaders, host: string, length: number): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = { ...headers, host, 'content-length': String(length) };
  for (const h of ['connection', 'transfer-encoding', 'keep-alive', 'accept-encoding']) delete out[h];
  return out;
}

function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => resolve(Buffer.concat(parts)));
    stream.on('error', reject);
  });
}
