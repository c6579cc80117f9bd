/**
 * Plan and apply, and windows: the job asks ahead with `trailgate approvals request` (its CI token, through the
 * gateway's approvals API), waits with `trailgate approvals wait` without a database connection, and its apply
 * session (real psql through the gateway to real PostgreSQL) runs exactly the approved statements unheld; another
 * run, or one changed literal, is held. An approved window lifts a rule's hold for one run until it closes (the
 * gateway's clock is moved to close it). A secret in a held statement is masked in the record and in the store.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import { approvalIdIn, psqlThrough, review, reviewerServer, WatchedProcess } from '../support/approvals.js';
import { CLI } from '../support/trailgate-up.js';

let h: GatewayHarness;
let reviewers: Awaited<ReturnType<typeof reviewerServer>>;
let admin: pg.Client;
let gatewayUrl: string;
let caFile: string;
/** Moved forward to close an approved window. */
let clockOffset = 0;

const TABLES = 'apr_plan_a, apr_plan_b, apr_plan_other, apr_win';
const rule = { heartbeatSeconds: 0.2, timeoutSeconds: 60, inTransaction: 'hold' as const };

before(async () => {
  h = await GatewayHarness.start({
    targetVariants: { 'app-plan': {}, 'app-window': {}, 'app-short': {} },
    approvalsClock: () => Date.now() + clockOffset,
    approvals: {
      listen: { host: '127.0.0.1', port: 0 },
      pollMillis: 20,
      link: 'https://trailgate.example/replay',
      people: { carol: ['octocat'] },
      rules: [
        { name: 'two-person-ddl', targets: ['app-plan'], classes: ['ddl'], quorum: 2, ...rule },
        { name: 'writes', targets: ['app-window'], classes: ['write'], quorum: 1, ...rule },
        { name: 'short', targets: ['app-short'], classes: ['ddl'], quorum: 1, ...rule, timeoutSeconds: 0.5 },
      ],
    },
  });
  const api = h.gateway.approvals!.jobApi!;
  gatewayUrl = `https://127.0.0.1:${api.address.port}`;
  caFile = join(h.dataDir, 'tls', 'gateway.crt');
  reviewers = await reviewerServer(h.dataDir, { carol: ['octocat'] });
  admin = await h.directSuperuser();
  await admin.query(`drop table if exists ${TABLES}`);
  await admin.query(`create table apr_win (v text); grant all on apr_win to ${h.pg.appUser}`);
});

after(async () => {
  await admin?.query(`drop table if exists ${TABLES}`).catch(() => undefined);
  await admin?.end();
  await reviewers?.close();
  await h?.stop();
});

/** `trailgate approvals ...` as the job runs it: its token in TRAILGATE_TOKEN, the gateway's CA. */
function jobCli(token: string, args: string[]): WatchedProcess {
  return new WatchedProcess(
    spawn(process.execPath, [CLI, 'approvals', ...args, '--gateway', gatewayUrl, '--ca-file', caFile], { env: { ...process.env, TRAILGATE_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
}

async function requested(token: string, args: string[]): Promise<string> {
  const p = jobCli(token, ['request', ...args]);
  assert.equal(await p.exited, 0, p.lines.join('\n'));
  const id = p.stdout.trim();
  assert.match(id, /^apr_[A-Za-z0-9]+$/);
  return id;
}

async function exists(table: string): Promise<boolean> {
  const { rows } = await admin.query<{ t: string | null }>('select to_regclass($1)::text as t', [table]);
  return rows[0]!.t !== null;
}

/** A statement that must be held: its NOTICE comes, a reviewer rejects it, psql fails with 42501. */
async function heldAndRejected(psql: WatchedProcess, ruleName: string): Promise<void> {
  const id = approvalIdIn(await psql.waitFor(new RegExp(`approval apr_\\w+ required by rule ${ruleName}`)));
  assert.equal((await review(reviewers.url, 'alice', id, 'reject', 'not part of the plan')).status, 200);
  assert.notEqual(await psql.exited, 0, psql.lines.join('\n'));
  assert.ok(psql.lines.some((l) => /rejected by alice .*not part of the plan/.test(l)), psql.lines.join('\n'));
}

describe('plan and apply', () => {
  it('runs the approved statement set of this run unheld; another run or a changed literal is held', async () => {
    const token = await h.token();
    const file = join(h.dataDir, 'migrate.sql');
    writeFileSync(file, "-- release 12\ncreate table apr_plan_a (id int);\n\ncreate table apr_plan_b (\n  v text default 'x;  y' -- kept as written\n);\n");
    const requestSession = h.endedSession((ev) => ofType(ev, 'approval.requested').some((e) => e.data.kind === 'statement-set'));
    const id = await requested(token, ['--target', 'app-plan', '--file', file]);
    const asked = ofType(await requestSession, 'approval.requested')[0]!.data;
    assert.equal(asked.approvalId, id);
    assert.equal(asked.rule, 'two-person-ddl');
    assert.equal(asked.statements?.length, 2);

    const waitSession = h.endedSession((ev) => ofType(ev, 'approval.decided').some((e) => e.data.approvalId === id));
    const wait = jobCli(token, ['wait', id]);
    await wait.waitFor(new RegExp(`waiting for approval ${id} \\(0 of 2 approved\\)`));
    assert.equal((await review(reviewers.url, 'carol', id, 'approve')).status, 403, 'the run actor may not approve its own plan');
    assert.equal((await review(reviewers.url, 'alice', id, 'approve')).status, 200);
    await wait.waitFor(/\(1 of 2 approved\)/);
    assert.equal((await review(reviewers.url, 'bob', id, 'approve')).status, 200);
    assert.equal(await wait.exited, 0, wait.lines.join('\n'));
    assert.ok(wait.lines.some((l) => new RegExp(`approval ${id} approved by alice, bob`).test(l)), wait.lines.join('\n'));
    const waited = await waitSession;
    assert.deepEqual(ofType(waited, 'approval.reviewed').map((e) => [e.data.reviewer, e.data.counted]), [['carol', false], ['alice', true], ['bob', true]]);
    assert.equal(ofType(waited, 'approval.decided')[0]!.data.state, 'approved');

    // The apply session: psql runs the file; nothing is held.
    const applied = h.endedSession((ev) => ofType(ev, 'command.started').some((e) => e.data.text.includes('apr_plan_b')));
    const apply = psqlThrough(h.port, token, ['-f', file], 'app-plan');
    assert.equal(await apply.exited, 0, apply.lines.join('\n'));
    assert.ok(!apply.lines.some((l) => /required by rule/.test(l)), apply.lines.join('\n'));
    assert.equal(await exists('apr_plan_a'), true);
    assert.equal(await exists('apr_plan_b'), true);
    const started = ofType(await applied, 'command.started');
    assert.equal(started.length, 2);
    for (const c of started) assert.equal(c.data.approvalId, id, 'command.started names the approval that let it run');

    // One changed literal is another statement.
    await heldAndRejected(psqlThrough(h.port, token, ['-c', "create table apr_plan_other (v text default 'x;  z')"], 'app-plan'), 'two-person-ddl');
    // Another run, the same statement.
    await admin.query('drop table apr_plan_a');
    await heldAndRejected(psqlThrough(h.port, await h.token(), ['-c', 'create table apr_plan_a (id int);'], 'app-plan'), 'two-person-ddl');
    assert.equal(await exists('apr_plan_a'), false);
  });

  it('wait exits 3 on a rejection and 4 on expiry, with the reason; another run cannot wait on it', async () => {
    const token = await h.token();
    const file = join(h.dataDir, 'reject.sql');
    writeFileSync(file, 'create table apr_plan_other (id int);\n');
    const rejected = await requested(token, ['--target', 'app-plan', '--file', file]);
    const stranger = jobCli(await h.token(), ['wait', rejected]);
    assert.equal(await stranger.exited, 1);
    assert.ok(stranger.lines.some((l) => /TG_APPROVAL_UNKNOWN/.test(l)), stranger.lines.join('\n'));
    const wait = jobCli(token, ['wait', rejected]);
    await wait.waitFor(/waiting for approval/);
    assert.equal((await review(reviewers.url, 'bob', rejected, 'reject', 'needs a lock timeout')).status, 200);
    assert.equal(await wait.exited, 3, wait.lines.join('\n'));
    assert.ok(wait.lines.some((l) => /rejected by bob: needs a lock timeout \[TG_APPROVAL_REJECTED\]/.test(l)), wait.lines.join('\n'));

    const expiring = await requested(token, ['--target', 'app-short', '--file', file]);
    const expiry = jobCli(token, ['wait', expiring]);
    assert.equal(await expiry.exited, 4, expiry.lines.join('\n'));
    assert.ok(expiry.lines.some((l) => /expired without a decision.*TG_APPROVAL_EXPIRED/.test(l)), expiry.lines.join('\n'));
    assert.equal((await review(reviewers.url, 'alice', expiring, 'approve')).status, 409, 'an expired plan cannot be approved');
    assert.equal(await exists('apr_plan_other'), false);
  });

  it('refuses a request without a valid token, for a target its rules do not name, or with nothing a rule holds', async () => {
    const file = join(h.dataDir, 'reads.sql');
    writeFileSync(file, 'select 1;\n');
    const noToken = jobCli('not-a-token', ['request', '--target', 'app-plan', '--file', file]);
    assert.equal(await noToken.exited, 1);
    assert.ok(noToken.lines.some((l) => /token rejected.*TG_AUTH/.test(l)), noToken.lines.join('\n'));
    assert.ok(!noToken.lines.some((l) => l.includes('not-a-token')), 'the token is never printed');
    const reads = jobCli(await h.token(), ['request', '--target', 'app-plan', '--file', file]);
    assert.equal(await reads.exited, 1);
    assert.ok(reads.lines.some((l) => /TG_APPROVAL_NOT_NEEDED/.test(l)), reads.lines.join('\n'));
  });
});

describe('approval windows', () => {
  it("lets one run's held statements through while the window is open, and holds them again after it", async () => {
    const token = await h.token();
    const id = await requested(token, ['--target', 'app-window', '--window', '30m']);
    assert.equal((await review(reviewers.url, 'alice', id, 'approve')).status, 200);
    const wait = jobCli(token, ['wait', id]);
    assert.equal(await wait.exited, 0, wait.lines.join('\n'));
    assert.ok(wait.lines.some((l) => /the window is open until/.test(l)), wait.lines.join('\n'));

    const inWindow = h.endedSession((ev) => ofType(ev, 'command.started').some((e) => e.data.text.includes('in the window')));
    const insert = psqlThrough(h.port, token, ['-c', "insert into apr_win values ('in the window')"], 'app-window');
    assert.equal(await insert.exited, 0, insert.lines.join('\n'));
    assert.ok(!insert.lines.some((l) => /required by rule/.test(l)));
    assert.equal(ofType(await inWindow, 'command.started')[0]!.data.approvalId, id);

    await heldAndRejected(psqlThrough(h.port, await h.token(), ['-c', "insert into apr_win values ('another run')"], 'app-window'), 'writes');
    clockOffset = 31 * 60 * 1000;
    try {
      await heldAndRejected(psqlThrough(h.port, token, ['-c', "insert into apr_win values ('after the window')"], 'app-window'), 'writes');
    } finally {
      clockOffset = 0;
    }
    const { rows } = await admin.query<{ v: string }>('select v from apr_win order by v');
    assert.deepEqual(rows.map((r) => r.v), ['in the window']);
  });
});

describe('secrets in held statements', () => {
  it('masks a card number in approval.requested and in the approval store, in-line and planned', async () => {
    const card = '4111111111111111';
    const token = await h.token();
    const session = h.endedSession((ev) => ofType(ev, 'approval.requested').some((e) => e.data.text.includes('apr_win') && e.data.kind === 'statement'));
    const psql = psqlThrough(h.port, token, ['-c', `insert into apr_win values ('${card}')`], 'app-window');
    const id = approvalIdIn(await psql.waitFor(/required by rule writes/));
    assert.equal((await review(reviewers.url, 'bob', id, 'reject', 'no card numbers here')).status, 200);
    assert.notEqual(await psql.exited, 0);
    const events = await session;
    const asked = ofType(events, 'approval.requested')[0]!.data;
    assert.match(asked.text, /\[masked:card\]/);
    assert.deepEqual(asked.detectorHits, { card: 1 });
    assert.ok(!JSON.stringify(events).includes(card), 'no record of the session holds the card number');
    assert.ok(!JSON.stringify(await reviewers.store.get(id)).includes(card), "the store's copy is masked too");

    const file = join(h.dataDir, 'card.sql');
    writeFileSync(file, `insert into apr_win values ('${card}');\n`);
    const planned = await requested(token, ['--target', 'app-window', '--file', file]);
    const stored = await reviewers.store.get(planned);
    assert.ok(stored && !JSON.stringify(stored).includes(card), "the planned statement's stored text is masked");
    assert.match(stored.statements![0]!.text, /\[masked:card\]/);
    assert.match(stored.statements![0]!.textSha256, /^scrypt:[0-9a-f]{64}$/, 'a masked value cannot be found again from a fast digest');
    assert.doesNotMatch(asked.textSha256, new RegExp(createHash('sha256').update(`insert into apr_win values ('${card}')`).digest('hex')));

    // Approved, the statement with the secret still matches in the apply session.
    assert.equal((await review(reviewers.url, 'alice', planned, 'approve')).status, 200);
    const apply = psqlThrough(h.port, token, ['-c', `insert into apr_win values ('${card}')`], 'app-window');
    assert.equal(await apply.exited, 0, apply.lines.join('\n'));
    assert.ok(!apply.lines.some((l) => /required by rule/.test(l)), apply.lines.join('\n'));
    const { rows } = await admin.query<{ n: number }>('select count(*)::int as n from apr_win where v = $1', [card]);
    assert.equal(rows[0]!.n, 1);
  });
});

describe('the record', () => {
  it("verifies whole, the approvals API's sessions included", async () => {
    const apiSessions = h.gateway.log
      .listSessions(1000)
      .filter((s) => h.gateway.log.readSession(s.sessionId).some((r) => r.stream === 'events' && r.type === 'session.started' && (r.data as { clientSoftware?: string }).clientSoftware === 'trailgate approvals'))
      .map((s) => s.sessionId);
    assert.ok(apiSessions.length >= 8, `${apiSessions.length} approvals API sessions`);
    const report = await h.stopAndVerify();
    assert.deepEqual(report.sessions.filter((s) => s.status !== 'intact').map((s) => [s.sessionId, s.status]), []);
    assert.ok(apiSessions.every((id) => report.sessions.some((s) => s.sessionId === id)));
    assert.equal(report.ok, true);
  });
});
