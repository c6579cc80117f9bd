/**
 * kubectl 1.29 (exec over SPDY/3.1 only) and 1.30 (port-forward over SPDY) through the gateway with `spdy: record`,
 * and a target with `spdy: refuse`, against the REAL tier (etcd + kube-apiserver + kwok from tests/services/kube.sh,
 * whose exec runs a local process) when it is built, else the kube-apiserver STAND-IN (tests/services/kube-standin.ts,
 * whose SPDY exec is kube-standin-spdy.ts). Port-forward over SPDY needs a kubelet: real tier only; the suite prints
 * which subset ran.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { AuditRecord, EventRecord } from '../../events/index.js';
import { buildCast, castText } from '../../services/replay/cast.js';
import { kubectlPath, KubeHarness } from '../support/kube-harness.js';
import { SpdyWriter } from '../support/spdy-writer.js';
import { screenOf, screenOfCast } from '../support/terminal-screen.js';

const REAL = !!process.env.KUBE_APISERVER_URL;
const NEEDS_KUBELET = !REAL && 'port-forward over SPDY needs a kubelet (the real tier: tests/services/kube.sh); the stand-in speaks SPDY for exec only';
const POD = 'spdy-0';

let h: KubeHarness;

before(async () => {
  h = await KubeHarness.start({
    targets: { 'cluster-stdin': {}, 'cluster-ws-only': { spdy: 'refuse' } },
    rules: [
      { name: 'deploy', issuers: ['dev'], subject: '**', targets: ['cluster', 'cluster-ws-only'], rights: ['read', 'exec', 'port-forward'], kubeGroups: ['trailgate:jobs'] },
      { name: 'typed', issuers: ['dev'], subject: '**', targets: ['cluster-stdin'], rights: ['read', 'exec'], recordStdin: true, kubeGroups: ['trailgate:jobs'] },
    ],
  });
  console.log(`# kubernetes backend: ${REAL ? `REAL kube-apiserver ${process.env.KUBE_VERSION} + kwok: every case runs` : 'kube-apiserver STAND-IN (its SPDY exec: kube-standin-spdy.ts): all but the SPDY port-forward run'}`);
  if (REAL) {
    const manifest = join(h.dir, 'pod.yaml');
    writeFileSync(manifest, `apiVersion: v1\nkind: Pod\nmetadata: { name: ${POD}, namespace: default }\nspec:\n  nodeName: ${process.env.KUBE_NODE}\n  containers: [{ name: app, image: stand-in }]\n`);
    const admin = process.env.KUBE_ADMIN_KUBECONFIG!;
    const applied = await h.kubectl('1.33', admin, ['apply', '-f', manifest]);
    assert.equal(applied.code, 0, applied.stderr);
    const ready = await h.kubectl('1.33', admin, ['wait', '--for=condition=Ready', `pod/${POD}`, '--timeout=60s']);
    assert.equal(ready.code, 0, ready.stderr);
  }
});
after(async () => {
  await h?.stop();
});

const kubeconfig = async (target = 'cluster') => h.kubeconfig(target, await h.token({ repository: 'acme/legacy' }));
const events = (records: AuditRecord[], type: string) => records.filter((r): r is EventRecord => r.stream === 'events' && r.type === type);
const claimed = new Set<string>();

/** The (unclaimed) session whose kube.request matches; a stream's request is recorded as its connection closes: polled, bounded (5 s). */
async function sessionWith(match: (d: EventRecord<'kube.request'>['data']) => boolean): Promise<AuditRecord[]> {
  for (let i = 0; i < 100; i++) {
    for (const [id, records] of await h.sessions()) {
      if (claimed.has(id)) continue;
      if (records.some((r) => r.stream === 'events' && r.type === 'kube.request' && match((r as EventRecord<'kube.request'>).data))) {
        claimed.add(id);
        return records;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no session recorded that request');
}

/** The (unclaimed) session that ran this command: one the gateway ended records no kube.request for its stream. */
async function sessionOf(command: string): Promise<AuditRecord[]> {
  for (let i = 0; i < 100; i++) {
    for (const [id, records] of await h.sessions()) {
      if (claimed.has(id) || !records.some((r) => r.stream === 'events' && r.type === 'session.ended')) continue;
      if (records.some((r) => r.stream === 'events' && r.type === 'command.started' && (r as EventRecord<'command.started'>).data.text === command)) {
        claimed.add(id);
        return records;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no session recorded ${command}`);
}

const spdyExec = (d: EventRecord<'kube.request'>['data']) => d.subresource === 'exec' && d.upgrade?.protocol === 'SPDY/3.1';

describe('kubectl over SPDY/3.1 (spdy: record)', () => {
  it('kubectl 1.29 exec -i: stdin piped, exit code kept, stdout and stderr recorded apart, stdin not recorded by a rule without recordStdin', async () => {
    const input = 'typed into 1.29\n';
    const r = await h.kubectl('1.29', await kubeconfig(), ['exec', '-i', POD, '--', 'sh', '-c', 'cat; echo to-stderr >&2; exit 3'], input);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, input);
    assert.match(r.stderr, /to-stderr/);
    const records = await sessionWith((d) => spdyExec(d) && d.status === 101);
    const request = events(records, 'kube.request').find((e) => spdyExec(e.data as EventRecord<'kube.request'>['data'])) as EventRecord<'kube.request'>;
    assert.match(request.data.upgrade?.subprotocol ?? '', /^v[45]\.channel\.k8s\.io$/);
    assert.equal(request.data.outcome, 'ok');
    const started = events(records, 'command.started')[0] as EventRecord<'command.started'>;
    assert.equal(started.data.text, 'sh -c cat; echo to-stderr >&2; exit 3');
    const completed = events(records, 'command.completed')[0] as EventRecord<'command.completed'>;
    assert.deepEqual([completed.data.exitStatus, completed.data.commandSeq], [3, started.seq]);
    const bytes = records.filter((x) => x.stream === 'bytes') as (AuditRecord & { data: Buffer; stderr?: boolean; direction: string })[];
    assert.equal(bytes.filter((x) => !x.stderr && x.direction === 'server').map((x) => x.data.toString()).join(''), input);
    assert.equal(bytes.filter((x) => x.stderr).map((x) => x.data.toString()).join(''), 'to-stderr\n');
    assert.ok(!bytes.some((x) => x.direction === 'client'), 'stdin was recorded without recordStdin');
    // the cast replays what kubectl printed
    const shown = buildCast(records[0]!.sessionId, records).events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
    assert.equal(shown, `${input}to-stderr\n`);
  });

  it('kubectl 1.29 exec -i under a rule with recordStdin: what the job typed is recorded', async () => {
    const r = await h.kubectl('1.29', await kubeconfig('cluster-stdin'), ['exec', '-i', POD, '--', 'sh', '-c', 'cat >/dev/null; echo done'], 'select 1;\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'done\n');
    const records = await sessionWith((d) => spdyExec(d) && d.status === 101);
    const typed = records.filter((x) => x.stream === 'bytes' && x.direction === 'client').map((x) => (x as { data: Buffer }).data.toString()).join('');
    assert.equal(typed, 'select 1;\n');
    assert.equal((events(records, 'command.completed')[0] as EventRecord<'command.completed'>).data.exitStatus, 0);
  });

  it('kubectl 1.29 exec -it on a terminal replays from its cast to the screen the client saw, with its resize', async () => {
    const kc = await kubeconfig();
    const script = 'printf "one\\r\\ntwo\\r\\n\\033[2J\\033[Hcleared \\033[1mbold\\033[0m\\r\\n"; printf "\\033[5;10Hat 5,10"; sleep 0.2';
    const driver = spawn('python3', [join(import.meta.dirname, '../support/pty-driver.py'), '--rows', '30', '--cols', '100', kubectlPath('1.29'), '--kubeconfig', kc, 'exec', '-it', POD, '--', 'sh', '-c', script], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: h.dir, KUBECACHEDIR: join(h.dir, 'cache-tty') },
    });
    const seen: Buffer[] = [];
    let exit: number | null = null;
    let rest = '';
    driver.stdout.on('data', (d: Buffer) => {
      rest += d.toString();
      const lines = rest.split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        const m = JSON.parse(l) as { out?: string; exit?: number };
        if (m.out) seen.push(Buffer.from(m.out, 'base64'));
        if ('exit' in m) exit = m.exit ?? null;
      }
    });
    await new Promise((r) => driver.on('close', r));
    assert.equal(exit, 0, Buffer.concat(seen).toString());
    const records = await sessionWith((d) => spdyExec(d) && d.status === 101);
    assert.equal((events(records, 'command.started')[0] as EventRecord<'command.started'>).data.pty, true);
    // the size kubectl sends on its resize stream races the first output on the stdout stream: the recording opens
    // at that size, or at 80x24 and records the resize when it comes; either way it ends at the client's size
    const sizes = records.filter((r) => r.stream === 'events' && (r.type === 'terminal.opened' || r.type === 'terminal.resized')).map((r) => (r as EventRecord<'terminal.resized'>).data);
    assert.ok(sizes.length >= 1 && sizes.length <= 2, JSON.stringify(sizes));
    assert.deepEqual([sizes.at(-1)!.cols, sizes.at(-1)!.rows], [100, 30]);
    const clientScreen = await screenOf({ cols: 100, rows: 30 }, [{ output: Buffer.concat(seen) }]);
    const castScreen = await screenOfCast(castText(buildCast(records[0]!.sessionId, records)));
    assert.ok(clientScreen.lines.some((l) => l.includes('cleared bold')) && clientScreen.lines[4]!.includes('at 5,10'), clientScreen.lines.join('\n'));
    assert.deepEqual(castScreen.lines, clientScreen.lines);
    assert.deepEqual(castScreen.cursor, clientScreen.cursor);
  });

  it('kubectl 1.30 port-forward (SPDY) carries 10 MiB each way with equal checksums and counts the forwarded bytes exactly', { skip: NEEDS_KUBELET }, async () => {
    // kwok forwards every pod port to KUBE_FORWARD_PORT on this machine: an echo server there
    const conns = new Set<net.Socket>();
    const echo = net.createServer((c) => {
      conns.add(c);
      c.on('error', () => undefined);
      c.pipe(c);
    });
    await new Promise<void>((r) => echo.listen(Number(process.env.KUBE_FORWARD_PORT), '127.0.0.1', r));
    const child = spawn(kubectlPath('1.30'), ['--kubeconfig', await kubeconfig(), 'port-forward', `pod/${POD}`, ':8080'], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: h.dir } });
    const payload = randomBytes(10 * 1024 * 1024);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.on('close', (code) => reject(new Error(`kubectl port-forward exited ${code}: ${out}`)));
      });
      const back = await new Promise<Buffer>((resolve, reject) => {
        const parts: Buffer[] = [];
        let got = 0;
        const c = net.connect(port, '127.0.0.1', () => c.write(payload));
        c.on('data', (d: Buffer) => {
          parts.push(d);
          got += d.length;
          if (got >= payload.length) {
            c.end();
            resolve(Buffer.concat(parts));
          }
        });
        c.on('error', reject);
      });
      assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(payload).digest('hex'));
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('close', r));
      echo.close();
      for (const c of conns) c.destroy();
    }
    const records = await sessionWith((d) => d.subresource === 'portforward' && d.upgrade?.protocol === 'SPDY/3.1' && d.status === 101);
    const closed = events(records, 'forward.closed')[0] as EventRecord<'forward.closed'>;
    assert.deepEqual([closed.data.bytesFromClient, closed.data.bytesToClient], [payload.length, payload.length]);
    assert.ok(!records.some((r) => r.stream === 'bytes'), 'the forwarded data is counted, not recorded');
  });

  for (const [version, over] of [['1.29', 'SPDY'], ['1.33', 'WebSocket']] as const) {
    it(`kubectl ${version}: a live exec over ${over} that the gateway ends (a disk watermark) is cut, kubectl exits 1 with the reason, command.completed and session.ended recorded`, async () => {
      const child = spawn(kubectlPath(version), ['--kubeconfig', await kubeconfig(), 'exec', '-i', POD, '--', 'sh', '-c', `echo ready; cat # ${version}`], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: h.dir, KUBECACHEDIR: join(h.dir, `cache-cut-${version}`) } });
      const exited = new Promise<number | null>((r) => child.once('close', r));
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready\n')) resolve();
        });
        void exited.then((code) => reject(new Error(`kubectl exited ${code} before the command ran`)));
      });
      h.gateway.kube!.listener.endSessions('recording-unavailable', 'TG_DISK_CRITICAL: simulated');
      child.stdin.end();
      // kubectl 1.29 takes a cut SPDY connection for success: the gateway says why on the error channel first
      assert.equal(await exited, 1, err);
      assert.match(err, /^error: TG_DISK_CRITICAL: simulated/m);
      const records = await sessionOf(`sh -c echo ready; cat # ${version}`);
      const ended = events(records, 'session.ended')[0] as EventRecord<'session.ended'>;
      assert.deepEqual([ended.data.reason, ended.data.detail], ['recording-unavailable', 'TG_DISK_CRITICAL: simulated']);
      const completed = events(records, 'command.completed')[0] as EventRecord<'command.completed'>;
      assert.equal(completed.data.error, 'TG_DISK_CRITICAL: simulated');
      assert.equal(records.filter((x) => x.stream === 'bytes').map((x) => (x as { data: Buffer }).data.toString()).join(''), 'ready\n');
    });
  }

  it('malformed SPDY from a client ends the stream and the session with TG_KUBE_SPDY_MALFORMED, recorded', async () => {
    const kube = h.gateway.kube!;
    const token = await h.token({ repository: 'acme/legacy' });
    const socket = tls.connect({ host: '127.0.0.1', port: kube.address.port, ca: readFileSync(kube.certFile), servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    socket.write(
      `POST /cluster/api/v1/namespaces/default/pods/${POD}/exec?command=cat&stdin=true&stdout=true HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\n` +
        'Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n',
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
    // a SYN_STREAM whose header block is not zlib: the gateway ends the connection
    const w = new SpdyWriter();
    const good = w.synStream(1, { streamtype: 'error' });
    const bad = Buffer.from(good);
    bad.fill(0x55, 18);
    socket.write(bad);
    await new Promise((r) => socket.once('close', r));
    const records = await sessionWith((d) => spdyExec(d) && d.code === 'TG_KUBE_SPDY_MALFORMED');
    const request = events(records, 'kube.request').find((e) => (e.data as { code?: string }).code === 'TG_KUBE_SPDY_MALFORMED') as EventRecord<'kube.request'>;
    assert.match(request.data.reason ?? '', /the client sent a header block that does not inflate/);
    const ended = events(records, 'session.ended')[0] as EventRecord<'session.ended'>;
    assert.equal(ended.data.reason, 'protocol-error');
    const completed = events(records, 'command.completed')[0] as EventRecord<'command.completed'>;
    assert.match(completed.data.error ?? '', /TG_KUBE_SPDY_MALFORMED/);
  });
});

describe('strict recording over SPDY', () => {
  it('when the log cannot be written, a kubectl 1.29 exec is refused with 503 before its upgrade reaches the cluster', async () => {
    const writer = h.gateway.writer;
    const durable = writer.durable.bind(writer);
    writer.durable = () => Promise.reject(new Error('TG_RECORDING_FAILED: disk full (simulated)'));
    const before = h.backend.standIn?.seen.length ?? 0;
    const auditBefore = REAL ? readFileSync(process.env.KUBE_AUDIT_LOG!, 'utf8').length : 0;
    let r: Awaited<ReturnType<KubeHarness['kubectl']>>;
    try {
      r = await h.kubectl('1.29', await kubeconfig(), ['exec', POD, '--', 'echo', 'never-ran']);
    } finally {
      writer.durable = durable;
    }
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /never-ran/);
    assert.match(r.stderr, /TG_RECORDING_FAILED/);
    if (h.backend.standIn) assert.ok(!h.backend.standIn.seen.slice(before).some((s) => s.path.includes('/exec')), 'the exec reached the cluster');
    else assert.ok(!readFileSync(process.env.KUBE_AUDIT_LOG!, 'utf8').slice(auditBefore).includes('"subresource":"exec"'), 'the exec reached the cluster');
    const records = await sessionWith((d) => d.code === 'TG_RECORDING_FAILED' && d.upgrade === undefined && d.subresource === 'exec');
    assert.equal((events(records, 'kube.request').find((e) => (e.data as { code?: string }).code === 'TG_RECORDING_FAILED') as EventRecord<'kube.request'>).data.status, 503);
  });
});

describe('spdy: refuse', () => {
  it('kubectl 1.29 exec on a WebSocket-only target is refused with TG_KUBE_SPDY_REFUSED before the cluster, and recorded', async () => {
    const before = h.backend.standIn?.seen.length ?? 0;
    const r = await h.kubectl('1.29', await kubeconfig('cluster-ws-only'), ['exec', POD, '--', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /TG_KUBE_SPDY_REFUSED/);
    const records = await sessionWith((d) => d.code === 'TG_KUBE_SPDY_REFUSED');
    const refused = events(records, 'kube.request').find((e) => (e.data as { code?: string }).code === 'TG_KUBE_SPDY_REFUSED') as EventRecord<'kube.request'>;
    assert.equal(refused.data.status, 403);
    assert.match(refused.data.reason ?? '', /WebSocket only \(spdy: refuse\)/);
    assert.equal(events(records, 'command.started').length, 0);
    if (h.backend.standIn) assert.ok(!h.backend.standIn.seen.slice(before).some((s) => s.path.includes('/exec')), 'the exec reached the cluster');
  });
});
