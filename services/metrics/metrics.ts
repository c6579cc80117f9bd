import http from 'node:http';
import type { Health } from './health.js';

/**
 * Counters and gauges in the Prometheus text format (version 0.0.4). One registry per process;
 * `serveMetrics` exposes it on GET /metrics.
 */
type Labels = Record<string, string>;

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  values: Map<string, { labels: Labels; value: number | (() => number) }>;
}

export class Metrics {
  private readonly families = new Map<string, Family>();

  counter(name: string, help: string, labels: Labels = {}, by = 1): void {
    const entry = this.entry(name, help, 'counter', labels);
    entry.value = (typeof entry.value === 'number' ? entry.value : 0) + by;
  }

  gauge(name: string, help: string, labels: Labels, value: number | (() => number)): void {
    this.entry(name, help, 'gauge', labels).value = value;
  }

  /** Current value of one series (tests, status output). */
  value(name: string, labels: Labels = {}): number {
    const v = this.families.get(name)?.values.get(labelKey(labels))?.value;
    return typeof v === 'function' ? v() : (v ?? 0);
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, f] of this.families) {
      lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const { labels, value } of f.values.values()) {
        const v = typeof value === 'function' ? value() : value;
        lines.push(`${name}${formatLabels(labels)} ${Number.isFinite(v) ? v : 'NaN'}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  private entry(name: string, help: string, type: Family['type'], labels: Labels): { labels: Labels; value: number | (() => number) } {
    let f = this.families.get(name);
    if (!f) {
      f = { help, type, values: new Map() };
      this.families.set(name, f);
    }
    const key = labelKey(labels);
    let e = f.values.get(key);
    if (!e) {
      e = { labels, value: 0 };
      f.values.set(key, e);
    }
    return e;
  }
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/**
 * Serves GET /metrics on the given address, and with a Health also GET /healthz (the process answers)
 * and GET /readyz (200 when every readiness check holds, 503 otherwise; JSON either way).
 * Resolves with the bound port.
 */
export function serveMetrics(metrics: Metrics, host: string, port: number, health?: Health): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(metrics.render());
      return;
    }
    if (req.method === 'GET' && health && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ status: 'ok', role: health.role })}\n`);
      return;
    }
    if (req.method === 'GET' && health && path === '/readyz') {
      health.readiness().then(
        (report) => {
          res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json' });
          res.end(`${JSON.stringify(report)}\n`);
        },
        (err: Error) => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(`${JSON.stringify({ ready: false, error: err.message })}\n`);
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(`not found: metrics are at /metrics${health ? ', liveness at /healthz, readiness at /readyz' : ''}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({ server, port: (server.address() as { port: number }).port });
    });
  });
}
