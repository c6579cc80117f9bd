/**
 * Client environment variables on SSH targets: on an exec-only rule with a command pattern, loader and
 * shell start-up variables never reach a host whose sshd accepts every variable (AcceptEnv *), so the
 * allowed command runs as written and nothing else; every env request is recorded with its outcome;
 * and the host's own refusal of a variable reaches the client.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { EventRecord } from '../../events/index.js';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import type { OpenSsh } from '../support/openssh.js';
import { startSshdVariant, type SshdVariant } from '../support/sshd-variant.js';
import { requiredEnv, sshService } from '../support/test-env.js';

const exec = promisify(execFile);
let open: SshdVariant;
let strict: SshdVariant;
let h: GatewayHarness;
let ssh: OpenSsh;
const dir = mkdtempSync(join(tmpdir(), 'trailgate-env-'));
const marker = join(dir, 'startup-script-ran');
const script = join(dir, 'startup.sh');

before(async () => {
  writeFileSync(script, `touch ${marker}\n`);
  chmodSync(script, 0o755);
  open = await startSshdVariant('*');
  strict = await startSshdVariant('LANG');
  const sshd = sshService();
  const target = (port: number) => ({ kind: 'ssh', host: sshd.host, port, user: sshd.user, privateKey: { file: sshd.keyFile }, hostKey: readFileSync(sshd.hostKeyFile, 'utf8') });
  h = await GatewayHarness.start({
    ssh: true,
    sshTargets: { 'env-open': target(open.port), 'env-strict': target(strict.port), 'env-open-shell': target(open.port) },
    rules: [
      {
        name: 'deploy-exec',
        issuers: ['dev'],
        repository: 'acme/payments',
        targets: ['env-open', 'env-strict'],
        rights: ['exec'],
        commands: ['echo deploy *'],
        env: ['LANG', 'LC_*', 'TERM', 'MY_VAR', 'MY_SECRET'],
        maskEnv: ['MY_SECRET'],
      },
      { name: 'operator-shell', issuers: ['dev'], repository: 'acme/payments', targets: ['env-open-shell'], rights: ['shell', 'exec'] },
    ],
  });
  ssh = h.openssh();
});
after(async () => {
  await h?.stop();
  await open?.stop();
  await strict?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const HOSTILE = [`BASH_ENV=${script}`, 'LD_PRELOAD=/nonexistent/trailgate-preload.so', `ENV=${script}`, `PATH=${dir}`];

async function run(target: string, command: string, setEnv: string[]): Promise<{ code: number | null; stdout: string; stderr: string; events: EventRecord[] }> {
  const ended = h.endedSession((ev) => ofType(ev, 'command.started')[0]?.data.text === command && ofType(ev, 'session.started')[0]?.data.requested.user === target);
  const r = await ssh.ssh([`${target}@127.0.0.1`, command], { token: await h.token(), options: ['-o', `SetEnv=${setEnv.join(' ')}`] });
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr, events: await ended };
}

describe('environment on an exec-only rule', () => {
  it('runs the allowed command as written, with none of BASH_ENV, LD_PRELOAD, ENV or PATH, each refusal recorded', async () => {
    rmSync(marker, { force: true });
    const r = await run('env-open', 'echo deploy v1', [...HOSTILE, 'LANG=C.UTF-8', 'MY_VAR=visible', 'MY_SECRET=hunter2-not-recorded']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deploy v1\n');
    assert.equal(existsSync(marker), false, 'the BASH_ENV/ENV script did not run');
    const env = ofType(r.events, 'environment.requested').map((e) => e.data);
    const byName = new Map(env.map((d) => [d.name, d]));
    for (const name of ['BASH_ENV', 'LD_PRELOAD', 'ENV', 'PATH']) {
      const d = byName.get(name);
      assert.equal(d?.outcome, 'refused', `${name} refused`);
      assert.match(d!.reason!, /relayed only on rules granting shell or all/);
      assert.ok(d!.value, `${name}'s value is recorded`);
    }
    assert.deepEqual(byName.get('LANG'), { channel: 0, name: 'LANG', value: 'C.UTF-8', outcome: 'accepted', rules: ['deploy-exec'] });
    assert.deepEqual(byName.get('MY_VAR'), { channel: 0, name: 'MY_VAR', value: 'visible', outcome: 'accepted', rules: ['deploy-exec'] });
    assert.deepEqual(byName.get('MY_SECRET'), { channel: 0, name: 'MY_SECRET', masked: true, outcome: 'accepted', rules: ['deploy-exec'] });
    assert.ok(!JSON.stringify(r.events).includes('hunter2-not-recorded'), 'a masked value is not recorded');
    // Recorded before the command they would have applied to.
    const started = ofType(r.events, 'command.started')[0]!;
    assert.ok(ofType(r.events, 'environment.requested').every((e) => e.seq < started.seq));
  });

  it('relays the allowed variables the host accepts to the command', async () => {
    const r = await run('env-open', 'echo deploy marker', ['LANG=C.UTF-8', 'LC_MESSAGES=C']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      ofType(r.events, 'environment.requested').map((e) => [e.data.name, e.data.outcome]),
      [
        ['LANG', 'accepted'],
        ['LC_MESSAGES', 'accepted'],
      ],
    );
  });

  it('does relay BASH_ENV on a rule that grants shell, where the host runs it: the exec-only refusal is what stops it', async () => {
    rmSync(marker, { force: true });
    const r = await run('env-open-shell', 'true', [`BASH_ENV=${script}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(marker), true, 'this host runs a BASH_ENV script when it gets one');
    assert.equal(ofType(r.events, 'environment.requested')[0]!.data.outcome, 'accepted');
  });
});

describe("the host's answer reaches the client", () => {
  it('records a variable the host refuses (AcceptEnv LANG) as target-refused', async () => {
    const r = await run('env-strict', 'echo deploy strict', ['LANG=C.UTF-8', 'LC_ALL=C']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      ofType(r.events, 'environment.requested').map((e) => [e.data.name, e.data.outcome]),
      [
        ['LANG', 'accepted'],
        ['LC_ALL', 'target-refused'],
      ],
    );
  });

  it("answers a client that asks for replies (Go's x/crypto/ssh) with the host's own answer, in order", async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'session.started')[0]?.data.requested.user === 'env-strict' && ofType(ev, 'environment.requested').length === 3);
    const { stdout } = await exec(requiredEnv('TG_CLIENT_SSH_SETENV'), [`127.0.0.1:${h.gateway.ssh!.address.port}`, 'env-strict', 'echo deploy replies', 'LANG=C.UTF-8', 'LC_ALL=C', 'LD_PRELOAD=/x.so'], {
      env: { ...process.env, TRAILGATE_TOKEN: await h.token(), TRAILGATE_HOST_KEY: h.gateway.ssh!.hostKey.publicKey },
    });
    const result = JSON.parse(stdout) as { env: { name: string; accepted: boolean }[]; stdout: string; exit: number };
    assert.deepEqual(
      result.env.map((e) => [e.name, e.accepted]),
      [
        ['LANG', true],
        ['LC_ALL', false],
        ['LD_PRELOAD', false],
      ],
      'accepted by the host; refused by the host; refused by the gateway',
    );
    assert.deepEqual([result.stdout, result.exit], ['deploy replies\n', 0]);
    const events = await ended;
    assert.deepEqual(
      ofType(events, 'environment.requested').map((e) => [e.data.name, e.data.outcome]),
      [
        ['LANG', 'accepted'],
        ['LC_ALL', 'target-refused'],
        ['LD_PRELOAD', 'refused'],
      ],
    );
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 5 });
