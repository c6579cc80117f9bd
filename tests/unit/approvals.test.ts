import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { normalisedText, parametersDigest, tally, type Approval } from '../../services/approvals/approval.js';
import { ApprovalsConfig } from '../../services/approvals/config.js';
import { submitReview } from '../../services/approvals/reviewing.js';
import { SqliteApprovalStore } from '../../services/approvals/sqlite-approval-store.js';
import { webhookSignature } from '../../services/approvals/webhook.js';

const dir = mkdtempSync(join(tmpdir(), 'trailgate-approvals-unit-'));
const store = new SqliteApprovalStore(join(dir, 'approvals.db'));
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function pending(o: Partial<Approval> = {}): Promise<Approval> {
  const a: Approval = {
    id: `apr_unit${n++}`,
    rule: 'r',
    target: 'app',
    kind: 'statement',
    text: 'drop table t',
    textSha256: '0'.repeat(64),
    run: { repository: 'acme/app', runId: '1', runAttempt: '1', actor: 'octocat' },
    identity: { issuer: 'i', issuerName: 'dev', profile: 'github', subject: 's', expiresAt: new Date().toISOString(), ci: {} },
    quorum: 2,
    approvers: { roles: ['approver'], users: ['dana'] },
    allowSelfApproval: false,
    sessionId: 's',
    instance: 'gw',
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    state: 'pending',
    deciders: [],
    ...o,
  };
  await store.open(a);
  return a;
}

describe('approval rules and reviews', () => {
  it('refuses a rule that holds nothing, and defaults to refusing inside transactions without self-approval', () => {
    assert.throws(() => ApprovalsConfig.parse({ rules: [{ name: 'x', targets: ['a'] }] }), /classes \(Postgres\) or commands \(SSH\)/);
    const rule = ApprovalsConfig.parse({ rules: [{ name: 'x', targets: ['a'], classes: ['ddl'] }] }).rules[0]!;
    assert.equal(rule.inTransaction, 'refuse');
    assert.equal(rule.allowSelfApproval, false);
    assert.equal(rule.quorum, 1);
  });

  it('binds to the statement: whitespace does not matter, one literal or parameter does', () => {
    assert.equal(normalisedText('\n  alter table t add c int ; '), normalisedText('alter table t add c int'));
    assert.notEqual(normalisedText("select 'a  b'"), normalisedText("select 'a b'"));
    assert.notEqual(normalisedText("select 'a'"), normalisedText("select 'b'"));
    assert.equal(parametersDigest(undefined), undefined);
    assert.notEqual(parametersDigest(['1']), parametersDigest(['2']));
    assert.notEqual(parametersDigest([null]), parametersDigest(['']));
  });

  it('counts distinct people only, and a counted rejection decides', () => {
    const at = '2030-01-01T00:00:00Z';
    const t = tally([
      { approvalId: 'a', reviewer: 'x', verdict: 'approve', counted: true, at },
      { approvalId: 'a', reviewer: 'x', verdict: 'approve', counted: true, at },
      { approvalId: 'a', reviewer: 'y', verdict: 'approve', counted: false, refusedReason: 'self', at },
    ]);
    assert.deepEqual(t.approvers, ['x']);
    assert.equal(t.rejectedBy, undefined);
    assert.equal(tally([{ approvalId: 'a', reviewer: 'z', verdict: 'reject', counted: true, at }]).rejectedBy?.reviewer, 'z');
  });

  it('refuses self-approval (recorded, not counted) unless the rule allows it, which the review then says', async () => {
    const a = await pending();
    const self = await submitReview(store, { carol: ['octocat'] }, a.id, { name: 'carol', roles: ['approver'] }, 'approve', undefined);
    assert.equal(self.status, 403);
    assert.equal(self.code, 'TG_APPROVAL_SELF');
    assert.deepEqual((await store.reviews(a.id)).map((r) => [r.reviewer, r.counted, r.refusedReason]), [['carol', false, 'self']]);
    const allowed = await pending({ allowSelfApproval: true });
    const ok = await submitReview(store, { carol: ['octocat'] }, allowed.id, { name: 'carol', roles: ['approver'] }, 'approve', undefined);
    assert.equal(ok.status, 200);
    assert.equal(ok.review?.selfApproval, true);
    assert.equal(ok.review?.counted, true);
  });

  it('takes approvers by role or by name, refuses others, and answers 409 once decided and 404 for unknown ids', async () => {
    const a = await pending();
    assert.equal((await submitReview(store, {}, a.id, { name: 'dana', roles: [] }, 'approve', undefined)).status, 200);
    const other = await submitReview(store, {}, a.id, { name: 'eve', roles: ['admin'] }, 'approve', undefined);
    assert.equal(other.status, 403);
    assert.equal(other.code, 'TG_APPROVAL_NOT_ELIGIBLE');
    await store.settle(a.id, 'expired', []);
    assert.equal((await submitReview(store, {}, a.id, { name: 'dana', roles: [] }, 'approve', undefined)).status, 409);
    assert.equal((await submitReview(store, {}, 'apr_none', { name: 'dana', roles: [] }, 'approve', undefined)).status, 404);
  });

  it('signs the timestamp with the body', () => {
    const s = webhookSignature('k', '1700000000', '{"a":1}');
    assert.match(s, /^sha256=[0-9a-f]{64}$/);
    assert.notEqual(s, webhookSignature('k', '1700000001', '{"a":1}'));
    assert.notEqual(s, webhookSignature('k', '1700000000', '{"a":2}'));
  });
});

describe('statement text of a plan', () => {
  it('ignores comments and whitespace outside literals, never inside them', async () => {
    const { normalisedStatement } = await import('../../services/approvals/statement-text.js');
    const { splitStatements } = await import('../../services/approvals/statement-split.js');
    const { loadModule } = await import('libpg-query');
    await loadModule();
    assert.equal(normalisedStatement('-- release 12\ncreate  table a (\n  id int /* key */\n);'), 'create table a ( id int )');
    assert.equal(normalisedStatement("select 'a -- not a comment'"), "select 'a -- not a comment'");
    assert.notEqual(normalisedStatement("select 'a  b'"), normalisedStatement("select 'a b'"));
    assert.notEqual(normalisedStatement("select E'x\\'  -- y'"), normalisedStatement("select E'x\\' -- y'"));
    assert.notEqual(normalisedStatement('select $f$ a  b $f$'), normalisedStatement('select $f$ a b $f$'));
    assert.notEqual(normalisedStatement('select "a  b" from t'), normalisedStatement('select "a b" from t'));
    assert.equal(normalisedStatement('select $1, a$b from t'), 'select $1, a$b from t');
    const file = "-- plan\ncreate table a (v text default 'x; y');\ndo $$ begin perform 1; end $$;\n\n";
    assert.deepEqual(splitStatements(file).map(normalisedStatement), ["create table a (v text default 'x; y')", 'do $$ begin perform 1; end $$']);
    assert.throws(() => splitStatements('create tabel a ();'), /TG_APPROVAL_SQL|do not parse/);
  });
});
