/**
 * The gateway killed with SIGKILL in the middle of a session: the restarted gateway closes that
 * session with an explicit aborted record, and `trailgate verify` calls it truncated, never whole.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { postgresService } from '../support/test-env.js';
import { CLI, stopProcess, upDev, type RunningUp } from '../support/trailgate-up.js';

const exec = promisify(execFile);
const cli = CLI;
let dir: string;
let config: string;
let running: ChildProcess | null = null;

async function up(): Promise<RunningUp> {
  const started = await upDev(config, dir);
  running = started.child;
  return started;
}

const stop = stopProcess;

async function trailgate(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await exec(process.execPath, [cli, '--config', config, ...args], { cwd: dir });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, stdout: e.stdout };
  }
}

async function client(port: number): Promise<pg.Client> {
  const token = (await trailgate('token', '--repository', 'acme/payments')).stdout.trim();
  const c = new pg.Client({ host: '127.0.0.1', port, database: 'app', user: 'ci', password: token });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Waits, boundedly, until the gateway has sealed a session it ended. */
async function sealed(sessionCount: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const db = new Database(join(dir, 'trailgate.db'), { readonly: true });
    const n = db.prepare('SELECT COUNT(*) FROM sessions WHERE sealed = 1').pluck().get() as number;
    db.close();
    if (n >= sessionCount) return;
    await delay(50);
  }
  throw new Error(`fewer than ${sessionCount} sealed sessions after 10 s`);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'trailgate-crash-'));
  config = join(dir, 'trailgate.yaml');
  const p = postgresService();
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: join(dir),
      instance: 'crash-gw',
      postgres: { listen: { host: '127.0.0.1', port: 0 } },
      targets: { app: { host: p.host, port: p.port, database: p.database, user: p.appUser, password: { env: 'TG_PG_APP_PASSWORD' } } },
      policy: { rules: [{ name: 'ci', issuers: ['dev'], repository: 'acme/*', targets: ['app'], rights: ['all'] }] },
    }),
  );
});

after(async () => {
  if (running) await stop(running, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('a gateway killed mid-session', () => {
  let victim: string;

  it('is restarted, and closes the session it owned as aborted', async () => {
    const first = await up();
    const finished = await client(first.port);
    await finished.query('select 1');
    await finished.end();
    await sealed(1);

    const live = await client(first.port);
    await live.query('create temp table work (n int)');
    // Strict recording: this statement's event is on disk before the target ran it.
    await live.query('insert into work select generate_series(1, 100)');
    await stop(first.child, 'SIGKILL');

    const second = await up();
    const m = /recovered\s+1 session\(s\) the previous run left open, closed as aborted: (\S+)/.exec(second.out);
    assert.ok(m, `the restart reports the aborted session:\n${second.out}`);
    victim = m[1]!;
    await stop(second.child, 'SIGTERM');

    const events = (await trailgate('events', victim, '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    const types = events.map((e) => e.type);
    assert.ok(types.includes('command.started'), 'what reached the log before the kill is kept');
    assert.equal(types.at(-2), 'session.aborted');
    assert.equal(types.at(-1), 'checkpoint.signed');
    assert.equal(events.at(-1)!.data.final, true);
    assert.ok(!types.includes('session.ended'), 'no invented end');
  });

  it('is reported truncated by verify, while the session that ended before the kill is intact', async () => {
    const one = await trailgate('verify', victim);
    assert.equal(one.code, 1);
    assert.match(one.stdout, new RegExp(`${victim}\\s+truncated\\s+.*aborted at seq \\d+`));

    const all = await trailgate('verify', '--all', '--json');
    assert.equal(all.code, 1);
    const report = JSON.parse(all.stdout) as { sessions: { sessionId: string; status: string; failure?: { kind: string } }[]; ledgers: { failure?: unknown; sessionsListed: number }[] };
    assert.equal(report.sessions.length, 2);
    for (const s of report.sessions) {
      if (s.sessionId === victim) assert.deepEqual([s.status, s.failure?.kind], ['truncated', 'aborted']);
      else assert.equal(s.status, 'intact');
    }
    assert.equal(report.ledgers[0]!.failure, undefined);
    assert.equal(report.ledgers[0]!.sessionsListed, 2, 'the ledger names the aborted session too');
  });
});
