/**
 * The policy end to end: the token's claims decide the target and the rights at connect time, the
 * PostgreSQL parser decides what each statement needs, and both decisions are in the record.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { GatewayHarness, ofType, sessionOf } from '../support/gateway-harness.js';

let h: GatewayHarness;

before(async () => {
  h = await GatewayHarness.start({
    rules: [
      { name: 'payments-deploy', repository: 'acme/payments', ref: 'refs/heads/main', targets: ['app'], rights: ['read', 'write', 'transaction', 'session'] },
      { name: 'acme-read', repositoryOwner: 'acme', targets: ['app'], rights: ['read', 'transaction', 'session'] },
    ],
  });
  const admin = await h.directSuperuser();
  await admin.query('create table if not exists policy_probe (id int)');
  await admin.query('grant all on policy_probe to trailgate_app');
  await admin.end();
});
after(async () => {
  await h.stop();
});

const isDenied = (missing: string) => (e: { code?: string; message: string }) => e.code === '42501' && e.message.includes(`'${missing}'`) && e.message.includes('TG_POLICY_DENIED');

describe('policy', () => {
  it('lets the deploy job write on main, refuses DDL it was not granted, and records both decisions', async () => {
    const client = await h.client({ token: await h.token({ repository: 'acme/payments', ref: 'refs/heads/main' }) });
    const sessionId = await sessionOf(h, client);
    await client.query('insert into policy_probe values ($1)', [1]);
    await assert.rejects(client.query('create table policy_new (id int)'), isDenied('ddl'));
    const { rows } = await client.query('select count(*)::int as n from policy_probe');
    assert.ok(rows[0].n >= 1, 'the connection stays usable after a denial');
    await client.end();

    const events = await h.events(sessionId);
    const decided = ofType(events, 'policy.decided')[0]!;
    assert.equal(decided.data.outcome, 'granted');
    assert.deepEqual(decided.data.matched.map((m) => m.rule).sort(), ['acme-read', 'payments-deploy']);
    const insert = ofType(events, 'command.started').find((c) => c.data.text.startsWith('insert'))!;
    assert.equal(insert.data.decision?.outcome, 'allowed');
    assert.deepEqual(insert.data.decision?.needs, ['write']);
    assert.deepEqual(insert.data.decision?.rules, ['payments-deploy']);
    const ddl = ofType(events, 'command.started').find((c) => c.data.text.startsWith('create table'))!;
    assert.equal(ddl.data.decision?.outcome, 'denied');
    assert.deepEqual(ddl.data.decision?.missing, ['ddl']);
    assert.equal(ofType(events, 'command.completed').find((c) => c.data.commandSeq === ddl.seq)!.data.outcome, 'denied');
  });

  it('gives a feature branch read only: writes are denied, in the extended protocol too', async () => {
    const client = await h.client({ token: await h.token({ repository: 'acme/payments', ref: 'refs/heads/feature/x' }) });
    await client.query('select * from policy_probe where id = $1', [1]);
    await assert.rejects(client.query('delete from policy_probe where id = $1', [1]), isDenied('write'));
    await assert.rejects(client.query('with gone as (delete from policy_probe returning *) select count(*) from gone'), isDenied('write'));
    await assert.rejects(client.query('select 1; delete from policy_probe'), isDenied('write'));
    await client.query('begin');
    await client.query('select 1');
    await client.query('commit');
    await client.end();
  });

  it('refuses the connection when no rule grants the target, naming why each rule did not apply', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'policy.decided')[0]?.data.outcome === 'denied');
    const client = new pg.Client({ host: '127.0.0.1', port: h.port, database: 'app', user: 'ci', password: await h.token({ repository: 'acme-evil/payments' }) });
    await assert.rejects(client.connect(), (e: { code?: string; message: string }) => e.code === '42501' && /no policy rule grants acme-evil\/payments access to target 'app'/.test(e.message));
    await client.end().catch(() => undefined);
    const events = await ended;
    const decided = ofType(events, 'policy.decided')[0]!;
    assert.deepEqual(decided.data.rights, []);
    const reasons = Object.fromEntries(decided.data.notMatched.map((n) => [n.rule, n.reason]));
    assert.match(reasons['payments-deploy']!, /acme-evil\/payments/);
    assert.match(reasons['acme-read']!, /acme-evil/);
    assert.equal(ofType(events, 'session.ended')[0]!.data.reason, 'policy-denied');
  });

  it('refuses a statement the gateway cannot parse with 42601 instead of guessing', async () => {
    const client = await h.client({ token: await h.token({ repository: 'acme/payments', ref: 'refs/heads/main' }) });
    await assert.rejects(client.query('selec 1 frm nowhere'), (e: { code?: string; message: string }) => e.code === '42601' && /TG_POLICY_UNPARSABLE/.test(e.message));
    const { rows } = await client.query('select 1 as fine');
    assert.equal(rows[0].fine, 1);
    await client.end();
  });
});
