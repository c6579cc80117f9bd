/**
 * A STAND-IN for kube-apiserver (used when the real one from tests/services/kube.sh is not built): HTTPS
 * on loopback with the discovery documents kubectl needs, one pod, ConfigMaps applied server-side, pod
 * logs (followed or not) and exec over the WebSocket channel protocols v4/v5 running a real local
 * process, as kwok's fake kubelet does. It keeps every request's headers so tests can see what the
 * gateway sent (the impersonation). It is not Kubernetes: no RBAC, no audit log, SPDY for exec only (kube-standin-spdy.ts).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { WebSocketServer, type WebSocket } from 'ws';
import { spdyExec } from './kube-standin-spdy.js';

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

const RESOURCES = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: 'v1',
  resources: [
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['po'] },
    { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get'] },
    { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
    { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
    { name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['cm'] },
    { name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] },
    { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'] },
  ],
};

function pod(namespace: string, name: string): unknown {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name, namespace, uid: '00000000-0000-0000-0000-000000000001', resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { containers: [{ name: 'app', image: 'stand-in' }], nodeName: 'stand-in-node' },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'app', ready: true, restartCount: 0, image: 'stand-in', imageID: '', state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }] },
  };
}

export class KubeStandIn {
  readonly seen: SeenRequest[] = [];
  readonly configMaps = new Map<string, unknown>();
  /** Lines `logs` returns; a followed log writes them one by one, then ends. */
  logLines = ['first line', 'second line'];
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 16 * 1024 * 1024,
    handleProtocols: (offered) => ['v5.channel.k8s.io', 'v4.channel.k8s.io'].find((p) => offered.has(p)) ?? false,
  });

  private constructor(
    private readonly server: https.Server,
    readonly ca: string,
    readonly url: string,
  ) {}

  static async start(): Promise<KubeStandIn> {
    const pems = await generate([{ name: 'commonName', value: 'kube-standin' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    const server = https.createServer({ cert: pems.cert, key: pems.private, ALPNProtocols: ['http/1.1'] });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const s = new KubeStandIn(server, pems.cert, `https://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => s.serve(req, res));
    server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => s.upgrade(req, socket, head));
    return s;
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.seen.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers });
    const json = (code: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const p = url.pathname;
    let m: RegExpExecArray | null;
    if (p === '/api') return json(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
    if (p === '/apis') return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (p === '/api/v1') return json(200, RESOURCES);
    if (p === '/version') return json(200, { major: '1', minor: '36', gitVersion: 'v1.36.0-standin', platform: 'linux/amd64' });
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(p))) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (url.searchParams.get('follow') !== 'true') return void res.end(this.logLines.map((l) => `${l}\n`).join(''));
      let i = 0;
      const next = () => {
        if (i >= this.logLines.length) return void res.end();
        res.write(`${this.logLines[i++]}\n`);
        setImmediate(next);
      };
      return next();
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(p)) && req.method === 'GET') return json(200, pod(m[1]!, m[2]!));
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps\/([^/]+)$/.exec(p))) {
      const key = `${m[1]}/${m[2]}`;
      if (req.method === 'GET') return this.configMaps.has(key) ? json(200, this.configMaps.get(key)) : json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `configmaps "${m[2]}" not found` });
      if (req.method === 'PATCH') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          // server-side apply sends the object (YAML or JSON); the stand-in keeps its data keys only
          const text = Buffer.concat(chunks).toString('utf8');
          const data: Record<string, string> = {};
          for (const line of text.split('\n')) {
            const kv = /^\s{2}([A-Za-z0-9_.-]+):\s*"?([^"]*)"?\s*$/.exec(line);
            if (kv) data[kv[1]!] = kv[2]!;
          }
          const obj = { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: m![2], namespace: m![1], resourceVersion: '2', uid: '00000000-0000-0000-0000-000000000002' }, data };
          this.configMaps.set(key, obj);
          json(200, obj);
        });
        return;
      }
    }
    json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `the stand-in does not serve ${req.method} ${p}` });
  }

  private upgrade(req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', this.url);
    this.seen.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers });
    const exec = /\/pods\/[^/]+\/(exec|attach)$/.test(url.pathname);
    // attach: the stand-in's container process is `cat`, started for each attach
    if (url.pathname.endsWith('/attach')) url.searchParams.append('command', 'cat');
    const forward = /\/pods\/[^/]+\/portforward$/.test(url.pathname);
    if (exec && /^SPDY\/3\.1$/i.test(String(req.headers.upgrade))) return spdyExec(req, socket, url.searchParams);
    if (!(exec || forward) || !/websocket/i.test(String(req.headers.upgrade))) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nthe stand-in serves exec over WebSocket and SPDY/3.1, port-forward over WebSocket only');
      return;
    }
    if (forward && String(req.headers['sec-websocket-protocol']).includes('SPDY/3.1+portforward.k8s.io')) {
      // kubectl 1.31+'s subprotocol is not a token to WebSocket libraries: the handshake by hand, then silence
      const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n`);
      socket.on('error', () => undefined);
      return;
    }
    // port-forward: the stand-in does not speak SPDY inside the tunnel; it echoes each message back
    this.wss.handleUpgrade(req, socket, head, (ws) => (exec ? this.exec(ws, url.searchParams) : ws.on('message', (d: Buffer, binary: boolean) => ws.send(d, { binary }))));
  }

  /** Runs the command as a local process, as kwok's local exec does, speaking channel protocol v4/v5. */
  private exec(ws: WebSocket, q: URLSearchParams): void {
    const command = q.getAll('command');
    // a terminal when asked for one, as a kubelet gives (util-linux `script` allocates the pty)
    const tty = q.get('tty') === 'true';
    const quoted = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = tty ? spawn('script', ['-qefc', quoted, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const send = (channel: number, data: Buffer) => ws.send(Buffer.concat([Buffer.from([channel]), data]));
    child.stdout.on('data', (d: Buffer) => send(1, d));
    child.stderr.on('data', (d: Buffer) => send(2, d));
    child.stdin.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0) child.stdin.write(data.subarray(1));
      else if (data[0] === 255 && data[1] === 0) child.stdin.end();
    });
    ws.on('close', () => child.kill());
    child.on('close', (code) => {
      const status =
        code === 0
          ? { metadata: {}, status: 'Success' }
          : { metadata: {}, status: 'Failure', message: `command terminated with non-zero exit code: ${code}`, reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(code) }] } };
      send(3, Buffer.from(JSON.stringify(status)));
      ws.close(1000);
    });
  }
}
