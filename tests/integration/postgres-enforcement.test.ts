/**
 * Rights that cannot be talked around: a read-only job stays read-only in the database itself, user code that a
 * statement reaches through the target's catalogue needs the `function` right, and EXECUTE is judged by what
 * the session prepared. Every object of hidden user code here is created through a session with `all`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { GatewayHarness, ofType, sessionOf } from '../support/gateway-harness.js';
import { errorFields, RawPgClient } from '../support/raw-pg.js';

let h: GatewayHarness;
const READER_ROLE = 'tg_enforce_reader';

const OWNER = { repository: 'acme/owner' };
/** read, transaction, session */
const READER = { repository: 'acme/reader' };
/** read, write, transaction, session: writes, but runs no user code */
const WRITER = { repository: 'acme/writer' };
/** read, function, transaction, session: runs user code, which the database holds to read-only */
const CALLER = { repository: 'acme/caller' };
/** read, ddl, transaction, session */
const MIGRATOR = { repository: 'acme/migrator' };

/** Each kind of user code a statement can reach without naming a user's function outright. */
const SETUP = [
  'drop view if exists enf_wiping, enf_flipping',
  'drop table if exists enf_items, enf_guarded, enf_triggered, enf_ruled, enf_pairs cascade',
  'drop type if exists enf_pair cascade',
  'drop domain if exists enf_positive',
  'drop operator if exists === (int, int)',
  'drop operator if exists public.>= (oid, int)',
  'create table enf_items (id int)',
  'insert into enf_items select generate_series(1, 5)',
  `create or replace function enf_wipe() returns int language sql volatile as $$ delete from enf_items; select 1 $$`,
  'create view enf_wiping as select enf_wipe() as n',
  `create or replace function lower(int) returns text language sql as $$ delete from enf_items; select 'x' $$`,
  `create or replace function upper(text) returns text language sql as $$ delete from enf_items; select $1 $$`,
  `create or replace function enf_purge(enf_items) returns int language sql as $$ delete from enf_items; select 1 $$`,
  `create or replace function enf_op(int, int) returns bool language sql as $$ delete from enf_items; select true $$`,
  'create operator === (function = enf_op, leftarg = int, rightarg = int)',
  `create or replace function enf_check(int) returns bool language sql as $$ delete from enf_items; select true $$`,
  'create domain enf_positive as int check (enf_check(value))',
  'create table enf_guarded (v enf_positive)',
  `create or replace function enf_flip() returns text language sql as $$ select set_config('default_transaction_read_only', 'off', false) $$`,
  'create view enf_flipping as select enf_flip() as f',
  `create or replace function enf_trigger() returns trigger language plpgsql as $$ begin delete from enf_items; return new; end $$`,
  'create table enf_triggered (v int)',
  'create trigger enf_triggered_insert before insert on enf_triggered for each row execute function enf_trigger()',
  'create table enf_ruled (v int)',
  'create type enf_pair as (a int, b int)',
  `create or replace function enf_pair_text(enf_pair) returns text language sql as $$ delete from enf_items; select 'pair' $$`,
  'create cast (enf_pair as text) with function enf_pair_text(enf_pair) as implicit',
  'create table enf_pairs (p enf_pair)',
  'insert into enf_pairs values (row(1, 2))',
  'create rule enf_ruled_insert as on insert to enf_ruled do also delete from enf_items',
  `grant select on enf_items, enf_wiping, enf_flipping, enf_guarded to ${READER_ROLE}`,
];

const CLEANUP = [
  'drop view if exists enf_wiping, enf_flipping',
  'drop table if exists enf_items, enf_guarded, enf_triggered, enf_ruled, enf_pairs cascade',
  'drop type if exists enf_pair cascade',
  'drop domain if exists enf_positive',
  'drop operator if exists === (int, int)',
  'drop function if exists public.enf_trigger(), public.enf_wipe(), public.lower(int), public.upper(text), public.enf_op(int, int), public.enf_check(int), public.enf_flip(), public.initcap(int)',
  'drop domain if exists enf_positive',
  'drop operator if exists public.>= (oid, int)',
  'drop function if exists public.enf_oid_ge(oid, int)',
];

/** [kind, statements to run first, the statement that reaches user code]. */
const CORPUS: [string, string[], string][] = [
  ['a view over a volatile user function', [], 'select * from enf_wiping'],
  ['a user function overloading a built-in name for a type pg_catalog lacks', [], 'select lower(1)'],
  ['search_path reordered so a user function shadows a built-in', ['set search_path = public, pg_catalog'], "select upper('x')"],
  ['a function called in attribute notation', [], 'select t.enf_purge from enf_items t'],
  ['a user-defined operator', [], 'select 1 === 2'],
  ['a cast to a domain whose CHECK calls a function', [], 'select 1::enf_positive'],
  ['an insert into a column of that domain', [], 'insert into enf_guarded values (1)'],
  // Not hidden in the statement, but user code all the same: what runs when a table is written.
  ['a trigger on the written table', [], 'insert into enf_triggered values (1)'],
  ['a rule on the written table', [], 'insert into enf_ruled values (1)'],
  ['a column whose type casts through a user function', [], 'select lower(p) from enf_pairs'],
];

before(async () => {
  h = await GatewayHarness.start({
    rules: [
      { name: 'owner', repository: OWNER.repository, targets: ['*'], rights: ['all'] },
      { name: 'reader', repository: READER.repository, targets: ['*'], rights: ['read', 'transaction', 'session'] },
      { name: 'writer', repository: WRITER.repository, targets: ['*'], rights: ['read', 'write', 'transaction', 'session'] },
      { name: 'caller', repository: CALLER.repository, targets: ['*'], rights: ['read', 'function', 'transaction', 'session'] },
      { name: 'migrator', repository: MIGRATOR.repository, targets: ['*'], rights: ['read', 'ddl', 'transaction', 'session'] },
    ],
    targetVariants: { 'app-roles': { roles: [{ rights: ['read', 'function', 'transaction', 'session'], role: READER_ROLE }] } },
  });
  const admin = await h.directSuperuser();
  await admin.query(`do $$ begin if not exists (select 1 from pg_roles where rolname = '${READER_ROLE}') then create role ${READER_ROLE} nologin; end if; end $$`);
  await admin.query(`grant ${READER_ROLE} to ${h.pg.appUser}`);
  await admin.end();
  const owner = await h.client({ token: await h.token(OWNER) });
  for (const sql of SETUP) await owner.query(sql);
  await owner.end();
});

after(async () => {
  const admin = await h.directSuperuser();
  for (const sql of CLEANUP) await admin.query(sql);
  await admin.end();
  await h.stop();
});

async function itemCount(): Promise<number> {
  const admin = await h.directSuperuser();
  try {
    return (await admin.query<{ n: number }>('select count(*)::int as n from enf_items')).rows[0]!.n;
  } finally {
    await admin.end();
  }
}

const deniedFor = (right: string) => (e: { code?: string; message: string }) => e.code === '42501' && e.message.includes(`'${right}'`) && e.message.includes('TG_POLICY_DENIED');

/** Runs the corpus in one session and checks each refusal: on the wire, in the table and in the record. */
async function refusesCorpus(who: Record<string, string>, right: (statement: string) => string): Promise<void> {
  const client = await h.client({ token: await h.token(who) });
  const sessionId = await sessionOf(h, client);
  for (const [kind, first, statement] of CORPUS) {
    for (const sql of first) await client.query(sql);
    await assert.rejects(client.query(statement), deniedFor(right(statement)), kind);
    await client.query('reset search_path');
  }
  // The extended protocol is judged the same way.
  await assert.rejects(client.query('select lower($1::int)', [1]), deniedFor('function'));
  await client.end();
  assert.equal(await itemCount(), 5, 'no user code ran');

  const events = await h.events(sessionId);
  for (const [kind, , statement] of CORPUS) {
    const started = ofType(events, 'command.started').find((c) => c.data.text === statement);
    assert.ok(started, `${kind}: recorded`);
    assert.equal(started.data.decision?.outcome, 'denied', kind);
    assert.ok(started.data.decision?.missing?.includes(right(statement)), `${kind}: recorded as missing '${right(statement)}'`);
    assert.equal(ofType(events, 'command.completed').find((c) => c.data.commandSeq === started.seq)?.data.outcome, 'denied', kind);
  }
}

/** A raw session that pipelines two queries in one write, as a hostile client may. */
async function rawSession(who: Record<string, string>): Promise<RawPgClient> {
  const raw = await RawPgClient.connect(h.port);
  raw.startup({ user: 'ci', database: 'app' });
  await raw.until('R');
  raw.password(await h.token(who));
  await raw.until('Z');
  return raw;
}

function queryMessage(raw: RawPgClient, text: string): Buffer {
  return raw.message('Q', Buffer.from(`${text}\0`));
}

async function valueOf(client: pg.Client, sql: string): Promise<unknown> {
  const { rows } = await client.query(sql);
  return Object.values(rows[0] as Record<string, unknown>)[0];
}

describe('hidden user code', () => {
  it('is refused in a read-only session, each kind, and recorded as refused', async () => {
    // The insert needs 'write' before anything else; everything else is refused for the user code it reaches.
    await refusesCorpus(READER, (s) => (s.startsWith('insert') ? 'write' : 'function'));
  });

  it('is refused in a session that may write but not run code', async () => {
    await refusesCorpus(WRITER, () => 'function');
  });

  it('fails in the database when the session may run code but not write', async () => {
    const client = await h.client({ token: await h.token(CALLER) });
    for (const sql of ['select enf_wipe()', 'select * from enf_wiping', 'select lower(1)', 'select t.enf_purge from enf_items t']) {
      await assert.rejects(client.query(sql), (e: { code?: string }) => e.code === '25006', sql); // read_only_sql_transaction
    }
    await client.end();
    assert.equal(await itemCount(), 5);
  });

  it('sees user code created during the session, and its removal', async () => {
    const client = await h.client({ token: await h.token(MIGRATOR) });
    assert.equal(await valueOf(client, "select initcap('x')"), 'X');
    await client.query(`create function initcap(int) returns text language sql as $$ delete from enf_items; select 'x' $$`);
    await assert.rejects(client.query("select initcap('y')"), deniedFor('function'));
    await client.query('drop function initcap(int)');
    assert.equal(await valueOf(client, "select initcap('z')"), 'Z');
    await client.end();
    assert.equal(await itemCount(), 5);
  });
});

describe("the gateway's own catalogue query", () => {
  it("never calls a user's operator, whatever search_path the session set", async () => {
    const client = await h.client({ token: await h.token(MIGRATOR) });
    await client.query(`create function enf_oid_ge(oid, int) returns bool language sql as $$ delete from enf_items; select true $$`);
    await client.query('create operator >= (function = enf_oid_ge, leftarg = oid, rightarg = int)');
    await client.query('set search_path = public, pg_catalog');
    // The catalogue is read again after the DDL, before this statement is judged.
    assert.equal(await valueOf(client, "select initcap('x')"), 'X');
    await client.query('reset search_path');
    await client.query('drop operator public.>= (oid, int)');
    await client.query('drop function enf_oid_ge(oid, int)');
    await client.end();
    assert.equal(await itemCount(), 5);
  });
});

describe('read-only in the database', () => {
  it('starts a read-only session read-only and refuses every way to undo it', async () => {
    const client = await h.client({ token: await h.token(READER) });
    const sessionId = await sessionOf(h, client);
    assert.equal(await valueOf(client, 'show default_transaction_read_only'), 'on');
    const undo: [string, string][] = [
      ['set default_transaction_read_only = off', 'write'],
      ['set default_transaction_read_only to default', 'write'],
      ['reset default_transaction_read_only', 'write'],
      ["select set_config('default_transaction_read_only', 'off', false)", 'write'],
      ['set transaction_read_only = off', 'write'],
      ['reset transaction_read_only', 'write'],
      ["select set_config('transaction_read_only', 'off', true)", 'write'],
      ['begin read write', 'write'],
      ['start transaction read write', 'write'],
      ['begin isolation level serializable, read write', 'write'],
      ['set session characteristics as transaction read write', 'write'],
      ["update pg_settings set setting = 'off' where name = 'default_transaction_read_only'", 'write'],
      ['set role none', 'admin'],
      [`set role ${h.pg.appUser}`, 'admin'],
      ['reset role', 'admin'],
      ['set session authorization default', 'admin'],
      ['reset session authorization', 'admin'],
      ["select set_config('role', 'none', false)", 'admin'],
    ];
    for (const [sql, right] of undo) await assert.rejects(client.query(sql), deniedFor(right), sql);
    await client.query('begin');
    await assert.rejects(client.query('set transaction read write'), deniedFor('write'));
    await client.query('rollback');
    // What is allowed keeps it on: RESET ALL and DISCARD ALL return to the backend's startup settings.
    await client.query('begin read only');
    await client.query('commit');
    await client.query('reset all');
    await client.query('discard all');
    assert.equal(await valueOf(client, 'show default_transaction_read_only'), 'on');
    assert.equal(await valueOf(client, 'show transaction_read_only'), 'on');
    await client.end();

    const connected = ofType(await h.events(sessionId), 'target.connected')[0]!;
    assert.equal(connected.data.readOnly, true);
  });

  it('runs a session that may write with writes allowed', async () => {
    const client = await h.client({ token: await h.token(WRITER) });
    assert.equal(await valueOf(client, 'show default_transaction_read_only'), 'off');
    await client.end();
  });

  for (const [path, statement] of [
    ['a direct call', 'select enf_flip()'],
    ['a view', 'select * from enf_flipping'],
  ] as const) {
    it(`ends the session when code reached through ${path} turns read-only off, before anything else runs`, async () => {
      const ended = h.endedSession((ev) => ofType(ev, 'session.ended')[0]?.data.detail?.includes('TG_PG_ENFORCEMENT_UNDONE') ?? false);
      const raw = await rawSession(CALLER);
      // The second query would run in a new, read-write transaction if it reached the target.
      raw.send(Buffer.concat([queryMessage(raw, statement), queryMessage(raw, 'select enf_wipe()')]));
      const fatal = errorFields((await raw.until('E')).body);
      assert.equal(fatal.S, 'FATAL');
      assert.equal(fatal.C, '42501');
      assert.match(fatal.M!, /default_transaction_read_only.*TG_PG_ENFORCEMENT_UNDONE/);
      await raw.closedByServer();
      const events = await ended;
      assert.equal(await itemCount(), 5, 'nothing after the flip ran');
      assert.equal(ofType(events, 'session.ended')[0]!.data.reason, 'policy-denied');
      assert.ok(!ofType(events, 'command.started').some((c) => c.data.text.includes('enf_wipe')), 'the later statement never reached the target');
    });
  }

  it('ends the session before a statement parsed earlier runs after the flip', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'session.ended')[0]?.data.detail?.includes('TG_PG_ENFORCEMENT_UNDONE') ?? false);
    const raw = await rawSession(CALLER);
    const int16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
    raw.send(Buffer.concat([raw.message('P', Buffer.concat([Buffer.from('wipe\0select enf_wipe()\0'), int16(0)])), raw.message('S', Buffer.alloc(0))]));
    await raw.until('Z');
    // Bind and Execute are no statements to judge: only the order keeps them from the read-write transaction.
    const bind = raw.message('B', Buffer.concat([Buffer.from('\0wipe\0'), int16(0), int16(0), int16(0)]));
    const execute = raw.message('E', Buffer.concat([Buffer.from('\0'), Buffer.alloc(4)]));
    raw.send(Buffer.concat([queryMessage(raw, 'select enf_flip()'), bind, execute, raw.message('S', Buffer.alloc(0))]));
    assert.equal(errorFields((await raw.until('E')).body).S, 'FATAL');
    await raw.closedByServer();
    await ended;
    assert.equal(await itemCount(), 5, 'the prepared statement never ran');
  });

  it('refuses, in a read-only session that runs code, a string that would run a statement after a COMMIT', async () => {
    const client = await h.client({ token: await h.token(CALLER) });
    await assert.rejects(client.query('select enf_flip(); commit; select enf_wipe()'), deniedFor('write'));
    const results = (await client.query('select 1 as a; select 2 as b')) as unknown as pg.QueryResult[];
    assert.deepEqual(results.map((r) => r.rows[0]), [{ a: 1 }, { b: 2 }], 'several statements without a transaction end still run');
    await client.end();
    assert.equal(await itemCount(), 5);
  });
});

describe('a database role per set of rights', () => {
  it('runs a session as the role configured for its rights, and it stays that role', async () => {
    const client = await h.client({ token: await h.token(CALLER), target: 'app-roles' });
    const sessionId = await sessionOf(h, client);
    assert.equal(await valueOf(client, 'select current_user'), READER_ROLE);
    assert.equal(await valueOf(client, 'select session_user'), h.pg.appUser);
    assert.equal(await valueOf(client, 'select count(*)::int from enf_items'), 5);
    await assert.rejects(client.query('reset role'), deniedFor('admin'));
    await assert.rejects(client.query('set role none'), deniedFor('admin'));
    await client.query('discard all');
    await client.query('reset all');
    assert.equal(await valueOf(client, 'select current_user'), READER_ROLE);
    await client.end();
    const connected = ofType(await h.events(sessionId), 'target.connected')[0]!;
    assert.equal(connected.data.role, READER_ROLE);
    assert.equal(connected.data.readOnly, true);
  });

  it('uses the role for any rights it covers, and the target user for rights it does not', async () => {
    const reader = await h.client({ token: await h.token(READER), target: 'app-roles' });
    assert.equal(await valueOf(reader, 'select current_user'), READER_ROLE);
    await reader.end();
    const writer = await h.client({ token: await h.token(WRITER), target: 'app-roles' });
    assert.equal(await valueOf(writer, 'select current_user'), h.pg.appUser);
    await writer.end();
  });
});

describe('PREPARE and EXECUTE', () => {
  it('runs a prepared SELECT with read alone, and DISCARD ALL drops it within session', async () => {
    const client = await h.client({ token: await h.token(READER) });
    const sessionId = await sessionOf(h, client);
    await client.query('prepare counted as select count(*)::int as n from enf_items');
    assert.equal(await valueOf(client, 'execute counted'), 5);
    // A named extended-protocol statement shares the namespace.
    await client.query({ name: 'by_protocol', text: 'select count(*)::int as n from enf_items' });
    assert.equal(await valueOf(client, 'execute by_protocol'), 5);
    await assert.rejects(client.query('prepare wipe as delete from enf_items'), deniedFor('write'));
    await assert.rejects(client.query('execute never_prepared'), deniedFor('function'));
    await client.query('discard all');
    await assert.rejects(client.query('execute counted'), deniedFor('function'));
    await client.end();

    const events = await h.events(sessionId);
    const execute = ofType(events, 'command.started').find((c) => c.data.text === 'execute counted')!;
    assert.deepEqual(execute.data.decision?.needs, ['read']);
  });

  it('requires write for EXECUTE of a prepared DELETE, and forgets it after DEALLOCATE', async () => {
    const client = await h.client({ token: await h.token(WRITER) });
    const sessionId = await sessionOf(h, client);
    await client.query('prepare removal(int) as delete from enf_items where id = $1');
    await client.query('execute removal(999)');
    await client.query('deallocate removal');
    await assert.rejects(client.query('execute removal(999)'), deniedFor('function'));
    await client.end();
    const execute = ofType(await h.events(sessionId), 'command.started').find((c) => c.data.text === 'execute removal(999)')!;
    assert.deepEqual(execute.data.decision?.needs, ['write']);
    assert.equal(await itemCount(), 5);
  });

  it('refuses EXECUTE of a prepared DELETE in a session that lacks write', async () => {
    // Prepared by the extended protocol in a writing session is not this session's: each session has its own map.
    const client = await h.client({ token: await h.token(READER) });
    await assert.rejects(client.query({ name: 'removal', text: 'delete from enf_items where id = $1', values: [999] }), deniedFor('write'));
    await assert.rejects(client.query('execute removal(999)'), deniedFor('function'));
    await client.end();
  });
});
