/**
 * The Postgres path, end to end: real psql and the `pg` driver, through the gateway, to a real
 * PostgreSQL; every case also checks what the audit log says happened.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { GatewayHarness, ofType, sessionOf } from '../support/gateway-harness.js';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import { eventually } from '../support/kafka-env.js';

let h: GatewayHarness;

before(async () => {
  h = await GatewayHarness.start();
});
after(async () => {
  await h.stop();
});

async function psql(args: string[], input?: string, token?: string): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env, PGPASSWORD: token ?? (await h.token()), PGCONNECT_TIMEOUT: '10' };
  const conn = `host=127.0.0.1 port=${h.port} dbname=app user=ci sslmode=require`;
  const child = execFile('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', conn, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
  const result = new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(Object.assign(new Error(`psql exited ${code}: ${stderr}`), { stdout, stderr }))));
  });
  child.stdin!.end(input ?? '');
  return result;
}

describe('psql through the gateway', () => {
  it('runs a simple query over TLS and records statement, outcome and the job identity', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'command.started').some((c) => c.data.text.includes('trailgate_simple_probe')));
    const token = await h.token({ repository: 'acme/payments', workflow: 'deploy', ref: 'refs/heads/main' });
    const { stdout } = await psql(['-c', "select 40 + 2 as trailgate_simple_probe"], undefined, token);
    assert.equal(stdout.trim(), '42');
    const events = await ended;
    const started = ofType(events, 'session.started')[0]!;
    assert.equal(started.data.tls, true);
    assert.equal(ofType(events, 'auth.decided')[0]!.data.outcome, 'granted');
    const cmd = ofType(events, 'command.started').find((c) => c.data.text.includes('trailgate_simple_probe'))!;
    assert.equal(cmd.data.protocol, 'simple');
    assert.equal(cmd.identity?.ci.repository, 'acme/payments');
    assert.equal(cmd.identity?.ci.workflow, 'deploy');
    assert.equal(cmd.identity?.ci.ref, 'refs/heads/main');
    assert.match(cmd.identity?.ci.runId ?? '', /^\d+$/);
    assert.equal(cmd.target?.name, 'app');
    assert.equal(cmd.client.address, '127.0.0.1');
    const done = ofType(events, 'command.completed').find((c) => c.data.commandSeq === cmd.seq)!;
    assert.equal(done.data.outcome, 'ok');
    assert.equal(done.data.rows, 1);
    assert.deepEqual(done.data.tags, ['SELECT 1']);
    assert.equal(ofType(events, 'session.ended')[0]!.data.reason, 'client-terminated');
  });

  it('streams COPY FROM STDIN and COPY TO STDOUT and records the rows and bytes', async () => {
    const admin = await h.client();
    await admin.query('create table if not exists copy_probe (id int primary key, note text)');
    await admin.query('truncate copy_probe');
    await admin.end();
    const rows = Array.from({ length: 5000 }, (_, i) => `${i}\tnote ${i} ünïcode`).join('\n') + '\n';
    const ended = h.endedSession((ev) => ofType(ev, 'command.started').some((c) => c.data.text.includes('copy_probe from stdin')));
    await psql(['-c', 'copy copy_probe from stdin'], rows);
    const events = await ended;
    const copyIn = ofType(events, 'command.completed').find((c) => c.data.tags[0]?.startsWith('COPY'))!;
    assert.equal(copyIn.data.outcome, 'ok');
    assert.equal(copyIn.data.rows, 5000);

    const endedOut = h.endedSession((ev) => ofType(ev, 'command.started').some((c) => c.data.text.includes('copy_probe to stdout')));
    const { stdout } = await psql(['-c', 'copy copy_probe to stdout']);
    assert.equal(stdout, rows);
    const out = ofType(await endedOut, 'command.completed').find((c) => c.data.tags[0]?.startsWith('COPY'))!;
    assert.equal(out.data.rows, 5000);
    assert.equal(out.data.copyBytes, Buffer.byteLength(rows));
  });

  it('reports a failing statement with its SQLSTATE and keeps the session', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'command.started').some((c) => c.data.text.includes('no_such_table_probe')));
    await assert.rejects(psql(['-c', 'select * from no_such_table_probe']), /does not exist/);
    const events = await ended;
    const done = ofType(events, 'command.completed')[0]!;
    assert.equal(done.data.outcome, 'error');
    assert.equal(done.data.sqlstate, '42P01');
  });
});

describe('the pg driver through the gateway', () => {
  it('runs extended-protocol queries and records the bound parameters', async () => {
    const client = await h.client();
    const sessionId = await sessionOf(h, client);
    const { rows } = await client.query('select $1::int + $2::int as sum', [20, 22]);
    assert.equal(rows[0].sum, 42);
    const cmd = ofType(await h.events(sessionId), 'command.started').find((c) => c.data.text.includes('$1::int + $2::int'))!;
    assert.equal(cmd.data.protocol, 'extended');
    assert.deepEqual(cmd.data.parameters, ['20', '22']);
    await client.end();
  });

  it('executes a named prepared statement with parameters of several types, twice', async () => {
    const client = await h.client();
    const sessionId = await sessionOf(h, client);
    const text = 'select $1::int as i, $2::text as t, $3::timestamptz as ts, $4::bool as b, $5::numeric as n, $6::jsonb as j, $7::bytea as bin, $8::text as nothing';
    const when = new Date('2026-01-02T03:04:05.678Z');
    const values = [7, "it's text; with -- dashes", when, true, '12345.6789', { k: ['v', 1] }, Buffer.from([0, 1, 2, 255]), null];
    for (let i = 0; i < 2; i++) {
      const { rows } = await client.query({ name: 'typed_probe', text, values });
      assert.equal(rows[0].i, 7);
      assert.equal(rows[0].t, "it's text; with -- dashes");
      assert.equal(rows[0].ts.getTime(), when.getTime());
      assert.equal(rows[0].b, true);
      assert.equal(rows[0].n, '12345.6789');
      assert.deepEqual(rows[0].j, { k: ['v', 1] });
      assert.deepEqual(rows[0].bin, Buffer.from([0, 1, 2, 255]));
      assert.equal(rows[0].nothing, null);
    }
    const executions = ofType(await h.events(sessionId), 'command.started').filter((c) => c.data.statementName === 'typed_probe');
    assert.equal(executions.length, 2);
    for (const e of executions) {
      assert.equal(e.data.text, text);
      const p = e.data.parameters!;
      assert.equal(p[0], '7');
      assert.equal(p[1], "it's text; with -- dashes");
      assert.equal(p[3], 'true');
      assert.equal(p[4], '12345.6789');
      assert.equal(p[5], '{"k":["v",1]}');
      assert.deepEqual(p[6], { base64: Buffer.from([0, 1, 2, 255]).toString('base64') });
      assert.equal(p[7], null);
    }
    await client.end();
  });

  it('rolls back a transaction that fails midway, and records each outcome', async () => {
    const client = await h.client();
    const sessionId = await sessionOf(h, client);
    await client.query('create table if not exists tx_probe (id int primary key)');
    await client.query('truncate tx_probe');
    await client.query('begin');
    await client.query('insert into tx_probe values (1)');
    await assert.rejects(client.query('insert into tx_probe values (1)'), (e: { code?: string }) => e.code === '23505');
    await assert.rejects(client.query('insert into tx_probe values (2)'), (e: { code?: string }) => e.code === '25P02');
    const commit = await client.query('commit');
    assert.equal(commit.command, 'ROLLBACK');
    const { rows } = await client.query('select count(*)::int as n from tx_probe');
    assert.equal(rows[0].n, 0);
    const events = await h.events(sessionId);
    const completed = ofType(events, 'command.completed');
    const byText = (t: string) => {
      const started = ofType(events, 'command.started').filter((c) => c.data.text === t);
      return started.map((s) => completed.find((c) => c.data.commandSeq === s.seq)!);
    };
    const inserts = byText('insert into tx_probe values (1)');
    assert.deepEqual(inserts.map((c) => c.data.outcome), ['ok', 'error']);
    assert.equal(inserts[1]!.data.sqlstate, '23505');
    assert.equal(byText('insert into tx_probe values (2)')[0]!.data.sqlstate, '25P02');
    assert.deepEqual(byText('commit')[0]!.data.tags, ['ROLLBACK']);
    await client.end();
  });

  it('relays a 10 MB result intact and records every byte the client received', async () => {
    const client = await h.client();
    const sessionId = await sessionOf(h, client);
    const { rows } = await client.query("select i, repeat(chr(65 + i), 1024 * 1024) as blob from generate_series(0, 9) as i");
    assert.equal(rows.length, 10);
    rows.forEach((r: { i: number; blob: string }, i: number) => {
      assert.equal(r.blob.length, 1024 * 1024);
      assert.equal(r.blob, String.fromCharCode(65 + i).repeat(1024 * 1024));
    });
    await client.end();
    const records = (await h.records(sessionId));
    const toClient = records.filter((r) => r.stream === 'bytes' && r.direction === 'server');
    const total = toClient.reduce((n, r) => n + (r.stream === 'bytes' ? r.data.length : 0), 0);
    assert.ok(total > 10 * 1024 * 1024, `recorded ${total} bytes toward the client`);
    // Chunks are contiguous: each starts where the previous one ended.
    let expected = 0;
    for (const r of toClient) {
      if (r.stream !== 'bytes') continue;
      assert.equal(r.offset, expected);
      expected += r.data.length;
    }
    const done = ofType(await h.events(sessionId), 'command.completed').find((c) => c.data.tags[0] === 'SELECT 10')!;
    assert.equal(done.data.rows, 10);
  });

  it('cancels a running pg_sleep through the gateway\'s own cancel key', async () => {
    const client = await h.client();
    const sessionId = await sessionOf(h, client);
    const keys = client as unknown as { processID: number; secretKey: number };
    const running = client.query('select pg_sleep(60)');
    await activeOnTarget('select pg_sleep(60)');
    await sendCancel(h.port, keys.processID, keys.secretKey);
    await assert.rejects(running, (e: { code?: string }) => e.code === '57014');
    const { rows } = await client.query('select 1 as still_usable');
    assert.equal(rows[0].still_usable, 1);
    const events = (await h.events(sessionId));
    assert.equal(ofType(events, 'cancel.requested').length, 1);
    const sleep = ofType(events, 'command.started').find((c) => c.data.text === 'select pg_sleep(60)')!;
    const done = ofType(events, 'command.completed').find((c) => c.data.commandSeq === sleep.seq)!;
    assert.equal(done.data.sqlstate, '57014');
    await client.end();
  });

  it('ignores a cancel request with a key the gateway did not issue', async () => {
    const client = await h.client();
    const keys = client as unknown as { processID: number; secretKey: number };
    const running = client.query('select pg_sleep(1), 1 as fine');
    await activeOnTarget('select pg_sleep(1), 1 as fine');
    // While the statement runs, a guessed key must reach nothing; the statement then finishes.
    await sendCancel(h.port, keys.processID, keys.secretKey ^ 1);
    const { rows } = await running;
    assert.equal(rows[0].fine, 1);
    await client.end();
  });

  it('delivers LISTEN/NOTIFY notifications and records them', async () => {
    const listener = await h.client();
    const sessionId = await sessionOf(h, listener);
    await listener.query('listen deploys');
    const received = new Promise<{ channel: string; payload?: string }>((resolve) => listener.once('notification', resolve));
    const notifier = await h.client();
    await notifier.query("select pg_notify('deploys', 'payments v2 rolled out')");
    const n = await received;
    assert.equal(n.channel, 'deploys');
    assert.equal(n.payload, 'payments v2 rolled out');
    await notifier.end();
    await listener.query('select 1');
    const recorded = ofType(await h.events(sessionId), 'notification.received');
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0]!.data.channel, 'deploys');
    assert.equal(recorded[0]!.data.payload, 'payments v2 rolled out');
    await listener.end();
  });

  it('shows the run to the target as application_name', async () => {
    const client = await h.client({ token: await h.token({ repository: 'acme/payments', claims: { run_id: '998877', run_attempt: '3' } }) });
    const { rows } = await client.query('select current_setting(\'application_name\') as app');
    assert.equal(rows[0].app, 'tg:acme/payments:998877:3');
    await client.end();
  });
});

/** Resolves once the target shows the statement as running (bounded: 500 looks). */
async function activeOnTarget(query: string): Promise<void> {
  const admin = await h.directSuperuser();
  try {
    for (let i = 0; i < 500; i++) {
      const { rows } = await admin.query("select count(*)::int as n from pg_stat_activity where query = $1 and state = 'active'", [query]);
      if (rows[0].n > 0) return;
    }
    throw new Error(`the target never showed '${query}' as running`);
  } finally {
    await admin.end();
  }
}

function sendCancel(port: number, processId: number, secretKey: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      const packet = Buffer.alloc(16);
      packet.writeInt32BE(16, 0);
      packet.writeInt32BE(80877102, 4);
      packet.writeInt32BE(processId, 8);
      packet.writeInt32BE(secretKey, 12);
      socket.end(packet);
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

describe('the gateway toward its targets', () => {
  it('speaks TLS to a verify-full target and checks its certificate', async () => {
    const client = await h.client({ target: 'app-tls' });
    const { rows } = await client.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
    assert.equal(rows[0].ssl, true);
    await client.end();
  });

  for (const [target, code] of [
    ['app-tls-stranger', 'TG_TARGET_TLS'],
    ['app-wrong-password', 'TG_TARGET_AUTH'],
    ['app-down', 'TG_TARGET_UNREACHABLE'],
  ] as const) {
    it(`refuses the client with 08001 when the target cannot be used (${code})`, async () => {
      const ended = h.endedSession((ev) => ofType(ev, 'session.ended')[0]?.data.reason === 'target-unavailable' && ev[0]?.target?.name === target);
      const client = new pg.Client({ host: '127.0.0.1', port: h.port, database: target, user: 'ci', password: await h.token() });
      await assert.rejects(client.connect(), (e: { code?: string; message: string }) => {
        assert.equal(e.code, '08001');
        assert.match(e.message, new RegExp(code));
        assert.ok(!e.message.includes('not-the-password'));
        return true;
      });
      await client.end().catch(() => undefined);
      const events = await ended;
      assert.match(ofType(events, 'session.ended')[0]!.data.detail ?? '', new RegExp(code));
    });
  }
});

describe('connections that end', () => {
  it('leave nothing behind in the gateway, with and without TLS', async () => {
    const before = h.gateway.postgres.openConnections;
    for (const ssl of [false, true]) {
      const client = await h.client({ ssl });
      await client.query('select 1');
      await client.end();
    }
    // A handshake that detached every 'close' listener once kept each ended session alive forever.
    await eventually(() => h.gateway.postgres.openConnections === before, 'the ended connections to be forgotten', 30_000);
    assert.equal(h.gateway.postgres.activeSessions, 0);
  });
});

describe('run tags on the target', () => {
  it('adds a sqlcommenter comment the target sees, in both protocols, and leaves commented statements alone', async () => {
    const client = await h.client({ target: 'app-commented', token: await h.token({ repository: 'acme/payments', claims: { run_id: '4242', run_attempt: '2' } }) });
    const current = "select query from pg_stat_activity where pid = pg_backend_pid()";
    const simple = (await client.query(current)).rows[0].query as string;
    assert.match(simple, /^select query from pg_stat_activity where pid = pg_backend_pid\(\) \/\*application='trailgate',.*tg_repository='acme%2Fpayments',tg_run_attempt='2',tg_run_id='4242',tg_session='[0-9a-f-]+'.*\*\/$/);
    const extended = (await client.query(`${current} and $1::int = 1`, [1])).rows[0].query as string;
    assert.match(extended, /and \$1::int = 1 \/\*application='trailgate'.*\*\/$/);
    const own = (await client.query(`${current} /* mine */`)).rows[0].query as string;
    assert.equal(own, `${current} /* mine */`);
    await client.end();
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 3 });
