/**
 * Approvals on Postgres: a statement a rule names waits in the gateway, with a NOTICE at once and a
 * heartbeat, until a quorum of distinct people approves it from the replay API; rejection, expiry,
 * cancel and disconnect each end it without the statement reaching the target. Real psql and the pg
 * driver (extended protocol with parameters) through the gateway to real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import { approvalIdIn, approvalsCli, psqlThrough, review, reviewerServer } from '../support/approvals.js';

let h: GatewayHarness;
let reviewers: Awaited<ReturnType<typeof reviewerServer>>;
let admin: pg.Client;

const rule = { quorum: 2, heartbeatSeconds: 0.2, timeoutSeconds: 60 };

before(async () => {
  h = await GatewayHarness.start({
    targetVariants: { 'app-held': {}, 'app-writes': {}, 'app-short': {}, 'app-strict-tx': {} },
    approvals: {
      pollMillis: 20,
      link: 'https://trailgate.example/replay',
      // carol is the GitHub user octocat, the actor of the test tokens.
      people: { carol: ['octocat'] },
      rules: [
        { name: 'two-person-ddl', targets: ['app-held'], classes: ['ddl'], inTransaction: 'hold', ...rule },
        { name: 'writes', targets: ['app-writes'], classes: ['write'], inTransaction: 'hold', ...rule, quorum: 1 },
        { name: 'short', targets: ['app-short'], classes: ['ddl'], ...rule, quorum: 1, timeoutSeconds: 0.3 },
        { name: 'no-hold-in-tx', targets: ['app-strict-tx'], classes: ['ddl'], ...rule },
      ],
    },
  });
  reviewers = await reviewerServer(h.dataDir, { carol: ['octocat'] });
  admin = await h.directSuperuser();
  await admin.query('drop table if exists apr_ddl, apr_expired, apr_cancelled, apr_gone, apr_rows, apr_tx_first');
  await admin.query(`create table apr_rows (v text); grant all on apr_rows to ${h.pg.appUser}`);
});

after(async () => {
  await admin?.query('drop table if exists apr_ddl, apr_expired, apr_cancelled, apr_gone, apr_rows, apr_tx_first').catch(() => undefined);
  await admin?.end();
  await reviewers?.close();
  await h?.stop();
});

async function exists(table: string): Promise<boolean> {
  const { rows } = await admin.query<{ t: string | null }>('select to_regclass($1)::text as t', [table]);
  return rows[0]!.t !== null;
}

async function arrivedAtTarget(marker: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where query like '%' || $1 || '%' and pid <> pg_backend_pid()", [marker]);
  return rows[0]!.n;
}

describe('approvals on Postgres', () => {
  it('holds DDL under a two-person rule until two distinct people approved; the run actor is refused with 403 and not counted', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'approval.requested').some((e) => e.data.text.includes('apr_ddl')));
    const psql = psqlThrough(h.port, await h.token(), ['-c', 'create table apr_ddl (id int)'], 'app-held');
    const first = await psql.waitFor(/NOTICE: +trailgate: approval apr_\w+ required by rule two-person-ddl \(2 approvers\).*https:\/\/trailgate\.example\/replay\/approvals\/apr_/);
    const id = approvalIdIn(first);
    await psql.waitFor(/still waiting for approval apr_\w+ \(0 of 2 approved\)/);
    assert.equal(await exists('apr_ddl'), false);
    assert.equal(await arrivedAtTarget('apr_ddl'), 0);

    const viewer = await review(reviewers.url, 'vic', id, 'approve');
    assert.equal(viewer.status, 403);
    assert.equal(viewer.body.code, 'TG_REPLAY_FORBIDDEN', 'a viewer is not an approver at all');
    const self = await review(reviewers.url, 'carol', id, 'approve');
    assert.equal(self.status, 403);
    assert.equal(self.body.code, 'TG_APPROVAL_SELF');
    const listed = await approvalsCli(reviewers.url, 'alice', ['list']);
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, new RegExp(`${id} +pending +app-held +two-person-ddl`));
    assert.equal((await review(reviewers.url, 'alice', id, 'approve')).status, 200);
    // alice twice is still one person.
    assert.equal((await review(reviewers.url, 'alice', id, 'approve')).status, 200);
    await psql.waitFor(/\(1 of 2 approved\)/);
    assert.equal(await exists('apr_ddl'), false, 'one approval of two lets nothing through');
    const bob = await approvalsCli(reviewers.url, 'bob', ['approve', id, '--reason', 'reviewed in PR 12']);
    assert.equal(bob.code, 0, bob.err);
    assert.equal(await psql.exited, 0, psql.lines.join('\n'));
    assert.equal(await exists('apr_ddl'), true);
    const late = await approvalsCli(reviewers.url, 'bob', ['approve', id]);
    assert.equal(late.code, 1);
    assert.match(late.err, /already approved.*TG_APPROVAL_DECIDED/);
    const shown = await approvalsCli(reviewers.url, 'alice', ['show', id]);
    assert.match(shown.out, /review +carol: approve \(not counted: self\)/);

    const approval = await reviewers.store.get(id);
    assert.equal(approval!.state, 'approved');
    assert.deepEqual(approval!.deciders, ['alice', 'bob']);
    const events = await ended;
    const requested = ofType(events, 'approval.requested')[0]!;
    assert.equal(requested.data.quorum, 2);
    assert.equal(requested.data.run.actor, 'octocat');
    assert.ok(requested.data.run.runId);
    const reviewed = ofType(events, 'approval.reviewed').map((e) => [e.data.reviewer, e.data.counted, e.data.refusedReason ?? null]);
    assert.deepEqual(reviewed, [['carol', false, 'self'], ['alice', true, null], ['alice', false, 'duplicate'], ['bob', true, null]]);
    const decided = ofType(events, 'approval.decided')[0]!;
    assert.equal(decided.data.state, 'approved');
    const started = ofType(events, 'command.started').find((c) => c.data.text.includes('apr_ddl'))!;
    assert.equal(started.data.approvalId, id);
    assert.ok(decided.seq < started.seq, 'the decision comes before the command starts');
    assert.equal(ofType(events, 'command.completed').find((c) => c.data.commandSeq === started.seq)!.data.outcome, 'ok');
  });

  it('holds an extended-protocol statement with its parameters, and a rejection fails the open transaction', async () => {
    const client = await h.client({ target: 'app-writes' });
    const notices: string[] = [];
    let noticed!: (id: string) => void;
    const firstNotice = new Promise<string>((r) => (noticed = r));
    client.on('notice', (n) => {
      notices.push(n.message ?? '');
      if (/required by rule/.test(n.message ?? '')) noticed(approvalIdIn(n.message!));
    });
    await client.query('begin');
    await client.query("select 'no write, not held'");
    const held = client.query('insert into apr_rows (v) values ($1), ($2)', ['held-1', null]).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    const id = await firstNotice;
    const shown = await (await fetch(`${reviewers.url}/api/approvals/${id}`, { headers: { authorization: 'Bearer alice-token-0123456789' } })).json() as { approval: { text: string; parameters: unknown[]; parametersSha256: string } };
    assert.equal(shown.approval.text, 'insert into apr_rows (v) values ($1), ($2)');
    assert.deepEqual(shown.approval.parameters, ['held-1', null]);
    assert.match(shown.approval.parametersSha256, /^[0-9a-f]{64}$/);
    assert.equal((await review(reviewers.url, 'bob', id, 'reject', 'not during the freeze')).status, 200);
    const err = await held;
    assert.equal(err?.code, '42501');
    assert.match(err!.message, /rejected by bob .*not during the freeze/);
    const commit = await client.query('commit');
    assert.equal(commit.command, 'ROLLBACK');
    const { rows } = await admin.query<{ n: number }>('select count(*)::int as n from apr_rows');
    assert.equal(rows[0]!.n, 0);
    await client.end();
  });

  it('runs exactly the held Parse/Bind once approved (pg driver, extended protocol)', async () => {
    const client = await h.client({ target: 'app-writes' });
    let noticed!: (id: string) => void;
    const firstNotice = new Promise<string>((r) => (noticed = r));
    client.on('notice', (n) => /required by rule/.test(n.message ?? '') && noticed(approvalIdIn(n.message!)));
    const held = client.query('insert into apr_rows (v) values ($1) returning v', ['approved-row']);
    const id = await firstNotice;
    assert.equal((await review(reviewers.url, 'alice', id, 'approve')).status, 200);
    const { rows } = await held;
    assert.deepEqual(rows, [{ v: 'approved-row' }]);
    const direct = await admin.query<{ n: number }>("select count(*)::int as n from apr_rows where v = 'approved-row'");
    assert.equal(direct.rows[0]!.n, 1, 'ran once');
    await client.end();
  });

  it('answers 57014 when nobody decides in time; a later approval gets 409', async () => {
    const psql = psqlThrough(h.port, await h.token(), ['-c', 'create table apr_expired (id int)'], 'app-short');
    const id = approvalIdIn(await psql.waitFor(/required by rule short/));
    assert.notEqual(await psql.exited, 0);
    assert.ok(psql.lines.some((l) => /ERROR: +trailgate: approval apr_\w+ expired/.test(l)), psql.lines.join('\n'));
    assert.equal((await review(reviewers.url, 'alice', id, 'approve')).status, 409);
    assert.equal((await reviewers.store.get(id))!.state, 'expired');
    assert.equal(await exists('apr_expired'), false);
  });

  it("withdraws a held statement on the client's cancel (psql Ctrl-C)", async () => {
    const psql = psqlThrough(h.port, await h.token(), ['-c', 'create table apr_cancelled (id int)'], 'app-held');
    const id = approvalIdIn(await psql.waitFor(/required by rule/));
    psql.child.kill('SIGINT');
    assert.notEqual(await psql.exited, 0);
    assert.ok(psql.lines.some((l) => /canceling statement due to user request; approval apr_\w+ withdrawn/.test(l)), psql.lines.join('\n'));
    assert.equal((await reviewers.store.get(id))!.state, 'withdrawn');
    assert.equal((await review(reviewers.url, 'alice', id, 'approve')).status, 409);
    assert.equal(await exists('apr_cancelled'), false);
  });

  it('abandons a held statement when the client disconnects', async () => {
    const client = await h.client({ target: 'app-held' });
    client.on('error', () => undefined);
    let noticed!: (id: string) => void;
    const firstNotice = new Promise<string>((r) => (noticed = r));
    client.on('notice', (n) => /required by rule/.test(n.message ?? '') && noticed(approvalIdIn(n.message!)));
    void client.query('create table apr_gone (id int)').catch(() => undefined);
    const id = await firstNotice;
    const ended = h.endedSession((ev) => ofType(ev, 'approval.requested').some((e) => e.data.approvalId === id));
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const events = await ended;
    const decided = ofType(events, 'approval.decided')[0]!;
    assert.equal(decided.data.state, 'abandoned');
    assert.ok(decided.seq < ofType(events, 'session.ended')[0]!.seq);
    assert.equal((await review(reviewers.url, 'alice', id, 'approve')).status, 409);
    assert.equal(await exists('apr_gone'), false);
  });

  it('refuses at once, with a hint, a held statement inside an open transaction when the rule does not allow it', async () => {
    const client = await h.client({ target: 'app-strict-tx' });
    await client.query('begin');
    await assert.rejects(client.query('create table apr_tx_first (id int)'), (e: { code?: string; hint?: string; message: string }) => {
      assert.equal(e.code, '25001');
      assert.match(e.message, /TG_APPROVAL_IN_TRANSACTION/);
      assert.match(e.hint ?? '', /trailgate approvals request/);
      return true;
    });
    await client.query('rollback');
    // Statements no rule names pass as before.
    assert.equal((await client.query('select 1 as one')).rows[0].one, 1);
    await client.end();
  });
});
