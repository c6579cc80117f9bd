/**
 * Approvals on SSH: an exec command a rule names waits in the gateway, the client reading why on stderr
 * (at once and every heartbeat), and runs on the target only once approved; a rejection ends it with exit
 * status 1 and the reviewer's reason. Real OpenSSH client and sshd through the gateway.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import type { OpenSsh } from '../support/openssh.js';
import { WatchedProcess, approvalIdIn, review, reviewerServer } from '../support/approvals.js';

let h: GatewayHarness;
let ssh: OpenSsh;
let reviewers: Awaited<ReturnType<typeof reviewerServer>>;
const made: string[] = [];

before(async () => {
  h = await GatewayHarness.start({
    ssh: true,
    approvals: { pollMillis: 20, rules: [{ name: 'touching-tmp', targets: ['web'], commands: ['touch /tmp/trailgate-apr-*'], quorum: 1, heartbeatSeconds: 0.2, timeoutSeconds: 60 }] },
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
});
