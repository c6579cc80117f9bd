/**
 * The driver matrix: psycopg 3, asyncpg, pgx, pgjdbc and node-postgres, each through the gateway over
 * TLS with the steps a CI job's program takes (types in text and binary, prepared statements, a failed
 * transaction, pipeline or batch mode, COPY both ways, a large result, cancel), each session's recording
 * checked. The libraries come from their own registries (tests/services/clients.sh); each program in
 * tests/clients/ prints one JSON result that this file asserts on.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import type { EventRecord } from '../../events/index.js';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import { errorFields, RawPgClient } from '../support/raw-pg.js';
import { requiredEnv } from '../support/test-env.js';

const exec = promisify(execFile);
const clients = resolve(import.meta.dirname, '../clients');

/** What every client must read back, whatever its own types are (normalised by each program). */
const EXPECTED_ROW = {
  int: 2147483647,
  bigint: '9223372036854775807',
  numeric: '12345678901234567890.123456789',
  text: 'héllo wörld ✓',
  bytea: 'deadbeef00',
  timestamptz: '2024-02-29T12:34:56.789Z',
  uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  jsonb: { a: [1, 2, { b: null }], c: 'd' },
  intArray: [1, 2, 3],
  textArray: ['a', 'b c', 'd,e'],
};

interface ClientResult {
  client: string;
  /** psycopg: the libpq it runs on (170000 and up sends the cancel request encrypted). */
  libpq?: number;
  pid: number;
  applicationName: string;
  types: Record<string, typeof EXPECTED_ROW>;
  prepared: number[];
  failedTransaction: { error: string; aborted: string; rowsAfterRollback: number; recovered: number };
  batch: { mode: string; rows: number };
  copy: { in: number; out: number; firstOut: string; lastOut: string };
  large: { rows: number; sum: number };
  cancel: { sawSleep: boolean; requestOk: boolean; sqlstate: string; after: number };
}

let h: GatewayHarness;
let tag: string;

before(async () => {
  h = await GatewayHarness.start();
});
after(() => h.stop());

/** Runs one client program against the gateway with a fresh token; the token goes by PGPASSWORD, never argv. */
async function run(command: string, args: string[], o: { env?: Record<string, string> } = {}): Promise<ClientResult> {
  const token = await h.token({ repository: 'acme/drivers', claims: { run_id: '4242', run_attempt: '3' } });
  tag = 'tg:acme/drivers:4242:3';
  const env = {
    ...process.env,
    PGPASSWORD: token,
    TG_CLIENT_HOST: '127.0.0.1',
    TG_CLIENT_PORT: String(h.port),
    TG_CLIENT_DSN: `host=127.0.0.1 port=${h.port} dbname=app user=ci sslmode=require`,
    ...o.env,
  };
  const { stdout, stderr } = await exec(command, args, { env, timeout: 180_000, maxBuffer: 16 << 20 }).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`${command} failed: ${err.message}\n${err.stderr ?? ''}`);
  });
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as ClientResult;
  } catch {
    throw new Error(`${command} printed no JSON result:\n${stdout}\n${stderr}`);
  }
}

/** The recorded session of a client's main connection, by the backend pid it reported. */
async function recordedSession(pid: number): Promise<EventRecord[]> {
  await h.gateway.writer.flush();
  for (const s of h.gateway.log.listSessions(1000)) {
    const events = await h.events(s.sessionId);
    if (ofType(events, 'target.connected')[0]?.data.backendPid === pid) return events;
  }
  throw new Error(`no recorded session for backend pid ${pid}`);
}

/** Every step of the matrix, asserted the same way for each client. */
async function assertMatrix(r: ClientResult, o: { typeModes: string[]; batchMode: string; cancelOutcome?: string }): Promise<EventRecord[]> {
  assert.deepEqual(Object.keys(r.types).sort(), [...o.typeModes].sort(), 'the type round trip ran in each format the client offers');
  for (const mode of o.typeModes) assert.deepEqual(r.types[mode], EXPECTED_ROW, `${r.client}: types in ${mode}`);
  assert.deepEqual(r.prepared, [2, 4, 6], 'a prepared statement runs again with new parameters');
  assert.deepEqual(r.failedTransaction, { error: '22012', aborted: '25P02', rowsAfterRollback: 0, recovered: 1 }, 'a failed transaction rolls back and the session recovers');
  assert.deepEqual(r.batch, { mode: o.batchMode, rows: 100 });
  assert.deepEqual(r.copy, { in: 1000, out: 1000, firstOut: '1001\tcopied-1001', lastOut: '2000\tcopied-2000' });
  assert.deepEqual(r.large, { rows: 100_000, sum: 5_000_050_000 });
  assert.deepEqual(r.cancel, { sawSleep: true, requestOk: true, sqlstate: o.cancelOutcome ?? '57014', after: 1 }, 'pg_sleep is cancelled, the client says the cancel worked, the session goes on');
  assert.equal(r.applicationName, `${tag} ${r.client}-matrix`, 'the client keeps its name, behind the run tag');

  const events = await recordedSession(r.pid);
  assert.equal(ofType(events, 'session.started')[0]?.data.tls, true, `${r.client}: the session ran over TLS`);
  const texts = ofType(events, 'command.started').map((e) => e.data.text);
  for (const needle of ['CREATE TEMP TABLE items', '1/0', 'generate_series(1, 100000)', 'pg_sleep(30)', 'COPY']) {
    assert.ok(texts.some((t) => t.includes(needle)), `${r.client}: a statement with '${needle}' is recorded`);
  }
  assert.ok(texts.filter((t) => /INSERT INTO items/i.test(t)).length >= 1, `${r.client}: the batch is recorded`);
  assert.equal(ofType(events, 'cancel.requested').length, 1, `${r.client}: the cancel is recorded`);
  const sleep = ofType(events, 'command.started').find((e) => e.data.text.includes('pg_sleep(30)'))!;
  const slept = ofType(events, 'command.completed').find((e) => e.data.commandSeq === sleep.seq);
  assert.equal(slept?.data.sqlstate, '57014', `${r.client}: the target cancelled the statement`);
  return events;
  const copy = ofType(events, 'command.completed').find((e) => e.data.tags?.some((t: string) => t.startsWith('COPY 1000')));
  assert.ok(copy, `${r.client}: the COPY's outcome is recorded`);
}

describe('client matrix through the gateway over TLS', () => {
  it('psycopg 3 (libpq 17): text and binary types, prepare=True, a failed transaction, pipeline, COPY, 100k rows, cancel_safe over TLS', async () => {
    const r = await run(requiredEnv('TG_CLIENT_PYTHON'), [join(clients, 'python/matrix.py'), 'psycopg']);
    assert.ok((r.libpq ?? 0) >= 170000, `psycopg runs on libpq ${r.libpq}: the encrypted cancel needs 17`);
    await assertMatrix(r, { typeModes: ['binary', 'text'], batchMode: 'pipeline' });
  });

  it('asyncpg with its default settings (client_encoding utf-8, TLS prefer): binary types, prepare, executemany, COPY, 100k rows, cancel', async () => {
    const r = await run(requiredEnv('TG_CLIENT_PYTHON'), [join(clients, 'python/matrix.py'), 'asyncpg']);
    await assertMatrix(r, { typeModes: ['binary'], batchMode: 'executemany', cancelOutcome: 'CancelledError' });
  });

  it('pgx (Go): binary and text types, Prepare, a failed transaction, Batch, CopyFrom/CopyTo, 100k rows, CancelRequest', async () => {
    const r = await run(requiredEnv('TG_CLIENT_PGX'), []);
    await assertMatrix(r, { typeModes: ['binary', 'text'], batchMode: 'pgx.Batch' });
  });

  it('pgjdbc (Java): text and binary types, PreparedStatement, a failed transaction, addBatch, CopyManager, 100k rows, Statement.cancel', async () => {
    const r = await run('java', ['-Dfile.encoding=UTF-8', '-Dstdout.encoding=UTF-8', '--class-path', requiredEnv('TG_CLIENT_PGJDBC_JAR'), join(clients, 'pgjdbc/Matrix.java')]);
    const events = await assertMatrix(r, { typeModes: ['binary', 'text'], batchMode: 'addBatch' });
    const texts = ofType(events, 'command.started').map((e) => e.data.text);
    assert.ok(texts.some((t) => /^SET application_name = 'pgjdbc-matrix'$/i.test(t)), 'pgjdbc named itself with SET, and kept the tag in front');
  });

  it('node-postgres: text types, named statements, a failed transaction, pipeline mode, pg-copy-streams, 100k rows, cancel', async () => {
    const r = await run(process.execPath, ['--import', 'tsx', join(clients, 'node-postgres/matrix.ts')]);
    await assertMatrix(r, { typeModes: ['text'], batchMode: 'pipeline' });
  });
});

describe('the run tag in PostgreSQL\'s own log', () => {
  const TAG = 'tg:acme/drivers:4242:3';
  before(async () => {
    // log_line_prefix carries %a (tests/services/postgres.sh); statements are logged for the gateway's role only while this runs.
    const admin = await h.directSuperuser();
    await admin.query(`ALTER ROLE ${h.pg.appUser} IN DATABASE ${h.pg.database} SET log_statement = 'all'`);
    await admin.end();
  });
  after(async () => {
    const admin = await h.directSuperuser();
    await admin.query(`ALTER ROLE ${h.pg.appUser} IN DATABASE ${h.pg.database} RESET log_statement`);
    await admin.end();
  });

  /** Every statement the target logged for one backend, with the application name on its line. */
  function loggedStatements(pid: number): { app: string; text: string }[] {
    const lines = readFileSync(requiredEnv('TG_PG_LOG_FILE'), 'utf8').split('\n');
    const out = [];
    for (const line of lines) {
      const m = /\[(\d+)\] \[(.*)\] LOG: {2}(?:statement|execute [^:]*): (.*)$/.exec(line);
      if (m && Number(m[1]) === pid) out.push({ app: m[2]!, text: m[3]! });
    }
    return out;
  }

  it('shows the tag on every statement of a session that names itself, over the simple and the extended protocol', async () => {
    const token = await h.token({ repository: 'acme/drivers', claims: { run_id: '4242', run_attempt: '3' } });
    const client = new pg.Client({ host: '127.0.0.1', port: h.port, database: 'app', user: 'ci', password: token, ssl: { rejectUnauthorized: false }, application_name: 'startup-name' });
    await client.connect();
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const steps: [string, unknown[] | undefined][] = [
      ['select 1 as startup', undefined],
      ["SET application_name = 'simple-set'", undefined],
      ['select 2 as after_simple_set', undefined],
      ['select $1::int as extended_after_simple_set', [2]],
      ["select set_config('application_name', $1, false)", ['via-param']],
      ['select 3 as after_set_config_param', undefined],
      ['select $1::int as extended_after_set_config_param', [3]],
      ["SET SESSION application_name TO 'session-set'", undefined],
      ['select 4 as after_session_set', undefined],
      ["select set_config('APPLICATION_NAME', 'literal' || chr(10) || 'x', false), 5", undefined],
      ['select 6 as after_set_config_literal', undefined],
      ['BEGIN', undefined],
      ["SET LOCAL application_name = 'local-set'", undefined],
      ['select $1::int as extended_in_local', [7]],
      ['COMMIT', undefined],
      ['RESET application_name', undefined],
      ['select 8 as after_reset', undefined],
    ];
    for (const [text, values] of steps) await client.query(values ? { text, values } : text);
    // pgjdbc's way: SET over the extended protocol.
    await client.query({ name: 'rename', text: "SET application_name = 'extended-set'" });
    await client.query({ text: 'select $1::int as after_extended_set', values: [9] });
    const shown = (await client.query('show application_name')).rows[0].application_name as string;
    await client.end();

    const logged = loggedStatements(pid);
    assert.ok(logged.length >= steps.length + 2, `the target logged this session's statements (${logged.length})`);
    assert.deepEqual(logged.filter((l) => !l.app.startsWith(`${TAG} `) && l.app !== TAG), [], 'no statement was logged without the run tag');
    const appOf = (needle: string) => logged.find((l) => l.text.includes(needle))?.app;
    assert.equal(appOf('as startup'), `${TAG} startup-name`);
    assert.equal(appOf('as after_simple_set'), `${TAG} simple-set`);
    assert.equal(appOf('as extended_after_simple_set'), `${TAG} simple-set`);
    assert.equal(appOf('as after_set_config_param'), `${TAG} via-param`);
    assert.equal(appOf('as extended_after_set_config_param'), `${TAG} via-param`);
    assert.equal(appOf('as after_session_set'), `${TAG} session-set`);
    assert.equal(appOf('as after_set_config_literal'), `${TAG} literalx`, 'a newline in the name is dropped');
    assert.equal(appOf('as extended_in_local'), `${TAG} local-set`);
    assert.equal(appOf('as after_reset'), `${TAG} startup-name`);
    assert.equal(appOf('as after_extended_set'), `${TAG} extended-set`);
    assert.equal(shown, `${TAG} extended-set`);
  });
});

describe('client_encoding at startup', () => {
  /** A raw startup (drivers such as node-postgres always send UTF8): what the server reports, or the error. */
  const connect = async (encoding: string): Promise<{ shown?: string; error?: Record<string, string> }> => {
    const raw = await RawPgClient.connect(h.port);
    raw.startup({ user: 'ci', database: 'app', client_encoding: encoding });
    await raw.until('R');
    raw.password(await h.token());
    const first = await raw.until('Z', 'E');
    if (first.type === 'E') {
      raw.end();
      return { error: errorFields(first.body) };
    }
    raw.query('show client_encoding');
    const row = await raw.until('D');
    raw.end();
    return { shown: row.body.toString('utf8', 6) };
  };

  it('accepts the spellings of UTF8 that PostgreSQL accepts, asyncpg\'s quoted one included', async () => {
    for (const spelling of ["'utf-8'", 'Utf_8', 'unicode']) assert.deepEqual(await connect(spelling), { shown: 'UTF8' }, spelling);
  });

  it('refuses another encoding in the client\'s protocol, naming the fix', async () => {
    const { error } = await connect('LATIN1');
    assert.equal(error?.C, '0A000');
    assert.match(error?.M ?? '', /client_encoding=UTF8 \[TG_PG_ENCODING\]/);
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 5 });
