/**
 * The node-postgres step of the client matrix (tests/integration/postgres-clients.test.ts): one session
 * through the gateway over TLS, every step a CI job's Node program would take, one JSON result on stdout.
 * node-postgres reads its results as text (its binary mode has no parsers for most of these types).
 */
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

const TYPES = 'SELECT $1::int4, $2::int8, $3::numeric, $4::text, $5::bytea, $6::timestamptz, $7::uuid, $8::jsonb, $9::int4[], $10::text[]';
const config = {
  host: process.env.TG_CLIENT_HOST,
  port: Number(process.env.TG_CLIENT_PORT),
  database: 'app',
  user: 'ci',
  // The token comes in PGPASSWORD, which node-postgres reads as libpq does.
  ssl: { rejectUnauthorized: false },
};

const sqlstate = (e: unknown) => (e as { code?: string }).code ?? String(e);

async function main(): Promise<void> {
  const conn = new pg.Client({ ...config, application_name: 'node-postgres-matrix' });
  const watcher = new pg.Client(config);
  const pipelined = new pg.Client({ ...config, pipeline: true } as pg.ClientConfig);
  await Promise.all([conn.connect(), watcher.connect(), pipelined.connect()]);
  const one = async (sql: string, values?: unknown[]) => (await conn.query({ text: sql, values, rowMode: 'array' })).rows[0]![0];
  const out: Record<string, unknown> = { client: 'node-postgres' };
  const pid = (await one('SELECT pg_backend_pid()')) as number;
  out.pid = pid;
  out.applicationName = await one("SELECT current_setting('application_name')");
  await conn.query('CREATE TEMP TABLE items (id int PRIMARY KEY, name text)');

  const values = [2147483647, '9223372036854775807', '12345678901234567890.123456789', 'héllo wörld ✓', Buffer.from('deadbeef00', 'hex'),
    new Date('2024-02-29T12:34:56.789Z'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', { a: [1, 2, { b: null }], c: 'd' }, [1, 2, 3], ['a', 'b c', 'd,e']];
  const r = (await conn.query({ text: TYPES, values, rowMode: 'array' })).rows[0] as unknown[];
  out.types = {
    text: {
      int: r[0], bigint: r[1], numeric: r[2], text: r[3], bytea: (r[4] as Buffer).toString('hex'), timestamptz: (r[5] as Date).toISOString(),
      uuid: r[6], jsonb: r[7], intArray: r[8], textArray: r[9],
    },
  };

  const prepared = [];
  for (const i of [1, 2, 3]) prepared.push((await conn.query({ name: 'double', text: 'SELECT $1::int * 2', values: [i], rowMode: 'array' })).rows[0]![0]);
  out.prepared = prepared;

  await conn.query('BEGIN');
  await conn.query("INSERT INTO items VALUES (1, 'lost')");
  const failed = await conn.query('SELECT 1/0').then(() => '', sqlstate);
  const aborted = await conn.query('SELECT 1').then(() => '', sqlstate);
  await conn.query('ROLLBACK');
  out.failedTransaction = { error: failed, aborted, rowsAfterRollback: Number(await one('SELECT count(*) FROM items')), recovered: await one('SELECT 1') };

  // Pipeline mode (pg 8.23): every query goes out at once, answers come back in order.
  await pipelined.query('CREATE TEMP TABLE items (id int PRIMARY KEY, name text)');
  await Promise.all(Array.from({ length: 100 }, (_, k) => pipelined.query('INSERT INTO items VALUES ($1, $2)', [k + 1, `batch-${k + 1}`])));
  out.batch = { mode: 'pipeline', rows: Number((await pipelined.query('SELECT count(*) AS n FROM items')).rows[0].n) };

  const lines = Array.from({ length: 1000 }, (_, k) => `${k + 1001}\tcopied-${k + 1001}\n`);
  const ingest = conn.query(copyFrom('COPY items (id, name) FROM STDIN'));
  await pipeline(Readable.from(lines), ingest);
  let copied = '';
  await pipeline(conn.query(copyTo('COPY (SELECT id, name FROM items WHERE id > 1000 ORDER BY id) TO STDOUT')), new Writable({
    write(chunk: Buffer, _enc, done) {
      copied += chunk.toString();
      done();
    },
  }));
  const outLines = copied.trimEnd().split('\n');
  out.copy = { in: ingest.rowCount, out: outLines.length, firstOut: outLines[0], lastOut: outLines[outLines.length - 1] };

  const large = await conn.query({ text: 'SELECT g, md5(g::text) FROM generate_series(1, 100000) g', rowMode: 'array' });
  out.large = { rows: large.rows.length, sum: large.rows.reduce((s: number, row: unknown[]) => s + (row[0] as number), 0) };

  const sleep = conn.query('SELECT pg_sleep(30)');
  const slept = sleep.then(() => 'finished', sqlstate);
  let saw = false;
  for (let i = 0; i < 1000 && !saw; i++) {
    saw = (await watcher.query("SELECT count(*) = 1 AS s FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'PgSleep'", [pid])).rows[0].s as boolean;
    if (!saw) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  // node-postgres cancels through a second client object, which sends the CancelRequest with the first one's key.
  const canceller = new pg.Client(config) as pg.Client & { cancel(client: pg.Client, query: unknown): void; connection: { once(e: string, f: () => void): void } };
  const activeQuery = (conn as unknown as { activeQuery: unknown }).activeQuery;
  canceller.cancel(conn, activeQuery);
  out.cancel = { sawSleep: saw, requestOk: true, sqlstate: await slept, after: await one('SELECT 1') };

  await Promise.all([conn.end(), watcher.end(), pipelined.end()]);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exitCode = 1;
});
