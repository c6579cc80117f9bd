/**
 * The gateway's WebSocket stream relay below kubectl: port-forward bytes counted exactly in both
 * directions (10 MiB, equal checksums), kubectl 1.31's port-forward subprotocol passed through, an exec
 * refused before its upgrade in strict recording
 * when the recording cannot be written. Against the kube-apiserver STAND-IN, whose port-forward
 * echoes the tunnel's messages (it does not speak SPDY inside the tunnel as a kubelet does).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { EventRecord } from '../../events/index.js';
import { KubeHarness } from '../support/kube-harness.js';

let h: KubeHarness;
let tokenFor = '';

before(async () => {
  // The stand-in always: the real cluster's port-forward needs a listening pod port, covered by kubectl there.
  const saved = process.env.KUBE_APISERVER_URL;
  delete process.env.KUBE_APISERVER_URL;
  h = await KubeHarness.start();
  if (saved !== undefined) process.env.KUBE_APISERVER_URL = saved;
  tokenFor = await h.token();
});
after(async () => {
  await h?.stop();
});

function open(path: string, protocols: string[], token: string): WebSocket {
  const kube = h.gateway.kube!;
  return new WebSocket(`wss://127.0.0.1:${kube.address.port}/cluster${path}`, protocols, { ca: readFileSync(kube.certFile), headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
}

describe('stream relay', () => {
  it('port-forward: 10 MiB through the tunnel each way, equal checksums, exact byte counts recorded', async () => {
    const ws = open('/api/v1/namespaces/default/pods/web-0/portforward?ports=8080', ['v4.channel.k8s.io'], await h.token());
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    assert.equal(ws.protocol, 'v4.channel.k8s.io');
    const payload = randomBytes(10 * 1024 * 1024);
    const back = createHash('sha256');
    let received = 0;
    const echoed = new Promise<void>((resolve) =>
      ws.on('message', (d: Buffer) => {
        back.update(d);
        received += d.length;
        if (received === payload.length) resolve();
      }),
    );
    for (let i = 0; i < payload.length; i += 256 * 1024) ws.send(payload.subarray(i, i + 256 * 1024));
    await echoed;
    ws.close();
    await new Promise((r) => ws.once('close', r));
    assert.equal(back.digest('hex'), createHash('sha256').update(payload).digest('hex'));
    const closed = await waitFor(async () => [...(await h.sessions()).values()].flat().find((r) => r.stream === 'events' && r.type === 'forward.closed') as EventRecord<'forward.closed'> | undefined);
    assert.equal(closed.data.bytesFromClient, payload.length);
    assert.equal(closed.data.bytesToClient, payload.length);
    const opened = [...(await h.sessions()).values()].flat().find((r) => r.stream === 'events' && r.type === 'forward.opened') as EventRecord<'forward.opened'>;
    assert.deepEqual([opened.data.host, opened.data.port], ['default/web-0', 8080]);
    // the tunnel's payload is not recorded, only counted
    assert.ok(![...(await h.sessions()).values()].flat().some((r) => r.stream === 'bytes'));
  });

  it("port-forward with kubectl 1.31's subprotocol (SPDY/3.1+portforward.k8s.io, no WebSocket token) is passed through", async () => {
    const kube = h.gateway.kube!;
    const answer = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1',
        port: kube.address.port,
        path: '/cluster/api/v1/namespaces/default/pods/web-0/portforward?ports=5432',
        ca: readFileSync(kube.certFile),
        headers: { authorization: `Bearer ${tokenFor}`, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'SPDY/3.1+portforward.k8s.io' },
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res);
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer.statusCode, 101);
    assert.equal(answer.headers['sec-websocket-protocol'], 'SPDY/3.1+portforward.k8s.io');
    assert.equal(answer.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('strict recording: when the log cannot be written, an exec is refused before its upgrade reaches the cluster', async () => {
    const writer = h.gateway.writer;
    const durable = writer.durable.bind(writer);
    writer.durable = () => Promise.reject(new Error('TG_RECORDING_FAILED: disk full (simulated)'));
    try {
      const before = h.backend.standIn!.seen.length;
      const ws = open('/api/v1/namespaces/default/pods/web-0/exec?command=true&stdout=true', ['v5.channel.k8s.io'], await h.token());
      const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).on('open', () => resolve(101)).on('error', () => resolve(-1)));
      assert.equal(status, 503);
      assert.ok(!h.backend.standIn!.seen.slice(before).some((r) => r.path.includes('/exec')), 'the exec reached the cluster');
    } finally {
      writer.durable = durable;
    }
    const refused = [...(await h.sessions()).values()].flat().find((r) => r.stream === 'events' && r.type === 'kube.request' && (r.data as { code?: string }).code === 'TG_RECORDING_FAILED');
    assert.ok(refused, 'the refusal is recorded once the log is back');
  });

  it('a client that breaks the WebSocket framing (an unmasked frame) ends the exec and the session with TG_KUBE_WEBSOCKET_MALFORMED', async () => {
    const kube = h.gateway.kube!;
    const socket = tls.connect({ host: '127.0.0.1', port: kube.address.port, ca: readFileSync(kube.certFile), servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    socket.write(
      `GET /cluster/api/v1/namespaces/default/pods/web-0/exec?command=cat&stdin=true&stdout=true HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${await h.token()}\r\n` +
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n',
    );
    let answer = '';
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (d: Buffer) => {
        answer += d.toString('latin1');
        if (answer.includes('\r\n\r\n')) resolve();
      });
      socket.once('close', () => reject(new Error(`closed before the upgrade: ${answer}`)));
    });
    assert.match(answer, /^HTTP\/1\.1 101/);
    socket.write(Buffer.from([0x82, 0x03, 0x00, 0x68, 0x69])); // stdin "hi" in an unmasked frame
    await new Promise((r) => socket.once('close', r));
    const records = await waitFor(async () => [...(await h.sessions()).values()].find((rs) => rs.some((r) => r.stream === 'events' && r.type === 'kube.request' && (r.data as { code?: string }).code === 'TG_KUBE_WEBSOCKET_MALFORMED')));
    const request = records.find((r) => r.stream === 'events' && r.type === 'kube.request') as EventRecord<'kube.request'>;
    assert.match(request.data.reason ?? '', /the client sent an unmasked frame from the client/);
    const ended = records.find((r) => r.stream === 'events' && r.type === 'session.ended') as EventRecord<'session.ended'>;
    assert.equal(ended.data.reason, 'protocol-error');
  });

  it('an upgrade offering no subprotocol the gateway can read is refused before the cluster', async () => {
    const before = h.backend.standIn!.seen.length;
    const ws = open('/api/v1/namespaces/default/pods/web-0/exec?command=true', ['base64.channel.k8s.io'], await h.token());
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).on('error', () => resolve(-1)));
    assert.equal(status, 400);
    assert.equal(h.backend.standIn!.seen.length, before);
  });
});

/** Polls (bounded) until the session's closing records are in the log. */
async function waitFor<T>(read: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await read();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('not recorded within 5 s');
}
