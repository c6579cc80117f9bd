import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * ElasticsearchShim: a local proxy that lets @elastic/elasticsearch talk to OpenSearch, so the
 * Elasticsearch adapter's own code (bulk with a prepared NDJSON body, JSON requests, error
 * mapping) runs in every test run. It rewrites the client's `compatible-with=9` media types to
 * plain JSON and stamps answers `x-elastic-product: Elasticsearch`. It is not Elasticsearch:
 * Elasticsearch-only behaviour (ILM, failure store, logsdb) is tested only against a real one
 * (TG_TEST_ELASTICSEARCH_URL).
 */
export class ElasticsearchShim {
  private constructor(private readonly server: http.Server) {}

  static async start(upstreamUrl: string): Promise<ElasticsearchShim> {
    const upstream = new URL(upstreamUrl);
    const server = http.createServer((req, res) => {
      const headers: http.OutgoingHttpHeaders = { ...req.headers, host: upstream.host };
      for (const h of ['content-type', 'accept']) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v.includes('x-ndjson') ? 'application/x-ndjson' : 'application/json';
      }
      delete headers['accept-encoding'];
      const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-elastic-product': 'Elasticsearch' });
        answer.pipe(res);
      });
      out.on('error', () => {
        res.writeHead(502, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
        res.end('{"error":{"type":"shim_error","reason":"upstream unreachable"},"status":502}');
      });
      req.pipe(out);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new ElasticsearchShim(server);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
