/**
 * Result masking on the wire, against the real PostgreSQL through the gateway: columns masked by their true
 * origin (aliases, joins, CTEs, cursors, RETURNING, views, partitions), in text and binary, with psql and the
 * pg driver; every way around masking refused; the trail holds only what the client received.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type pg from 'pg';
import { serialize } from 'pg-protocol';
import { GatewayHarness, ofType, sessionOf } from '../support/gateway-harness.js';
import { RawPgClient, type ServerMessage } from '../support/raw-pg.js';

const exec = promisify(execFile);

/** Seeded raw values: none may reach a masked client or the data directory. */
const RAW = { email: 'ada.lovelace@analytical.example', card: '4111111111111111', secret: 'partition-secret-7fd2', balance: '987654321' };
/** A row only the exempt session reads (its raw value is in the trail by design). */
const EXEMPT_EMAIL = 'grace.hopper@cobol.example';

const masking = (unattributed: string) => ({
  masking: {
    unattributed,
    exemptRules: ['breakglass'],
    rules: [
      { match: 'mask.users.email', strategy: 'partial', keepLast: 4 },
      { match: 'mask.users.card', strategy: 'hmac' },
      { match: 'mask.users.bal*', strategy: 'redact' },
      { match: 'mask.events.secret', strategy: 'fixed', value: 'hidden' },
      { match: 'mask.users.nick', strategy: 'null' },
    ],
  },
});

let h: GatewayHarness;
/** Sessions of earlier pgbench modes, so each mode's check reads its own session. */
const seenModes = new Set<string>();
const sessionIdOf = (events: { sessionId: string }[]): string => events[0]!.sessionId;

before(async () => {
  h = await GatewayHarness.start({
    targetVariants: { masked: masking('deny'), 'masked-scan': masking('scan') },
    rules: [
      { name: 'tests-all', issuers: ['dev'], subject: '**', targets: ['*'], rights: ['all'] },
      { name: 'breakglass', issuers: ['dev'], repository: 'acme/dba', targets: ['masked'], rights: ['read'] },
    ],
  });
  const admin = await h.directSuperuser();
  await admin.query(`
    drop schema if exists mask cascade;
    create schema mask;
    create table mask.users (id int primary key, email text, card text, balance int, nick text, name text);
    insert into mask.users values (1, '${RAW.email}', '${RAW.card}', ${RAW.balance}, 'adi', 'Ada'), (2, 'bob@example.org', '5500005555555559', 5, 'bobby', 'Bob'),
      (3, '${EXEMPT_EMAIL}', '4000000000000002', 1, 'gh', 'Grace');
    create table mask.orders (id int, user_id int, total int);
    insert into mask.orders values (10, 1, 42);
    create view mask.v_users as select id, email as contact, lower(name) as lname from mask.users;
    create table mask.events (id int, secret text) partition by range (id);
    create table mask.events_1 partition of mask.events for values from (0) to (100);
    insert into mask.events values (1, '${RAW.secret}');
    create table mask.copy_sink (email text);
    grant usage, create on schema mask to trailgate_app;
    grant all on all tables in schema mask to trailgate_app;`);
  await admin.end();
});
after(async () => {
  const admin = await h.directSuperuser();
  await admin.query('drop schema if exists mask cascade');
  await admin.end();
  await h.stop();
});

const masked = (sql: string, target = 'masked') => h.client({ target }).then(async (c) => {
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
});

const refused = (code: string, sqlstate = '42501') => (e: { code?: string; message: string }) => {
  assert.equal(e.code, sqlstate, e.message);
  assert.match(e.message, new RegExp(code));
  return true;
};

/** Which of `values` occur in any file under the gateway's data directory (embedded log, spool, keys). */
async function inDataDir(values: string[]): Promise<string[]> {
  await h.gateway.writer.flush();
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const bytes = readFileSync(p);
        for (const v of values) if (bytes.includes(v)) found.add(v);
      }
    }
  };
  walk(h.dataDir);
  return [...found];
}

describe('result masking', () => {
  it('masks a column wherever its origin is kept: plain, alias, join, CTE, subquery, view, partition', async () => {
    const c = await h.client({ target: 'masked' });
    try {
      const plain = (await c.query('select id, email, card, balance, nick, name from mask.users where id = 1')).rows[0];
      assert.equal(plain.email, '*'.repeat(RAW.email.length - 4) + RAW.email.slice(-4));
      assert.match(plain.card, /^[0-9a-f]{32}$/);
      assert.equal(plain.balance, '[masked]', 'a masked int column comes back as text');
      assert.equal(plain.nick, null);
      assert.equal(plain.name, 'Ada', 'columns without a rule pass');
      const again = (await c.query('select card from mask.users u where u.id = 1')).rows[0];
      assert.equal(again.card, plain.card, 'hmac: equal inputs give equal outputs');
      for (const sql of [
        'select email as e from mask.users where id = 1',
        'select u.email as e from mask.users u join mask.orders o on o.user_id = u.id',
        'with x as (select email from mask.users where id = 1) select email as e from x',
        'select e from (select email as e from mask.users where id = 1) s',
        'select contact as e from mask.v_users where id = 1',
        'select u.* from mask.users u where id = 1',
      ]) {
        const rows = (await c.query(sql)).rows;
        const value = rows[0].e ?? rows[0].email;
        assert.equal(value, plain.email, sql);
      }
      assert.equal((await c.query('select secret from mask.events')).rows[0].secret, 'hidden', 'a rule on the parent covers its partitions');
      assert.equal((await c.query('select secret from mask.events_1')).rows[0].secret, 'hidden');
      // The session's own DDL: the new view is traced at once, not when the cached origins expire.
      await c.query('create view mask.v_new as select id, email as addr from mask.users');
      assert.equal((await c.query('select addr from mask.v_new where id = 1')).rows[0].addr, plain.email);
    } finally {
      await c.end();
    }
  });

  it('masks cursor FETCH, RETURNING and the extended protocol, and counts masked cells per column in the record', async () => {
    const c = await h.client({ target: 'masked' });
    const sessionId = await sessionOf(h, c);
    await c.query('begin');
    await c.query('declare cur cursor for select email from mask.users order by id');
    const fetched = (await c.query('fetch 2 from cur')).rows;
    assert.ok(fetched.every((r) => /^\*+/.test(r.email)), JSON.stringify(fetched));
    await c.query('close cur');
    const returned = (await c.query('update mask.users set name = name where id = 1 returning email')).rows[0];
    assert.match(returned.email, /^\*+mple$/);
    await c.query('rollback');
    const extended = (await c.query('select email, card from mask.users where id = $1', [1])).rows[0];
    assert.match(extended.email, /^\*+mple$/);
    await c.end();
    const events = await h.events(sessionId);
    const completed = ofType(events, 'command.completed');
    const fetch = completed.find((e) => e.data.tags[0] === 'FETCH 2')!;
    assert.deepEqual(fetch.data.masking?.cells, { 'mask.users.email': 2 });
    const last = completed.at(-1)!;
    assert.deepEqual(last.data.masking?.cells, { 'mask.users.email': 1, 'mask.users.card': 1 });
  });

  it('masks text columns asked for in binary and refuses a masked int in binary with 0A000, keeping the session', async () => {
    const c = await h.client({ target: 'masked' });
    try {
      const r = await c.query({ text: 'select email, name from mask.users where id = $1', values: [1], binary: true } as pg.QueryConfig);
      assert.match(r.rows[0].email, /^\*+mple$/);
      assert.equal(r.rows[0].name, 'Ada');
      await assert.rejects(c.query({ text: 'select balance from mask.users where id = $1', values: [1], binary: true } as pg.QueryConfig), refused('TG_MASKING_BINARY', '0A000'));
      assert.equal((await c.query('select 1 as ok')).rows[0].ok, 1, 'the session goes on');
      // A binary cursor in the simple protocol: the FETCH fails closed, the transaction goes on.
      await c.query('begin');
      await c.query('declare bc binary cursor for select balance from mask.users');
      await assert.rejects(c.query('fetch 1 from bc'), refused('TG_MASKING_BINARY', '0A000'));
      await c.query('rollback');
    } finally {
      await c.end();
    }
  });

  it('masks rows of a statement described long before its Execute, with per-column result formats (as pgx does)', async () => {
    const raw = await RawPgClient.connect(h.port);
    raw.startup({ user: 'ci', database: 'masked' });
    await raw.until('R');
    raw.password(await h.token());
    await raw.until('Z');
    const collect = async (): Promise<ServerMessage[]> => {
      const out: ServerMessage[] = [];
      for (let m = await raw.next(); m; m = await raw.next()) {
        out.push(m);
        if (m.type === 'Z') return out;
      }
      throw new Error('the gateway closed the connection');
    };
    raw.send(Buffer.concat([serialize.parse({ name: 's1', text: 'select email, balance, id from mask.users where id = $1', types: [23] }), serialize.describe({ type: 'S', name: 's1' }), serialize.sync()]));
    const described = await collect();
    assert.deepEqual(described.map((m) => m.type), ['1', 't', 'T', 'Z']);
    const desc = described[2]!.body;
    const balanceAt = desc.indexOf('balance\0') + 'balance\0'.length;
    assert.equal(desc.readUInt32BE(balanceAt + 6), 25, 'a masked int column is described as text');
    const bind = (formats: number[]) => {
      const head = Buffer.from('\0s1\0');
      const params = Buffer.alloc(2 + 2 + 4 + 1);
      params.writeInt16BE(0, 0);
      params.writeInt16BE(1, 2);
      params.writeInt32BE(1, 4);
      params.write('1', 8);
      const results = Buffer.alloc(2 + 2 * formats.length);
      results.writeInt16BE(formats.length, 0);
      formats.forEach((f, i) => results.writeInt16BE(f, 2 + 2 * i));
      return raw.message('B', Buffer.concat([head, params, results]));
    };
    raw.send(Buffer.concat([bind([1, 0, 1]), serialize.execute({ portal: '', rows: 0 }), serialize.sync()]));
    const answered = await collect();
    assert.deepEqual(answered.map((m) => m.type), ['2', 'D', 'C', 'Z'], 'the gateway\'s own Describe of the portal is not seen');
    const row = answered[1]!.body;
    const cells: Buffer[] = [];
    for (let i = 0, off = 2; i < row.readInt16BE(0); i++) {
      const len = row.readInt32BE(off);
      cells.push(row.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    assert.match(cells[0]!.toString(), /^\*+mple$/, 'a text column masked in binary');
    assert.equal(cells[1]!.toString(), '[masked]');
    assert.equal(cells[2]!.readInt32BE(0), 1, 'an unmasked int in binary passes');
    raw.send(Buffer.concat([bind([1]), serialize.execute({ portal: '', rows: 0 }), serialize.sync()]));
    const failed = await collect();
    assert.deepEqual(failed.map((m) => m.type), ['2', 'E', 'Z'], 'no row of a result that fails closed');
    assert.match(failed[1]!.body.toString(), /TG_MASKING_BINARY/);
    raw.end();
  });

  it('masks what psql reads', async () => {
    const token = await h.token();
    const { stdout } = await exec(join(process.env.TG_PG_BINDIR ?? '/usr/bin', 'psql'), ['-X', '-A', '-t', '-h', '127.0.0.1', '-p', String(h.port), '-U', 'ci', '-d', 'masked', '-c', 'select email, balance from mask.users order by id'], { env: { ...process.env, PGPASSWORD: token } });
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.ok(lines.every((l) => /^\*+[^|]{4}\|\[masked\]$/.test(l)), stdout);
  });

  it('masks what pgbench reads in each query mode, every transaction complete', async () => {
    const script = join(h.dataDir, 'masked-select.sql');
    writeFileSync(script, 'select email, card from mask.users where id = 1 /* pgbench-masked */;\n');
    for (const mode of ['simple', 'extended', 'prepared']) {
      const ended = h.endedSession((events) => ofType(events, 'command.started').some((e) => e.data.text.includes('pgbench-masked')) && !seenModes.has(sessionIdOf(events)));
      const token = await h.token();
      const { stdout } = await exec(join(process.env.TG_PG_BINDIR ?? '/usr/bin', 'pgbench'), ['-n', '-M', mode, '-c', '1', '-t', '25', '-f', script, '-h', '127.0.0.1', '-p', String(h.port), '-U', 'ci', 'masked'], { env: { ...process.env, PGPASSWORD: token } });
      assert.match(stdout, /number of transactions actually processed: 25\/25/, stdout);
      assert.doesNotMatch(stdout, /number of failed transactions: [1-9]/, stdout);
      const events = await ended;
      seenModes.add(sessionIdOf(events));
      const cells = ofType(events, 'command.completed').filter((e) => e.data.masking?.cells).map((e) => e.data.masking!.cells);
      assert.equal(cells.length, 25, `${mode}: every SELECT's result masked`);
      assert.ok(cells.every((c) => c['mask.users.email'] === 1 && c['mask.users.card'] === 1), `${mode}: ${JSON.stringify(cells[0])}`);
    }
  });

  it('refuses every way around masking with 42501', async () => {
    const cases: [string, string][] = [
      ['copy mask.users to stdout', 'TG_MASKING_COPY'],
      ['copy (select email from mask.users) to stdout', 'TG_MASKING_COPY'],
      ['create table mask.stolen as select email from mask.users', 'TG_MASKING_COPY'],
      ['select email into mask.stolen2 from mask.users', 'TG_MASKING_COPY'],
      ['insert into mask.copy_sink select email from mask.users', 'TG_MASKING_COPY'],
      ['update mask.orders set total = length(u.email) from mask.users u', 'TG_MASKING_COPY'],
      ['select row_to_json(u) from mask.users u', 'TG_MASKING_UNTRACEABLE'],
      ['select u::text from mask.users u', 'TG_MASKING_UNTRACEABLE'],
      ['select to_jsonb(u.*) from mask.users u', 'TG_MASKING_UNTRACEABLE'],
      ['select row_to_json(x) from (select * from mask.users) x', 'TG_MASKING_UNTRACEABLE'],
      ['with c as (select email from mask.users) select c::text from c', 'TG_MASKING_UNTRACEABLE'],
      ['select lower(email) from mask.users', 'TG_MASKING_UNTRACEABLE'],
      ['select email from mask.users union all select name from mask.users', 'TG_MASKING_UNTRACEABLE'],
      ['select (select email from mask.users limit 1) as e', 'TG_MASKING_UNTRACEABLE'],
    ];
    const c = await h.client({ target: 'masked' });
    try {
      for (const [sql, code] of cases) await assert.rejects(c.query(sql), refused(code), sql);
      assert.equal((await c.query('select count(email)::int as n, max(length(email)) as l from mask.users')).rows[0].n, 3, 'counting reveals nothing');
    } finally {
      await c.end();
    }
  });

  it('unattributed columns: deny refuses them when the statement reads masked relations, scan masks what detectors find', async () => {
    const sql = 'select lower(e) as e from (select email as e from mask.users where id = 1) s';
    await assert.rejects(masked(sql), refused('TG_MASKING_UNATTRIBUTED'));
    await assert.rejects(masked('select lname from mask.v_users'), refused('TG_MASKING_UNATTRIBUTED'), 'a view expression over masked data');
    assert.deepEqual(await masked('select 1 + 1 as two'), [{ two: 2 }], 'expressions not over masked relations pass');
    const scanned = await masked(sql, 'masked-scan');
    assert.equal(scanned[0].e, '[masked:email]');
  });

  it('`trailgate masking explain` shows each output column\'s origin and the rule that applies', async () => {
    const configFile = join(h.dataDir, 'explain.yaml');
    const pgs = h.pg;
    writeFileSync(configFile, JSON.stringify({
      dataDir: h.dataDir,
      targets: { masked: { host: pgs.host, port: pgs.port, database: pgs.database, user: pgs.appUser, password: { env: 'TG_PG_APP_PASSWORD' }, ...masking('deny') } },
    }));
    const cli = resolve(import.meta.dirname, '../../bin/trailgate.js');
    const run = async (sql: string) => JSON.parse((await exec(process.execPath, [cli, '--config', configFile, 'masking', 'explain', '--target', 'masked', '--json', sql])).stdout) as { columns: { column: string; origin: string; masking: string }[]; refused?: string };
    const out = await run('select u.email as e, v.contact, v.lname, o.total, u.id + 1 as n from mask.users u join mask.orders o on o.user_id = u.id join mask.v_users v on v.id = u.id');
    assert.deepEqual(out.columns, [
      { column: 'e', origin: 'mask.users.email', masking: 'partial (rule mask.users.email)' },
      { column: 'contact', origin: 'mask.v_users.contact', masking: 'partial (rule mask.users.email; source mask.users.email)' },
      { column: 'lname', origin: 'mask.v_users.lname', masking: 'unattributed: deny (a view expression over masked columns)' },
      { column: 'total', origin: 'mask.orders.total', masking: 'none' },
      { column: 'n', origin: '(none: expression, UNION or function)', masking: 'unattributed: deny' },
    ]);
    assert.match((await run('select row_to_json(u) from mask.users u')).refused ?? '', /TG_MASKING_UNTRACEABLE/);
  });

  it('leaves no seeded raw value in the data directory', async () => {
    assert.deepEqual(await inDataDir(Object.values(RAW)), []);
  });

  it('an exempt session sees raw data and records that it is exempt', async () => {
    const c = await h.client({ target: 'masked', token: await h.token({ repository: 'acme/dba' }) });
    const sessionId = await sessionOf(h, c);
    assert.equal((await c.query('select email from mask.users where id = 3')).rows[0].email, EXEMPT_EMAIL);
    await c.end();
    const decided = ofType(await h.events(sessionId), 'policy.decided')[0]!;
    assert.deepEqual(decided.data.masking, { exempt: ['breakglass'] });
    // The control for the search above: what a session received raw is found there.
    assert.deepEqual(await inDataDir([EXEMPT_EMAIL]), [EXEMPT_EMAIL]);
  });
});
