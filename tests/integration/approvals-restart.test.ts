/**
 * Nothing held survives the gateway: a gateway that stops answers its held statements and marks them
 * abandoned, and one that restarts after a crash marks what it had pending abandoned before it listens,
 * so a late approval releases nothing (409).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteApprovalStore } from '../../services/approvals/sqlite-approval-store.js';
import type { Approval } from '../../services/approvals/approval.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { approvalIdIn, review, reviewerServer } from '../support/approvals.js';

const dataDir = mkdtempSync(join(tmpdir(), 'trailgate-approvals-restart-'));
const approvals = { pollMillis: 20, rules: [{ name: 'ddl', targets: ['app-held'], classes: ['ddl'], quorum: 1, heartbeatSeconds: 5, timeoutSeconds: 60 }] };

after(() => rmSync(dataDir, { recursive: true, force: true }));

describe('approvals across gateway restarts', () => {
  it('answers a held statement when the gateway stops, and nothing runs', async () => {
    const h = await GatewayHarness.start({ dataDir, targetVariants: { 'app-held': {} }, approvals });
    const client = await h.client({ target: 'app-held' });
    client.on('error', () => undefined);
    let noticed!: (id: string) => void;
    const firstNotice = new Promise<string>((r) => (noticed = r));
    client.on('notice', (n) => /required by rule/.test(n.message ?? '') && noticed(approvalIdIn(n.message!)));
    const held = client.query('create table apr_restart (id int)').then(
      () => null,
      (e: Error) => e,
    );
    const id = await firstNotice;
    await h.stop();
    assert.ok(await held, 'the client gets an error, not a result');
    const store = new SqliteApprovalStore(join(dataDir, 'trailgate.db'));
    assert.equal((await store.get(id))!.state, 'abandoned');
    await store.close();
    const admin = await h.directSuperuser();
    assert.equal((await admin.query("select to_regclass('apr_restart') as t")).rows[0].t, null);
    await admin.end();
  });

  it('marks what a crashed run left pending abandoned at the next start; a late approval gets 409', async () => {
    // What a gateway killed mid-hold leaves behind: a pending approval of its instance.
    const store = new SqliteApprovalStore(join(dataDir, 'trailgate.db'));
    const left: Approval = {
      id: 'apr_leftbycrash0000000',
      rule: 'ddl',
      target: 'app-held',
      kind: 'statement',
      text: 'create table apr_crash (id int)',
      textSha256: '0'.repeat(64),
      run: { runId: '1' },
      identity: { issuer: 'x', issuerName: 'dev', profile: 'github', subject: 's', expiresAt: new Date().toISOString(), ci: {} },
      quorum: 1,
      approvers: { roles: ['approver'], users: [] },
      allowSelfApproval: false,
      sessionId: 'lost',
      instance: 'test-gw',
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      state: 'pending',
      deciders: [],
    };
    await store.open(left);
    await store.close();
    const h = await GatewayHarness.start({ dataDir, targetVariants: { 'app-held': {} }, approvals });
    const reviewers = await reviewerServer(dataDir, {});
    try {
      assert.deepEqual(h.gateway.approvals!.abandoned, [left.id]);
      assert.equal((await reviewers.store.get(left.id))!.state, 'abandoned');
      assert.equal((await review(reviewers.url, 'alice', left.id, 'approve')).status, 409);
    } finally {
      await reviewers.close();
      await h.stop();
    }
  });
});
