/**
 * Commands run with `ssh target 'command'`: output, stderr kept apart, exit codes and signals passed
 * back to the client exactly, and the policy's command patterns deciding what may run at all.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'ssh2';
import type { BytesRecord, EventRecord } from '../../events/index.js';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import type { OpenSsh } from '../support/openssh.js';

let h: GatewayHarness;
let ssh: OpenSsh;

before(async () => {
  h = await GatewayHarness.start({ ssh: true });
  ssh = h.openssh();
});
after(async () => {
  await h.stop();
});

/** Runs a command and returns the client's view and the session's events. */
async function exec(command: string, input?: string): Promise<{ code: number | null; stdout: string; stderr: string; events: EventRecord[] }> {
  const ended = h.endedSession((ev) => ofType(ev, 'command.started')[0]?.data.text === command);
  const result = await ssh.ssh(['web@127.0.0.1', command], { token: await h.token(), ...(input !== undefined ? { input } : {}) });
  return { code: result.code, stdout: result.stdout.toString(), stderr: result.stderr, events: await ended };
}

describe('exec through the gateway', () => {
  it('passes the exit status back and records it with the command', async () => {
    const ok = await exec('echo fine');
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout, 'fine\n');
    const completed = ofType(ok.events, 'command.completed')[0]!;
    assert.equal(completed.data.outcome, 'ok');
    assert.equal(completed.data.exitStatus, 0);
    const started = ofType(ok.events, 'command.started')[0]!;
    assert.equal(started.data.protocol, 'exec');
    assert.equal(started.data.pty, false);
    assert.equal(completed.data.commandSeq, started.seq);
    assert.equal(completed.data.channel, started.data.channel);

    const failed = await exec('exit 7');
    assert.equal(failed.code, 7);
    const failure = ofType(failed.events, 'command.completed')[0]!;
    assert.equal(failure.data.outcome, 'error');
    assert.equal(failure.data.exitStatus, 7);
  });

  for (const signal of ['TERM', 'KILL', 'INT']) {
    it(`passes an exit by SIG${signal} back as a signal`, async () => {
      const r = await exec(`kill -${signal} $$`);
      // OpenSSH's client exits 255 when the remote command died of a signal.
      assert.equal(r.code, 255);
      const completed = ofType(r.events, 'command.completed')[0]!;
      assert.deepEqual(completed.data.exitSignal, { name: signal, coreDumped: false });
      assert.equal(completed.data.exitStatus, undefined);
      assert.equal(completed.data.outcome, 'error');
    });
  }

  it('keeps stderr apart from stdout, in the client and in the record', async () => {
    const r = await exec('echo to-out; echo to-err >&2; exit 3');
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'to-out\n');
    assert.match(r.stderr, /to-err/);
    const records = await h.records(r.events[0]!.sessionId);
    const bytes = records.filter((x): x is BytesRecord => x.stream === 'bytes');
    assert.equal(Buffer.concat(bytes.filter((b) => !b.stderr).map((b) => b.data)).toString(), 'to-out\n');
    const err = bytes.filter((b) => b.stderr);
    assert.equal(Buffer.concat(err.map((b) => b.data)).toString(), 'to-err\n');
    assert.equal(err[0]!.offset, 0, 'stderr has offsets of its own');
  });

  it('relays standard input to the command and its end', async () => {
    const payload = 'line\n'.repeat(50_000);
    const r = await exec('wc -c', payload);
    assert.equal(r.stdout.trim(), String(payload.length));
    const ended = ofType(r.events, 'session.ended')[0]!;
    assert.equal(ended.data.bytesFromClient, payload.length);
    const records = await h.records(r.events[0]!.sessionId);
    assert.equal(records.filter((x) => x.stream === 'bytes' && x.direction === 'client').length, 0, 'input is not recorded by default');
  });

  it('forwards a signal the client sends to the running command, and records it', async () => {
    // OpenSSH's client cannot send signals; ssh2's can. The test sshd runs as the current user, and
    // sshd acts on signal requests only in privilege-separated sessions, which a root login is not
    // ("session signalling requires privilege separation"): so this shows the relay and the record.
    const ended = h.endedSession((ev) => ofType(ev, 'signal.forwarded').length > 0);
    const token = await h.token();
    const conn = new Client();
    await new Promise<void>((resolve, reject) => {
      conn.on('ready', resolve).on('error', reject);
      conn.connect({ host: '127.0.0.1', port: h.gateway.ssh!.address.port, username: 'web', password: token, tryKeyboard: false, hostVerifier: () => true });
    });
    const exit = await new Promise<unknown[]>((resolve, reject) => {
      conn.exec('echo started; sleep 1', (err, stream) => {
        if (err) return reject(err);
        stream.once('data', () => stream.signal('TERM'));
        stream.on('exit', (...args: unknown[]) => resolve(args));
        stream.resume();
      });
    });
    conn.end();
    const events = await ended;
    assert.deepEqual(ofType(events, 'signal.forwarded')[0]!.data, { channel: 0, signal: 'TERM' });
    const completed = ofType(events, 'command.completed')[0]!;
    if (exit[0] === null) assert.equal(completed.data.exitSignal?.name, 'TERM');
    else assert.equal(completed.data.exitStatus, exit[0]);
  });
});

describe('exec rights and command patterns', () => {
  let limited: GatewayHarness;
  let client: OpenSsh;
  before(async () => {
    limited = await GatewayHarness.start({
      ssh: true,
      rules: [{ name: 'deploy-only', issuers: ['dev'], repository: 'acme/payments', targets: ['web'], rights: ['exec'], commands: ['echo deploy *', 'true'] }],
    });
    client = limited.openssh();
  });
  after(async () => {
    await limited.stop();
  });

  async function run(command: string, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string; events: EventRecord[] }> {
    const ended = limited.endedSession((ev) => ofType(ev, 'command.started').length > 0);
    const r = await client.ssh([...args, 'web@127.0.0.1', ...(command ? [command] : [])], { token: await limited.token() });
    return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr, events: await ended };
  }

  it('runs a command that matches a pattern of the rule', async () => {
    const r = await run('echo deploy v1.2.3');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'deploy v1.2.3\n');
    assert.deepEqual(ofType(r.events, 'command.started')[0]!.data.decision, { outcome: 'allowed', needs: ['exec'], rules: ['deploy-only'] });
  });

  for (const command of ['echo deploy v1; id', 'echo deploy $(id)', 'echo deploy `id`', 'echo deploy x | sh', 'rm -rf /tmp/nothing-here']) {
    it(`refuses ${JSON.stringify(command)} with a reason on stderr and exit status 1`, async () => {
      const r = await run(command);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /trailgate: this command on target 'web' needs the exec right \(the command matches none of the exec patterns of rule 'deploy-only'\).*\[TG_POLICY_DENIED\]/);
      const started = ofType(r.events, 'command.started')[0]!;
      assert.equal(started.data.decision!.outcome, 'denied');
      const completed = ofType(r.events, 'command.completed')[0]!;
      assert.equal(completed.data.outcome, 'denied');
      assert.equal(completed.data.exitStatus, 1);
    });
  }

  it('refuses a shell to a job that may only exec', async () => {
    const r = await run('', ['-tt']);
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, /a shell on target 'web' needs the shell right.*TG_POLICY_DENIED/);
    assert.equal(ofType(r.events, 'command.started')[0]!.data.protocol, 'shell');
    assert.equal(ofType(r.events, 'command.completed')[0]!.data.outcome, 'denied');
  });
});

describe('a hostile client on the sftp subsystem', () => {
  it('gets its channel closed for a malformed SFTP stream, and the record says why', async () => {
    // ssh2's client has no 1023-character limit: the whole token goes as the password.
    const ended = h.endedSession((ev) => ofType(ev, 'command.completed').some((c) => /malformed SFTP/.test(c.data.error ?? '')));
    const token = await h.token();
    const raw = new Client();
    await new Promise<void>((resolve, reject) => {
      raw.on('ready', resolve).on('error', reject);
      raw.connect({ host: '127.0.0.1', port: h.gateway.ssh!.address.port, username: 'web', password: token, hostVerifier: () => true });
    });
    await new Promise<void>((resolve, reject) => {
      raw.subsys('sftp', (err, stream) => {
        if (err) return reject(err);
        // A packet that claims to be 2 GiB long.
        stream.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 0, 0, 0, 3]));
        stream.on('close', () => resolve());
        stream.resume();
      });
    });
    raw.end();
    const events = await ended;
    assert.equal(ofType(events, 'command.started')[0]!.data.text, 'sftp');
    assert.equal(ofType(events, 'command.completed')[0]!.data.outcome, 'error');
  });
});

describe('environment toward the target', () => {
  it('passes the client environment the target accepts, and never lets a job set the run tags', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'environment.requested').some((e) => e.data.outcome === 'refused'));
    const r = await ssh.ssh(['web@127.0.0.1', 'echo "$LC_TRAILGATE_TEST|$TRAILGATE_REPOSITORY"'], {
      token: await h.token(),
      options: ['-o', 'SetEnv=LC_TRAILGATE_TEST=from-the-job TRAILGATE_REPOSITORY=acme/forged'],
    });
    assert.equal(r.stdout.toString(), 'from-the-job|acme/payments\n');
    const requested = ofType(await ended, 'environment.requested');
    assert.deepEqual(
      requested.map((e) => e.data),
      [
        { channel: 0, name: 'LC_TRAILGATE_TEST', value: 'from-the-job', outcome: 'accepted', rules: ['tests-all'] },
        { channel: 0, name: 'TRAILGATE_REPOSITORY', value: 'acme/forged', outcome: 'refused', reason: 'TRAILGATE_* variables are set by the gateway' },
      ],
    );
  });
});

describe('strict recording', () => {
  it('does not run a command whose event cannot be written', async () => {
    const broken = await GatewayHarness.start({ ssh: true });
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-strict-'));
    try {
      const client = broken.openssh();
      const token = await broken.token();
      // The event log stops taking writes: strict recording must not let the command through.
      broken.gateway.log.close();
      const r = await client.ssh(['web@127.0.0.1', `touch ${join(dir, 'ran')}`], { token });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the command was not run because it could not be recorded: TG_LOG_UNWRITABLE/);
      assert.equal(existsSync(join(dir, 'ran')), false);
    } finally {
      // Stopping flushes the log, which fails here; the data dir goes all the same.
      await broken.stop().catch(() => undefined);
      rmSync(broken.dataDir, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 3 });
