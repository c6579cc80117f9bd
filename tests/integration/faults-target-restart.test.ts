/**
 * The targets fail mid-session: the test's PostgreSQL restarted (pg_ctl restart -m fast) while a
 * statement runs, and a dedicated sshd killed (SIGKILL, listener and session processes) while a command
 * runs. The client is told in its own protocol, the session is recorded as ended by the target with the
 * reason, the next session works once the target is back, and every recording verifies intact.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import { GatewayHarness, ofType, sessionOf } from '../support/gateway-harness.js';
import { descendants } from '../support/process-tree.js';
import { startSshdVariant, type SshdVariant } from '../support/sshd-variant.js';
import { requiredEnv, sshService } from '../support/test-env.js';

const exec = promisify(execFile);
let h: GatewayHarness;
let sshd: SshdVariant;

/** pg_ctl as the cluster's owner (the suite runs as root in CI). */
async function restartPostgres(): Promise<void> {
  const pgCtl = `${requiredEnv('TG_PG_BINDIR')}/pg_ctl`;
  const args = ['restart', '-D', requiredEnv('TG_PG_DATADIR'), '-l', requiredEnv('TG_PG_LOG_FILE'), '-m', 'fast', '-w', '-t', '60'];
  if (process.getuid?.() === 0) await exec('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { cwd: '/' });
  else await exec(pgCtl, args);
}

before(async () => {
  sshd = await startSshdVariant('LANG LC_*');
  const base = sshService();
  const victim = { kind: 'ssh', host: base.host, port: sshd.port, user: base.user, privateKey: { file: base.keyFile }, hostKey: readFileSync(base.hostKeyFile, 'utf8') };
  h = await GatewayHarness.start({ ssh: true, sshTargets: { victim } });
});
after(async () => {
  await h?.stop();
  await sshd?.stop();
});

describe('the target PostgreSQL restarted mid-statement', () => {
  it('ends the statement with the server\'s 57P01, records the session as ended by the target, and serves the next one', async () => {
    const client = await h.client();
    client.on('error', () => undefined);
    const session = await sessionOf(h, client);
    const running = client.query('select pg_sleep(60)').then(
      () => assert.fail('the statement outlived the server'),
      (e: unknown) => e as { code?: string; message: string },
    );
    // The statement is on its way (strict recording: its event is on disk first) before the restart.
    for (let i = 0; i < 100 && !ofType(await h.events(session), 'command.started').some((e) => e.data.text.includes('pg_sleep')); i++) await new Promise((r) => setTimeout(r, 20));
    const ending = h.endedSession((events) => events[0]!.sessionId === session);
    await restartPostgres();
    const err = await running;
    assert.equal(err.code, '57P01', `the client hears the server's own reason: ${err.message}`);
    const ended = await ending;
    assert.equal(ofType(ended, 'session.ended')[0]!.data.reason, 'target-disconnected');
    const sleep = ofType(ended, 'command.completed').at(-1)!;
    assert.equal(sleep.data.outcome, 'error');

    const next = await h.client();
    assert.deepEqual((await next.query('select 41 + 1 as n')).rows, [{ n: 42 }]);
    await next.end();
  });
});

describe('the target sshd killed mid-command', () => {
  it('tells the client on stderr and exits non-zero, and records the session as ended by the target', async () => {
    const ssh = h.openssh();
    const child = ssh.spawn(['victim@127.0.0.1', 'echo started; sleep 60'], await h.token());
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const started = new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => ((stdout += d.toString()), stdout.includes('started') && resolve())));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await started;
    const ending = h.endedSession((events) => ofType(events, 'command.started').some((e) => e.data.text.includes('sleep 60')));
    for (const pid of [sshd.pid, ...descendants(sshd.pid)]) process.kill(pid, 'SIGKILL');
    const code = await exited;
    assert.notEqual(code, 0);
    assert.match(stderr, /TG_TARGET_DISCONNECTED/);
    const ended = await ending;
    const end = ofType(ended, 'session.ended')[0]!;
    assert.equal(end.data.reason, 'target-disconnected');
    const completed = ofType(ended, 'command.completed')[0]!;
    assert.equal(completed.data.outcome, 'error');
    assert.match(completed.data.error ?? '', /target-disconnected/);
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 3 });
