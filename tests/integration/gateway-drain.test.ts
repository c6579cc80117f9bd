/**
 * SIGTERM on a real `trailgate gateway` process under load from the pg driver: readiness turns false
 * first while the listener still answers (new sessions get 57P03 TG_GATEWAY_DRAINING), sessions in
 * flight go on and end cleanly, a session still open at shutdown.drainSeconds is ended and recorded,
 * the process exits 0 and `trailgate verify --all` proves every recording intact. Consumer roles
 * answer /healthz and /readyz on their metrics port too.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { DevIssuer } from '../../services/dev/dev-issuer.js';
import { eventually, kafkaLog } from '../support/kafka-env.js';
import { postgresService } from '../support/test-env.js';

const exec = promisify(execFile);
const cli = resolve(import.meta.dirname, '../../bin/trailgate.js');
const dirs: string[] = [];
const children: ChildProcess[] = [];

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
  match: RegExpExecArray;
}

function start(args: string[], ready: RegExp): Promise<Started> {
  return new Promise((resolveStart, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not report readiness:\n${out}`)), 120_000);
    let done = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        resolveStart({ child, out: () => out, exited, match: m });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      if (!done) reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`));
    });
  });
}

async function gatewayWith(shutdown: { drainSeconds: number; spoolFlushSeconds?: number }, extra: (dir: string) => Record<string, unknown> = () => ({}), role: 'gateway' | 'up' = 'gateway') {
  const dir = mkdtempSync(join(tmpdir(), 'trailgate-drain-'));
  dirs.push(dir);
  const issuer = await DevIssuer.openOrCreate(join(dir, 'issuer'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(issuer.jwks()));
  const pgs = postgresService();
  const config = join(dir, 'trailgate.json');
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      instance: 'gw-drain',
      identity: { issuers: [{ ...issuer.issuerConfig(), jwksFile: join(dir, 'jwks.json') }] },
      postgres: { listen: { host: '127.0.0.1', port: 0 } },
      targets: { app: { host: pgs.host, port: pgs.port, database: pgs.database, user: pgs.appUser, password: { env: 'TG_PG_APP_PASSWORD' } } },
      policy: { rules: [{ name: 'tests', issuers: ['dev'], subject: '**', targets: ['app'], rights: ['all'] }] },
      metrics: { host: '127.0.0.1', port: 0 },
      shutdown: { spoolFlushSeconds: 1, ...shutdown },
      ...extra(dir),
    }),
  );
  const ready = role === 'up' ? /postgres\s+127\.0\.0\.1:(\d+)/ : /postgres\s+127\.0\.0\.1:(\d+)[\s\S]*metrics\s+http:\/\/(127\.0\.0\.1:\d+)\/metrics/;
  const gw = await start(['--config', config, role], ready);
  const port = Number(gw.match[1]);
  const metrics = `http://${gw.match[2]}`;
  const connect = async () => {
    const client = new pg.Client({ host: '127.0.0.1', port, database: 'app', user: 'ci', password: await issuer.mint() });
    await client.connect();
    return client;
  };
  const trailgate = async (...args: string[]) => {
    try {
      const { stdout } = await exec(process.execPath, [cli, '--config', config, ...args]);
      return { code: 0, stdout };
    } catch (err) {
      const e = err as { code: number; stdout: string };
      return { code: e.code, stdout: e.stdout };
    }
  };
  return { gw, dir, config, port, metrics, connect, trailgate };
}

async function readiness(metrics: string): Promise<{ status: number; body: { ready: boolean; draining: boolean; checks: { name: string; ok: boolean; detail?: string }[] } }> {
  const res = await fetch(`${metrics}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
}

interface SessionRow {
  sessionId: string;
  endReason: string | null;
  sealed: boolean;
}

type Cli = (...a: string[]) => Promise<{ stdout: string }>;

async function sessions(trailgate: Cli): Promise<SessionRow[]> {
  const out = (await trailgate('sessions', '--json', '--limit', '100')).stdout.trim();
  return out ? out.split('\n').map((l) => JSON.parse(l) as SessionRow) : [];
}

/** The detail of a session's `session.ended` record. */
async function endDetail(trailgate: Cli, sessionId: string): Promise<string> {
  const events = (await trailgate('events', sessionId, '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: { detail?: string } });
  return events.find((e) => e.type === 'session.ended')?.data.detail ?? '';
}

describe('SIGTERM drains a gateway', () => {
  it('turns readiness false before the listener closes, lets sessions in flight finish, and every recording verifies', async () => {
    const { gw, port, metrics, connect, trailgate } = await gatewayWith({ drainSeconds: 300 });
    const live = await fetch(`${metrics}/healthz`);
    assert.equal(live.status, 200);
    const before = await readiness(metrics);
    assert.equal(before.status, 200, JSON.stringify(before.body));
    assert.deepEqual(before.body.checks.map((c) => [c.name, c.ok]), [['signing-key', true], ['listeners', true], ['log', true]]);

    // Load: eight sessions each running statements back to back until told to finish.
    const clients = await Promise.all(Array.from({ length: 8 }, () => connect()));
    let finishing = false;
    const counts = clients.map(() => 0);
    const workers = clients.map(async (client, i) => {
      await client.query('create temporary table work (n int)');
      while (!finishing) {
        await client.query('insert into work values ($1)', [counts[i]]);
        counts[i]!++;
      }
      // Statements after SIGTERM still reach the target and are recorded.
      const { rows } = await client.query<{ n: string }>('select count(*) as n from work');
      await client.end();
      return Number(rows[0]!.n);
    });
    await eventually(() => counts.every((c) => c >= 3), 'every session to have statements in flight');

    gw.child.kill('SIGTERM');
    await eventually(async () => (await readiness(metrics)).status === 503, 'readiness to turn false');
    const during = await readiness(metrics);
    assert.equal(during.body.draining, true);
    assert.ok(during.body.checks.some((c) => c.name === 'draining' && !c.ok && /SIGTERM/.test(c.detail ?? '')));

    // The listener is still bound and answers in the client's protocol: no new session.
    const latecomer = new pg.Client({ host: '127.0.0.1', port, database: 'app', user: 'ci', password: 'unused' });
    await assert.rejects(latecomer.connect(), (err: Error & { code?: string }) => {
      assert.equal(err.code, '57P03');
      assert.match(err.message, /TG_GATEWAY_DRAINING/);
      return true;
    });
    assert.equal(gw.child.exitCode, null, 'the gateway waits for the open sessions');

    finishing = true;
    const inserted = await Promise.all(workers);
    assert.deepEqual(inserted, counts, 'every statement of every session reached the target');
    assert.equal(await gw.exited, 0);

    const rows = await sessions(trailgate);
    assert.equal(rows.length, 9);
    assert.ok(rows.every((r) => r.sealed), 'every session has its signed end');
    const refused = rows.filter((r) => r.endReason === 'gateway-shutdown');
    assert.equal(refused.length, 1, 'the latecomer is recorded as refused by the shutdown');
    assert.match(await endDetail(trailgate, refused[0]!.sessionId), /TG_GATEWAY_DRAINING/);
    assert.equal(rows.filter((r) => r.endReason === 'client-terminated').length, 8, 'the sessions in flight ended as their clients ended them');

    const verify = await trailgate('verify', '--all', '--json');
    const report = JSON.parse(verify.stdout) as { sessions: { status: string }[] };
    assert.equal(verify.code, 0, verify.stdout);
    assert.equal(report.sessions.length, 9);
    assert.ok(report.sessions.every((s) => s.status === 'intact'));
  });

  it('ends a session still open at shutdown.drainSeconds, records why, and the recording verifies', async () => {
    const { gw, connect, trailgate } = await gatewayWith({ drainSeconds: 1 });
    const idle = await connect();
    await idle.query('select 1');
    // The first error is the gateway's FATAL; the end of the connection follows it.
    const lost = new Promise<Error & { code?: string; detail?: string }>((r) => idle.on('error', r));
    gw.child.kill('SIGTERM');
    assert.equal(await gw.exited, 0);
    const err = await lost;
    assert.equal(err.code, '57P01', 'the client is told as by a PostgreSQL shutdown');
    assert.match(err.detail ?? '', /TG_GATEWAY_DRAIN_DEADLINE/);
    assert.match(gw.out(), /drain deadline reached; ending 1 session/);

    const rows = await sessions(trailgate);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.endReason, 'gateway-shutdown');
    assert.ok(rows[0]!.sealed);
    assert.match(await endDetail(trailgate, rows[0]!.sessionId), /TG_GATEWAY_DRAIN_DEADLINE/);
    const verify = await trailgate('verify', '--all');
    assert.equal(verify.code, 0, verify.stdout);
  });

  it('drains `trailgate up` the same way: the open session goes on, a newcomer is refused, a second signal ends the rest', async () => {
    const { gw, port, connect, trailgate } = await gatewayWith({ drainSeconds: 300 }, () => ({}), 'up');
    const open = await connect();
    await open.query('select 1');
    const ended = new Promise<Error & { code?: string }>((r) => open.on('error', r));
    gw.child.kill('SIGTERM');
    await eventually(() => /SIGTERM: no new sessions/.test(gw.out()), 'up to announce the drain');
    const latecomer = new pg.Client({ host: '127.0.0.1', port, database: 'app', user: 'ci', password: 'unused' });
    await assert.rejects(latecomer.connect(), (err: Error & { code?: string }) => err.code === '57P03' && /TG_GATEWAY_DRAINING/.test(err.message));
    const { rows } = await open.query<{ n: number }>('select 2 as n');
    assert.equal(rows[0]!.n, 2, 'the open session still reaches the target while up drains');
    assert.equal(gw.child.exitCode, null, 'up waits for the open session');

    gw.child.kill('SIGTERM');
    assert.equal((await ended).code, '57P01', 'the second signal ends the session as a PostgreSQL shutdown would');
    assert.equal(await gw.exited, 1);
    const recorded = await sessions(trailgate);
    assert.deepEqual(recorded.map((r) => r.endReason).sort(), ['gateway-shutdown', 'gateway-shutdown']);
    const verify = await trailgate('verify', '--all');
    assert.equal(verify.code, 0, verify.stdout);
  });

  it('serves /healthz and /readyz on a consumer role\'s metrics port', async () => {
    // The forwarder reads an embedded log; a gateway that ran once leaves one.
    const { gw, dir } = await gatewayWith({ drainSeconds: 1 });
    gw.child.kill('SIGTERM');
    assert.equal(await gw.exited, 0);
    const fwConfig = join(dir, 'forwarder.json');
    writeFileSync(fwConfig, JSON.stringify({ dataDir: join(dir, 'data'), consumers: { forwarder: { kind: 'ndjson', file: join(dir, 'out.ndjson') } } }));
    const fw = await start(['--config', fwConfig, 'forwarder', '--metrics-port', '0'], /metrics\s+(http:\/\/127\.0\.0\.1:\d+)\/metrics/);
    const base = fw.match[1]!;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const ready = await readiness(base);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.ok(ready.body.checks.length > 0 && ready.body.checks.every((c) => /^(log|sink):/.test(c.name) && c.ok), JSON.stringify(ready.body.checks));
    fw.child.kill('SIGTERM');
    assert.equal(await fw.exited, 0, `${fw.out()} signal ${fw.child.signalCode}`);
  });

  it('on Kafka, flushes the spool to Kafka before it exits: a forwarder started afterwards reads the whole session', async () => {
    const { gw, dir, config, metrics, connect } = await gatewayWith({ drainSeconds: 30, spoolFlushSeconds: 120 }, (d) => ({ log: kafkaLog(), consumers: { forwarder: { kind: 'ndjson', file: join(d, 'forwarded.ndjson') } } }));
    const ready = await readiness(metrics);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    const client = await connect();
    await client.query("select 'spooled before the shutdown' as what");
    await client.end();
    gw.child.kill('SIGTERM');
    assert.equal(await gw.exited, 0);
    assert.doesNotMatch(gw.out(), /TG_SPOOL_NOT_FLUSHED/);

    // The gateway is gone; what Kafka has now is all it will ever get from this run.
    const fw = await start(['--config', config, 'forwarder'], /trailgate forwarder is up/);
    const file = join(dir, 'forwarded.ndjson');
    const types = () => {
      try {
        return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { type: string }).type);
      } catch {
        return [];
      }
    };
    await eventually(() => types().includes('session.ended'), 'the forwarder to read the session\'s end from Kafka');
    assert.ok(types().includes('command.started'));
    fw.child.kill('SIGTERM');
    assert.equal(await fw.exited, 0);
  });
});
