/**
 * Approvals on SSH: an exec command a rule names waits in the gateway, the client reading why on stderr
 * (at once and every heartbeat), and runs on the target only once approved; a rejection ends it with exit
 * status 1 and the reviewer's reason. Real OpenSSH client and sshd through the gateway.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import type { OpenSsh } from '../support/openssh.js';
import { WatchedProcess, approvalIdIn, review, reviewerServer } from '../support/approvals.js';
import { CLI } from '../support/trailgate-up.js';

let h: GatewayHarness;
let ssh: OpenSsh;
let reviewers: Awaited<ReturnType<typeof reviewerServer>>;
const made: string[] = [];
/** Moved forward to close an approved window. */
let clockOffset = 0;

before(async () => {
  h = await GatewayHarness.start({
    ssh: true,
    approvalsClock: () => Date.now() + clockOffset,
    approvals: { pollMillis: 20, listen: { host: '127.0.0.1', port: 0 }, rules: [{ name: 'touching-tmp', targets: ['web'], commands: ['touch /tmp/trailgate-apr-*'], quorum: 1, heartbeatSeconds: 0.2, timeoutSeconds: 60 }] },
  });
  ssh = h.openssh();
  reviewers = await reviewerServer(h.dataDir, {});
});

after(async () => {
  for (const f of made) rmSync(f, { force: true });
  await reviewers?.close();
  await h?.stop();
});

function marker(): string {
  const f = `/tmp/trailgate-apr-${randomBytes(6).toString('hex')}`;
  made.push(f);
  return f;
}

describe('approvals on SSH exec', () => {
  it('holds the command until approved, telling the client on stderr, then runs it once', async () => {
    const file = marker();
    const ended = h.endedSession((ev) => ofType(ev, 'command.started').some((c) => c.data.text === `touch ${file}`));
    const client = new WatchedProcess(ssh.spawn(['web@127.0.0.1', `touch ${file}`], await h.token()));
    const id = approvalIdIn(await client.waitFor(/trailgate: approval apr_\w+ required by rule touching-tmp/));
    await client.waitFor(/still waiting for approval/);
    assert.equal(existsSync(file), false, 'nothing ran while held');
    assert.equal((await review(reviewers.url, 'alice', id, 'approve')).status, 200);
    assert.equal(await client.exited, 0, client.lines.join('\n'));
    assert.equal(existsSync(file), true);
    const events = await ended;
    assert.equal(ofType(events, 'approval.decided')[0]!.data.state, 'approved');
    assert.equal(ofType(events, 'command.started')[0]!.data.approvalId, id);
  });

  it('ends a rejected command with exit status 1 and the reason, and never runs it', async () => {
    const file = marker();
    const client = new WatchedProcess(ssh.spawn(['web@127.0.0.1', `touch ${file}`], await h.token()));
    const id = approvalIdIn(await client.waitFor(/required by rule touching-tmp/));
    assert.equal((await review(reviewers.url, 'bob', id, 'reject', 'use the deploy pipeline')).status, 200);
    assert.equal(await client.exited, 1);
    assert.ok(client.lines.some((l) => /not run: rejected by bob .*use the deploy pipeline \[TG_APPROVAL_REJECTED\]/.test(l)), client.lines.join('\n'));
    assert.equal(existsSync(file), false);
  });

  it('lets commands no rule names run without waiting', async () => {
    const r = await ssh.ssh(['web@127.0.0.1', 'echo not-held'], { token: await h.token() });
    assert.equal(r.code, 0);
    assert.equal(r.stdout.toString().trim(), 'not-held');
  });

  it("an approved window lets the run's held commands run until it closes", async () => {
    const token = await h.token();
    const job = (args: string[]) =>
      new WatchedProcess(
        spawn(process.execPath, [CLI, 'approvals', ...args, '--gateway', `https://127.0.0.1:${h.gateway.approvals!.jobApi!.address.port}`, '--ca-file', join(h.dataDir, 'tls', 'gateway.crt')], {
          env: { ...process.env, TRAILGATE_TOKEN: token },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
    const request = job(['request', '--target', 'web', '--window', '10m']);
    assert.equal(await request.exited, 0, request.lines.join('\n'));
    const id = request.stdout.trim();
    assert.equal((await review(reviewers.url, 'alice', id, 'approve')).status, 200);
    const wait = job(['wait', id]);
    assert.equal(await wait.exited, 0, wait.lines.join('\n'));

    const file = marker();
    const ended = h.endedSession((ev) => ofType(ev, 'command.started').some((c) => c.data.text === `touch ${file}`));
    const inWindow = new WatchedProcess(ssh.spawn(['web@127.0.0.1', `touch ${file}`], token));
    assert.equal(await inWindow.exited, 0, inWindow.lines.join('\n'));
    assert.equal(existsSync(file), true);
    assert.ok(!inWindow.lines.some((l) => /required by rule/.test(l)));
    assert.equal(ofType(await ended, 'command.started')[0]!.data.approvalId, id);

    const late = marker();
    clockOffset = 11 * 60 * 1000;
    try {
      const after = new WatchedProcess(ssh.spawn(['web@127.0.0.1', `touch ${late}`], token));
      const held = approvalIdIn(await after.waitFor(/required by rule touching-tmp/));
      assert.equal((await review(reviewers.url, 'bob', held, 'reject', 'the window closed')).status, 200);
      assert.equal(await after.exited, 1);
    } finally {
      clockOffset = 0;
    }
    assert.equal(existsSync(late), false);
  });
});
