/**
 * kubectl from a CI job through the gateway's Kubernetes front door: the machine's kubectl builds
 * (Google Cloud SDK) against the real kube-apiserver + kwok when tests/services/kube.sh started them
 * (kube.env sourced), else against the kube-apiserver STAND-IN (tests/services/kube-standin.ts). The
 * suite prints which one ran.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditRecord, EventRecord } from '../../events/index.js';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { buildCast, castText } from '../../services/replay/cast.js';
import { kubectlPath } from '../support/kube-harness.js';
import { screenOf, screenOfCast } from '../support/terminal-screen.js';
import { KubeHarness } from '../support/kube-harness.js';

let h: KubeHarness;
const POD = 'web-0';
const RUN = { repository: 'acme/deploy', claims: { run_id: '4711', run_attempt: '2' } };

before(async () => {
  h = await KubeHarness.start();
  console.log(`# kubernetes backend: ${h.backend.real ? `REAL kube-apiserver ${process.env.KUBE_VERSION} + kwok (tests/services/kube.sh)` : 'kube-apiserver STAND-IN (tests/services/kube-standin.ts): the real tier did not run'}`);
  if (h.backend.real) await createPod();
});
after(async () => {
  await h?.stop();
});

/** On the real cluster: a pod on kwok's fake node (exec there runs a local process), and its log. */
async function createPod(): Promise<void> {
  const manifest = join(h.dir, 'pod.yaml');
  writeFileSync(manifest, `apiVersion: v1\nkind: Pod\nmetadata: { name: ${POD}, namespace: default }\nspec:\n  nodeName: ${process.env.KUBE_NODE}\n  containers: [{ name: app, image: stand-in }]\n`);
  // kwok reads the pod's log as a kubelet does: the CRI log format (time, stream, tag, line)
  const at = new Date().toISOString();
  writeFileSync(process.env.KUBE_POD_LOG!, `${at} stdout F first line\n${at} stdout F second line\n`);
  const admin = process.env.KUBE_ADMIN_KUBECONFIG!;
  const applied = await h.kubectl('1.33', admin, ['apply', '-f', manifest]);
  assert.equal(applied.code, 0, applied.stderr);
  const ready = await h.kubectl('1.33', admin, ['wait', '--for=condition=Ready', `pod/${POD}`, '--timeout=60s']);
  assert.equal(ready.code, 0, ready.stderr);
}

async function kubeconfig(target = 'cluster'): Promise<string> {
  return h.kubeconfig(target, await h.token(RUN));
}

/** Sessions a test already took, so that the next one finds its own. */
const claimed = new Set<string>();

/**
 * The records of the (not yet claimed) session whose kube.request matches. A stream's request is recorded when the
 * gateway sees its connection close, which may come just after kubectl exited: polled, bounded (5 s).
 */
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

/** kube.request events once `until` holds of them (a stream's request is recorded when it closes): polled, bounded (5 s). */
async function requestsWhen(until: (all: EventRecord<'kube.request'>['data'][]) => boolean): Promise<EventRecord<'kube.request'>['data'][]> {
  let all: EventRecord<'kube.request'>['data'][] = [];
  for (let i = 0; i < 100; i++) {
    all = (await h.requests()).map((e) => e.data);
    if (until(all)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return all;
}

/** Real tier: `logs -f` streams, a line written to the pod's log while it follows reaches kubectl; then it is interrupted. */
async function followLog(kc: string): Promise<void> {
  const child = spawn(kubectlPath('1.33'), ['--kubeconfig', kc, 'logs', '-f', '--tail=2', POD], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: h.dir, KUBECACHEDIR: join(h.dir, 'cache-follow') } });
  let out = '';
  const exited = new Promise<number | null>((r) => child.once('close', r));
  const seen = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => out.includes(text) && resolve();
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        check();
      });
      check();
      void exited.then((code) => reject(new Error(`kubectl logs -f exited ${code} before '${text}': ${out}`)));
    });
  try {
    await seen('first line\nsecond line\n');
    appendFileSync(process.env.KUBE_POD_LOG!, `${new Date().toISOString()} stdout F third line, written while followed\n`);
    await seen('third line, written while followed\n');
  } finally {
    child.kill('SIGINT');
    await exited;
  }
}

interface AuditEvent {
  verb: string;
  user: { username: string };
  impersonatedUser?: { username: string; groups?: string[]; extra?: Record<string, string[]> };
  objectRef?: { name?: string; subresource?: string };
}

/** Real tier: the API server's own audit log (Metadata level, written before each answer: --audit-log-mode blocking). */
function audit(): AuditEvent[] {
  return readFileSync(process.env.KUBE_AUDIT_LOG!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
}

const events = (records: AuditRecord[], type: string) => records.filter((r): r is EventRecord => r.stream === 'events' && r.type === type);

describe('kubectl through the gateway', () => {
  for (const version of ['1.30', '1.31', '1.33']) {
    it(`kubectl ${version}: exec -i with stdin piped keeps the exit code and is recorded as a terminal session`, async () => {
      const input = `hello from ${version}\n`;
      const r = await h.kubectl(version, await kubeconfig(), ['exec', '-i', POD, '--', 'sh', '-c', `cat; echo to-stderr >&2; exit 3`], input);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, input);
      assert.match(r.stderr, /to-stderr/);
      const records = await sessionWith((d) => d.subresource === 'exec' && d.status === 101);
      const started = events(records, 'command.started')[0] as EventRecord<'command.started'>;
      assert.equal(started.data.protocol, 'exec');
      assert.equal(started.data.text, "sh -c cat; echo to-stderr >&2; exit 3");
      const completed = events(records, 'command.completed')[0] as EventRecord<'command.completed'>;
      assert.equal(completed.data.exitStatus, 3);
      assert.equal(completed.data.commandSeq, started.seq);
      const request = events(records, 'kube.request').find((e) => (e.data as { subresource?: string }).subresource === 'exec') as EventRecord<'kube.request'>;
      assert.equal(request.data.upgrade?.protocol, 'websocket');
      assert.match(request.data.upgrade?.subprotocol ?? '', /^v[45]\.channel\.k8s\.io$/);
      // what the client saw replays (stdout and stderr); stdin is not recorded unless a rule says recordStdin
      const cast = buildCast(records[0]!.sessionId, records);
      const shown = cast.events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
      assert.ok(shown.includes(input) && shown.includes('to-stderr\n') && shown.length === input.length + 'to-stderr\n'.length, shown);
      assert.ok(!records.some((x) => x.stream === 'bytes' && x.direction === 'client'), 'stdin was recorded');
      const stderr = records.filter((x) => x.stream === 'bytes' && x.stderr).map((x) => (x as { data: Buffer }).data.toString()).join('');
      assert.equal(stderr, 'to-stderr\n');
    });
  }

  it('attach -i is relayed and recorded like exec', { skip: !!process.env.KUBE_APISERVER_URL && "kwok's fake container has no main process to attach to" }, async () => {
    const r = await h.kubectl('1.33', await kubeconfig(), ['attach', '-i', POD], 'attached input\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /attached input/);
    const records = await sessionWith((d) => d.subresource === 'attach' && d.status === 101);
    const started = events(records, 'command.started')[0] as EventRecord<'command.started'>;
    assert.equal(started.data.protocol, 'shell');
    assert.equal((events(records, 'command.completed')[0] as EventRecord<'command.completed'>).data.exitStatus, 0);
  });

  it('exec -it on a terminal replays from its cast to the screen the client saw', async () => {
    const kc = await kubeconfig();
    const script = 'printf "one\\r\\ntwo\\r\\n\\033[2J\\033[Hcleared \\033[1mbold\\033[0m\\r\\n"; printf "\\033[5;10Hat 5,10"; sleep 0.2';
    const driver = spawn('python3', [join(import.meta.dirname, '../support/pty-driver.py'), '--rows', '24', '--cols', '80', kubectlPath('1.33'), '--kubeconfig', kc, 'exec', '-it', POD, '--', 'sh', '-c', script], {
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
    const records = await sessionWith((d) => d.subresource === 'exec' && d.status === 101);
    assert.equal((events(records, 'command.started')[0] as EventRecord<'command.started'>).data.pty, true);
    const opened = events(records, 'terminal.opened')[0] as EventRecord<'terminal.opened'>;
    assert.deepEqual([opened.data.cols, opened.data.rows], [80, 24]);
    const clientScreen = await screenOf({ cols: 80, rows: 24 }, [{ output: Buffer.concat(seen) }]);
    const castScreen = await screenOfCast(castText(buildCast(records[0]!.sessionId, records)));
    assert.ok(clientScreen.lines.some((l) => l.includes('cleared bold')) && clientScreen.lines[4]!.includes('at 5,10'), clientScreen.lines.join('\n'));
    assert.deepEqual(castScreen.lines, clientScreen.lines);
    assert.deepEqual(castScreen.cursor, clientScreen.cursor);
  });

  it('get, server-side apply and logs (also -f) are recorded with verb, resource, namespace, name, status and bytes', async () => {
    const kc = await kubeconfig();
    const got = await h.kubectl('1.33', kc, ['get', 'pod', POD, '-o', 'name']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, `pod/${POD}\n`);
    const manifest = join(h.dir, 'cm.yaml');
    // a token someone left in a ConfigMap: the write reaches the cluster as sent, its record holds a marker
    const token = `ghp_${'A1b2'.repeat(9)}`;
    writeFileSync(manifest, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deployed\n  namespace: default\ndata:\n  version: "42"\n  token: ${token}\n`);
    const applied = await h.kubectl('1.33', kc, ['apply', '--server-side', '--validate=false', '-f', manifest]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /configmap\/deployed serverside-applied/);
    const logs = await h.kubectl('1.33', kc, ['logs', POD]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /first line\nsecond line\n/);
    if (h.backend.real) await followLog(kc);
    else {
      const followed = await h.kubectl('1.33', kc, ['logs', '-f', '--tail=2', POD]);
      assert.match(followed.stdout, /first line\nsecond line\n/);
    }

    const requests = await requestsWhen((all) => all.filter((d) => d.subresource === 'log').length >= 2);
    const get = requests.find((d) => d.verb === 'get' && d.resource === 'pods' && d.name === POD && !d.subresource)!;
    assert.deepEqual([get.namespace, get.status, get.outcome, get.decision.needs], ['default', 200, 'ok', ['read']]);
    assert.ok(get.bytesOut > 0 && get.durationMs > 0);
    const patch = requests.find((d) => d.verb === 'patch' && d.resource === 'configmaps')!;
    // server-side apply answers 201 when it created the object, 200 when it changed it
    assert.deepEqual([patch.name, patch.decision.needs], ['deployed', ['write']]);
    assert.ok(patch.status === 200 || patch.status === 201, String(patch.status));
    assert.ok(patch.bytesIn > 0);
    // the write's body is recorded through the trail's detectors
    assert.match(patch.body ?? '', /"version":"42"/);
    assert.match(patch.body ?? '', /"token":"\[masked:vcs-token\]"/);
    assert.deepEqual(patch.detectorHits, { 'vcs-token': 1 });
    assert.ok(![...(await h.sessions()).values()].flat().some((r) => JSON.stringify(r).includes(token)), 'the token is in the trail');
    const log = requests.filter((d) => d.subresource === 'log');
    assert.ok(log.length >= 2 && log.every((d) => d.status === 200 && d.decision.needs[0] === 'logs'), JSON.stringify(log));
  });

  it("a Secret's body is never recorded, only that it was left out", async () => {
    const r = await h.kubectl('1.33', await kubeconfig(), ['create', 'secret', 'generic', `db-${randomBytes(4).toString('hex')}`, '--from-literal=password=never-in-the-trail']);
    // the stand-in does not store Secrets (404); the real cluster creates it
    if (h.backend.real) assert.equal(r.code, 0, r.stderr);
    const requests = await requestsWhen((all) => all.some((d) => d.resource === 'secrets' && d.verb === 'create'));
    const created = requests.find((d) => d.resource === 'secrets' && d.verb === 'create')!;
    assert.ok(created.bytesIn > 0);
    assert.equal(created.bodyOmitted, 'secret');
    assert.equal(created.body, undefined);
    const password = Buffer.from('never-in-the-trail').toString('base64');
    assert.ok(![...(await h.sessions()).values()].flat().some((x) => JSON.stringify(x).includes('never-in-the-trail') || JSON.stringify(x).includes(password)), 'the Secret is in the trail');
  });

  it('impersonates the job toward the cluster: user, rule groups and the run in Impersonate-Extra', async () => {
    const r = await h.kubectl('1.33', await kubeconfig(), ['get', 'pod', POD, '-o', 'name']);
    assert.equal(r.code, 0, r.stderr);
    if (h.backend.real) {
      // the cluster's own audit log names the job and its run
      const seen = audit().filter((a) => a.impersonatedUser && a.objectRef?.name === POD);
      assert.ok(seen.length > 0, 'no impersonated request in the audit log');
      const last = seen[seen.length - 1]!;
      assert.equal(last.user.username, 'trailgate-gateway');
      assert.match(last.impersonatedUser!.username, /^trailgate:dev:/);
      assert.ok(last.impersonatedUser!.groups?.includes('trailgate:rule:deploy'));
      assert.deepEqual(last.impersonatedUser!.extra?.['trailgate.dev/run-id'], ['4711/2']);
      assert.deepEqual(last.impersonatedUser!.extra?.['trailgate.dev/repository'], ['acme/deploy']);
    } else {
      const seen = h.backend.standIn!.seen.filter((s) => s.path.startsWith(`/api/v1/namespaces/default/pods/${POD}`)).pop()!;
      assert.match(String(seen.headers['impersonate-user']), /^trailgate:dev:/);
      assert.match(String(seen.headers['impersonate-group']), /trailgate:rule:deploy/);
      assert.equal(seen.headers['impersonate-extra-trailgate.dev%2frun-id'], '4711/2');
      assert.equal(seen.headers['impersonate-extra-trailgate.dev%2frepository'], 'acme/deploy');
      assert.equal(seen.headers.authorization, 'Bearer stand-in-gateway-token', 'the gateway credential, never the job token');
    }
  });

  it('refuses --as with 403 and records it; nothing impersonated by the client reaches the cluster', async () => {
    const before = h.backend.standIn?.seen.length ?? 0;
    const r = await h.kubectl('1.33', await kubeconfig(), ['get', 'pod', POD, '--as', 'system:admin', '-o', 'name']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Forbidden/);
    const refused = (await h.requests()).filter((e) => e.data.code === 'TG_KUBE_IMPERSONATION_REFUSED');
    assert.ok(refused.length > 0);
    assert.equal(refused[0]!.data.status, 403);
    assert.match(refused[0]!.data.reason ?? '', /impersonate-user/);
    if (h.backend.standIn) assert.equal(h.backend.standIn.seen.length, before, 'a request went upstream');
    else assert.ok(!audit().some((a) => a.impersonatedUser?.username === 'system:admin' || a.user.username === 'system:admin'), 'the cluster saw system:admin');
  });

  it('a read-only rule refuses exec with 403 before any upgrade reaches the cluster', async () => {
    const before = h.backend.standIn?.seen.length ?? 0;
    const kc = await kubeconfig('cluster-readonly');
    const got = await h.kubectl('1.33', kc, ['get', 'pod', POD, '-o', 'name']);
    assert.equal(got.code, 0, got.stderr);
    const r = await h.kubectl('1.33', kc, ['exec', POD, '--', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /exec is not granted|TG_POLICY_DENIED|Forbidden|403/);
    const denied = (await h.requests()).find((e) => e.data.subresource === 'exec' && e.data.outcome === 'denied')!;
    assert.deepEqual(denied.data.decision.missing, ['exec']);
    assert.equal(denied.data.code, 'TG_POLICY_DENIED');
    if (h.backend.standIn) assert.ok(!h.backend.standIn.seen.slice(before).some((s) => s.path.includes('/exec')), 'the exec reached the cluster');
    // the cluster's audit log has the read-only rule's get, and no exec under that rule
    else {
      const underRule = audit().filter((a) => a.impersonatedUser?.groups?.includes('trailgate:rule:look'));
      assert.ok(underRule.some((a) => a.verb === 'get' && a.objectRef?.name === POD), "the read-only rule's get is not in the audit log");
      assert.ok(!underRule.some((a) => a.objectRef?.subresource === 'exec'), 'the exec reached the cluster');
    }
  });

  it('kubectl 1.31 port-forward (WebSocket) carries 10 MiB each way with equal checksums and counts it', { skip: !process.env.KUBE_APISERVER_URL && 'port-forward needs a kubelet (the real tier: tests/services/kube.sh); the stand-in does not speak SPDY in the tunnel' }, async () => {
    // kwok forwards every pod port to KUBE_FORWARD_PORT on this machine: an echo server there
    const conns = new Set<net.Socket>();
    const echo = net.createServer((c) => {
      conns.add(c);
      c.on('error', () => undefined);
      c.pipe(c);
    });
    await new Promise<void>((r) => echo.listen(Number(process.env.KUBE_FORWARD_PORT), '127.0.0.1', r));
    const child = spawn(kubectlPath('1.31'), ['--kubeconfig', await kubeconfig(), 'port-forward', `pod/${POD}`, ':8080'], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: h.dir } });
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
      const payload = randomBytes(10 * 1024 * 1024);
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
      // kwok keeps its side of a forwarded connection open: ended here so that nothing holds the test's process
      for (const c of conns) c.destroy();
    }
    const records = await sessionWith((d) => d.subresource === 'portforward' && d.status === 101).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify((await h.requests()).filter((r) => r.data.subresource === 'portforward').map((r) => r.data))}`);
    });
    const closed = events(records, 'forward.closed')[0] as EventRecord<'forward.closed'>;
    // the tunnel carries SPDY frames around the forwarded bytes: the counts are the forwarded bytes, exactly
    assert.deepEqual([closed.data.bytesFromClient, closed.data.bytesToClient], [10 * 1024 * 1024, 10 * 1024 * 1024]);
  });

  it('`trailgate kube-credential` as the exec credential plugin gives kubectl the CI token', async () => {
    const tokenFile = join(h.dir, 'ci-token');
    writeFileSync(tokenFile, `${await h.token(RUN)}\n`, { mode: 0o600 });
    const r = await h.kubectl('1.33', h.kubeconfigWithPlugin('cluster', tokenFile), ['get', 'pod', POD, '-o', 'name']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `pod/${POD}\n`);
  });
  // kubectl 1.29 (exec over SPDY only) and 1.30's SPDY port-forward: kube-spdy.test.ts
});
