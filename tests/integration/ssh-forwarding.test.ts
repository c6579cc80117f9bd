/**
 * Port forwarding (both directions), agent forwarding and X11 through the gateway: refused and
 * recorded unless a rule grants them; when a rule does, they work and are recorded too.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EventRecord } from '../../events/index.js';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';

let echo: net.Server;
let echoPort: number;
let agentDir: string;
let agentSock: string;
let agentPid: number;

/** A TCP echo service on loopback: whatever reaches it through a tunnel comes back. */
before(async () => {
  echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as net.AddressInfo).port;
  agentDir = mkdtempSync(join(tmpdir(), 'trailgate-agent-'));
  agentSock = join(agentDir, 'agent.sock');
  const agent = spawnSync('ssh-agent', ['-a', agentSock, '-s'], { encoding: 'utf8' });
  agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1]);
  assert.ok(agentPid > 0, `ssh-agent started: ${agent.stderr}`);
  const key = join(agentDir, 'id_ed25519');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'job-agent-key', '-f', key]);
  const added = spawnSync('ssh-add', [key], { env: { ...process.env, SSH_AUTH_SOCK: agentSock }, encoding: 'utf8' });
  assert.equal(added.status, 0, added.stderr);
});
after(() => {
  echo.close();
  process.kill(agentPid);
  rmSync(agentDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Sends a line through 127.0.0.1:port and resolves with what came back, or null when the tunnel closed. */
function roundTrip(port: number, text: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('connect', () => s.write(text));
    s.on('data', (d) => {
      got += d.toString();
      if (got.length >= text.length) s.end();
    });
    s.on('error', () => resolve(null));
    s.on('close', () => resolve(got === '' ? null : got));
  });
}

/** Waits until something listens on 127.0.0.1:port (the ssh client's end of -L). */
async function listening(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`ssh exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('forwarding refused without a rule', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await GatewayHarness.start({ ssh: true, rules: [{ name: 'exec-only', issuers: ['dev'], repository: 'acme/payments', targets: ['web'], rights: ['exec', 'shell'] }] });
  });
  after(async () => {
    await h.stop();
  });

  it('refuses a local forward (-L) and records it', async () => {
    const local = await freePort();
    const ended = h.endedSession((ev) => ofType(ev, 'request.refused').length > 0);
    const child = h.openssh().spawn(['-N', '-L', `${local}:127.0.0.1:${echoPort}`, 'web@127.0.0.1'], await h.token());
    const done = exited(child);
    await listening(local, child);
    assert.equal(await roundTrip(local, 'ping\n'), null, 'the tunnel carries nothing');
    child.kill('SIGTERM');
    await done;
    const refused = ofType(await ended, 'request.refused')[0]!;
    assert.deepEqual(refused.data, { request: 'forward-local', detail: `127.0.0.1:${echoPort}`, reason: 'no rule grants forward-local', needs: ['forward-local'] });
  });

  it('refuses a remote forward (-R) and records it', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'request.refused').length > 0);
    const child = h.openssh().spawn(['-N', '-R', `0:127.0.0.1:${echoPort}`, 'web@127.0.0.1'], await h.token(), { options: ['-o', 'ExitOnForwardFailure=yes'] });
    const { code, stderr } = await exited(child);
    assert.equal(code, 255);
    assert.match(stderr, /remote port forwarding failed/);
    const refused = ofType(await ended, 'request.refused')[0]!;
    assert.equal(refused.data.request, 'forward-remote');
    assert.deepEqual(refused.data.needs, ['forward-remote']);
  });

  it('refuses agent forwarding (-A): the command runs without the agent, and the refusal is recorded', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'command.completed').length > 0);
    const r = await h.openssh().ssh(['-A', 'web@127.0.0.1', 'echo "agent:${SSH_AUTH_SOCK:-none}"'], { token: await h.token(), env: { SSH_AUTH_SOCK: agentSock } });
    assert.equal(r.stdout.toString(), 'agent:none\n');
    const events = await ended;
    const refused = ofType(events, 'request.refused')[0]!;
    assert.deepEqual(refused.data, { request: 'agent', channel: 0, reason: 'no rule grants agent', needs: ['agent'] });
    assert.ok(refused.seq < ofType(events, 'command.started')[0]!.seq);
  });

  it('refuses X11 forwarding (-X) and records it', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'command.completed').length > 0);
    const r = await h.openssh().ssh(['-X', 'web@127.0.0.1', 'echo "display:${DISPLAY:-none}"'], { token: await h.token(), options: ['-o', 'ForwardX11Trusted=yes'] });
    assert.equal(r.stdout.toString(), 'display:none\n');
    const refused = ofType(await ended, 'request.refused')[0]!;
    assert.equal(refused.data.request, 'x11');
  });
});

describe('forwarding a rule allows', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await GatewayHarness.start({
      ssh: true,
      rules: [{ name: 'tunnels', issuers: ['dev'], repository: 'acme/payments', targets: ['web'], rights: ['exec', 'forward-local', 'forward-remote', 'agent'] }],
    });
  });
  after(async () => {
    await h.stop();
  });

  it('relays a local forward through the target and records it', async () => {
    const local = await freePort();
    const ended = h.endedSession((ev) => ofType(ev, 'forward.closed').length > 0);
    const child = h.openssh().spawn(['-N', '-L', `${local}:127.0.0.1:${echoPort}`, 'web@127.0.0.1'], await h.token());
    const done = exited(child);
    await listening(local, child);
    assert.equal(await roundTrip(local, 'through the tunnel\n'), 'through the tunnel\n');
    child.kill('SIGTERM');
    await done;
    const events: EventRecord[] = await ended;
    const opened = ofType(events, 'forward.opened')[0]!;
    assert.equal(opened.data.direction, 'local');
    assert.equal(opened.data.port, echoPort);
    assert.deepEqual(opened.data.rules, ['tunnels']);
    // One connection is the test's probe for the listening port; the other carried the line.
    const closed = ofType(events, 'forward.closed').map((e) => e.data.bytesToClient);
    assert.ok(closed.includes('through the tunnel\n'.length), `a forwarded connection carried the line: ${JSON.stringify(closed)}`);
  });

  it('relays a remote forward: the target listens and connections come back through the gateway', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'forward.closed').length > 0);
    const remote = await freePort();
    const child = h.openssh().spawn(['-N', '-R', `127.0.0.1:${remote}:127.0.0.1:${echoPort}`, 'web@127.0.0.1'], await h.token(), { options: ['-o', 'ExitOnForwardFailure=yes'] });
    const done = exited(child);
    // The target is this machine: its end of -R listens here.
    await listening(remote, child);
    assert.equal(await roundTrip(remote, 'back again\n'), 'back again\n');
    child.kill('SIGTERM');
    await done;
    const opened = ofType(await ended, 'forward.opened');
    // First the target's listening port (no channel), then a channel per connection that came back.
    assert.deepEqual([opened[0]!.data.direction, opened[0]!.data.port, opened[0]!.data.channel, opened[0]!.data.rules], ['remote', remote, -1, ['tunnels']]);
    assert.ok(opened.length >= 2 && opened.slice(1).every((e) => e.data.direction === 'remote' && e.data.channel >= 0));
  });

  it('forwards the client agent to the target when a rule grants it', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'command.completed').length > 0);
    const r = await h.openssh().ssh(['-A', 'web@127.0.0.1', 'ssh-add -l'], { token: await h.token(), env: { SSH_AUTH_SOCK: agentSock } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /job-agent-key/);
    const events = await ended;
    assert.equal(ofType(events, 'request.refused').length, 0);
    assert.deepEqual(ofType(events, 'forward.opened')[0]!.data.direction, 'agent');
  });
});
