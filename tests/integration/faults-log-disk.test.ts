/**
 * The embedded event log's disk full (a real tmpfs made full) and turned read-only (a real ext4 image
 * that the kernel remounts read-only after an error), with strict recording: a statement that cannot be
 * recorded is not run and the client is told why in its own protocol; new sessions are refused; nothing
 * recorded is lost, and a full disk recovers by itself once space returns.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import { BreakableDisk, FullableDisk } from '../support/fault-disk.js';
import type { OpenSsh } from '../support/openssh.js';
import { postgresService } from '../support/test-env.js';

/** Marks rows of this file in the target, to prove what ran there and what did not. */
const TABLE = 'faults_log_disk';
const RUN = `${process.pid}-${Date.now()}`;
const mark = (what: string) => `${what}-${RUN}`;

async function targetRows(marker: string): Promise<number> {
  const p = postgresService();
  const c = new pg.Client({ host: p.host, port: p.port, database: p.database, user: p.superUser, password: p.superPassword });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string }>(`select count(*) as n from ${TABLE} where note = $1`, [marker]);
    return Number(rows[0]!.n);
  } finally {
    await c.end();
  }
}

async function connectError(h: GatewayHarness): Promise<{ code?: string; message: string }> {
  try {
    const c = await h.client();
    await c.end();
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('the session was accepted');
}

before(async () => {
  const p = postgresService();
  const c = new pg.Client({ host: p.host, port: p.port, database: p.database, user: p.superUser, password: p.superPassword });
  await c.connect();
  await c.query(`create table if not exists ${TABLE} (note text)`);
  await c.query(`grant insert, select on ${TABLE} to ${p.appUser}`);
  await c.end();
});

describe('the event log on a full disk', () => {
  const disk = FullableDisk.mount(16 * 1024 * 1024);
  let h: GatewayHarness;

  before(async () => {
    h = await GatewayHarness.start({ dataDir: join(disk.dir, 'data'), ssh: true });
  });
  after(async () => {
    await h?.stop();
    disk.unmount();
  });

  let cut: string;
  let ssh: OpenSsh;

  it('refuses the statement it cannot record with a FATAL 53100 TG_LOG_UNWRITABLE, and does not run it', async () => {
    ssh = h.openssh(); // its known_hosts file is written before the disk is full
    const client = await h.client();
    client.on('error', () => undefined);
    await client.query(`insert into ${TABLE} values ('${mark('before-full')}')`);
    const [{ pid }] = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows as [{ pid: number }];
    await h.gateway.writer.flush();
    disk.fill();
    // A statement large enough that its record needs blocks the log file does not have yet.
    const padding = 'x'.repeat(256 * 1024);
    const err = (await client.query(`insert into ${TABLE} select '${mark('while-full')}' where length('${padding}') > 0`).then(
      () => assert.fail('the statement ran although it could not be recorded'),
      (e: unknown) => e,
    )) as { code: string; message: string; severity: string };
    assert.equal(err.code, '53100');
    assert.equal(err.severity, 'FATAL');
    assert.match(err.message, /TG_LOG_UNWRITABLE: .*free space on the file system/);
    assert.equal(await targetRows(mark('while-full')), 0, 'the target never saw the statement');
    assert.ok(h.gateway.writer.unwritable, 'the gateway knows its log refuses writes');
    cut = [...h.gateway.log.listSessions(100)].find((s) => s.endedAt === null)?.sessionId ?? '';
    assert.ok(cut, `the open session (backend ${pid}) is in the log`);
  });

  it('refuses new Postgres sessions with 57P03 and SSH logins with the same message', async () => {
    const err = await connectError(h);
    assert.equal(err.code, '57P03');
    assert.match(err.message, /refusing new sessions: .*TG_LOG_UNWRITABLE|TG_LOG_UNWRITABLE/);
    const r = await ssh.ssh(['web@127.0.0.1', 'echo should-not-run'], { token: await h.token() });
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout.toString(), /should-not-run/);
    assert.match(r.stderr, /TG_LOG_UNWRITABLE/);
  });

  it('recovers once space returns: what it held is written, in order, and sessions are taken again', async () => {
    const recovered = once(h.gateway.writer, 'recovered');
    disk.free();
    await recovered;
    assert.equal(h.gateway.writer.unwritable, null);
    assert.equal(h.gateway.writer.heldRecords, 0);
    const events = await h.events(cut);
    const started = ofType(events, 'command.started').map((e) => e.data.text);
    assert.ok(started.some((t) => t.includes(mark('while-full'))), 'the refused statement is recorded');
    const completed = ofType(events, 'command.completed').at(-1)!;
    assert.equal(completed.data.outcome, 'error');
    const ended = ofType(events, 'session.ended')[0]!;
    assert.equal(ended.data.reason, 'recording-unavailable');
    assert.match(ended.data.detail ?? '', /TG_LOG_UNWRITABLE/);

    const again = await h.client();
    await again.query(`insert into ${TABLE} values ('${mark('after-full')}')`);
    await again.end();
    assert.equal(await targetRows(mark('after-full')), 1);
    const r = await ssh.ssh(['web@127.0.0.1', 'echo ran-after-full'], { token: await h.token() });
    assert.equal(r.code, 0, r.stderr);
  });

  it('verifies every session as intact, the cut one and the refused ones included', async () => {
    const refused = h.gateway.log.listSessions(100).filter((s) => s.endReason === 'recording-unavailable');
    assert.equal(refused.length, 3, 'the cut session and both refusals were recorded');
    const report = await h.stopAndVerify();
    assert.equal(report.sessions.length, 5, 'the cut one, two refused, two after recovery');
    assert.deepEqual(report.sessions.filter((s) => s.status !== 'intact'), []);
    assert.equal(report.ok, true);
  });
});

describe('the records held for a full disk, bounded by recording.maxHeldBytes', () => {
  const disk = FullableDisk.mount(16 * 1024 * 1024);
  const bound = 256 * 1024;
  let h: GatewayHarness;

  before(async () => {
    h = await GatewayHarness.start({ dataDir: join(disk.dir, 'data'), maxHeldBytes: bound });
  });
  after(async () => {
    await h?.stop();
    disk.unmount();
  });

  it('past the bound ends open sessions with a FATAL TG_LOG_HELD_LIMIT and keeps nothing of the sessions it refuses', async () => {
    const idle = await h.client();
    const idleError = new Promise<{ code?: string; message: string }>((resolve) => idle.on('error', resolve));
    await idle.query('select 1');
    const cutting = await h.client();
    cutting.on('error', () => undefined);
    await h.gateway.writer.flush();
    disk.fill();
    const passedBound = once(h.gateway.writer, 'held-limit');
    // One statement whose record alone is larger than the bound.
    const padding = 'x'.repeat(bound + 64 * 1024);
    const err = (await cutting.query(`insert into ${TABLE} select '${mark('past-bound')}' where length('${padding}') > 0`).then(
      () => assert.fail('the statement ran although it could not be recorded'),
      (e: unknown) => e,
    )) as { code: string; message: string };
    assert.equal(err.code, '53100');
    assert.ok(h.gateway.writer.overHeldLimit, `the held records (${h.gateway.writer.heldBytes} bytes) are past the bound`);
    await passedBound;

    const ended = await idleError;
    assert.equal(ended.code, '53100', 'the idle session is ended with a FATAL its driver reports');
    assert.match(ended.message, /TG_LOG_HELD_LIMIT: .*recording\.maxHeldBytes .*free space on the file system/);

    const held = h.gateway.writer.heldBytes;
    const dropped = h.gateway.writer.droppedRecords;
    const attempts = 20;
    for (let i = 0; i < attempts; i++) {
      const refused = await connectError(h);
      assert.equal(refused.code, '57P03');
      assert.match(refused.message, /TG_LOG_HELD_LIMIT/);
    }
    assert.ok(h.gateway.writer.droppedRecords >= dropped + 3 * attempts, 'each refusal past the bound is counted, not kept');
    // The idle session's final checkpoint may still be signed into the held records; refusals add nothing.
    assert.ok(h.gateway.writer.heldBytes < held + 4096, `held records stay at ${held} bytes, not ${h.gateway.writer.heldBytes}`);
    assert.equal(await targetRows(mark('past-bound')), 0);
  });

  it('recovers once space returns, and every recorded session verifies intact', async () => {
    const recovered = once(h.gateway.writer, 'recovered');
    disk.free();
    await recovered;
    assert.equal(h.gateway.writer.overHeldLimit, null);
    assert.equal(h.gateway.writer.heldBytes, 0);
    const again = await h.client();
    await again.query(`insert into ${TABLE} values ('${mark('after-bound')}')`);
    await again.end();
    assert.equal(await targetRows(mark('after-bound')), 1);
    const report = await h.stopAndVerify();
    assert.equal(report.sessions.length, 3, 'the idle and the cut sessions and the one after recovery; refusals past the bound are not kept');
    assert.deepEqual(report.sessions.filter((s) => s.status !== 'intact'), []);
    assert.equal(report.ok, true);
  });
});

describe('the event log on a file system that turns read-only', () => {
  const disk = BreakableDisk.mount(32);
  const dataDir = join(disk.dir, 'data');
  let h: GatewayHarness;
  after(async () => {
    await h?.stop();
    disk.unmount();
  });

  let whole: string;
  let cut: string;

  it('refuses the statement with a FATAL 58030 TG_LOG_UNWRITABLE and new sessions with 57P03', async () => {
    h = await GatewayHarness.start({ dataDir });
    const done = await h.client();
    await done.query(`insert into ${TABLE} values ('${mark('before-ro')}')`);
    await done.end();
    const client = await h.client();
    client.on('error', () => undefined);
    await client.query('select 1');
    await h.gateway.writer.flush();
    const sessions = h.gateway.log.listSessions(10);
    cut = sessions.find((s) => s.endedAt === null)!.sessionId;
    whole = sessions.find((s) => s.endedAt !== null)!.sessionId;
    disk.breakIt();
    const err = (await client.query(`insert into ${TABLE} values ('${mark('while-ro')}')`).then(
      () => assert.fail('the statement ran although it could not be recorded'),
      (e: unknown) => e,
    )) as { code: string; message: string };
    assert.equal(err.code, '58030');
    assert.match(err.message, /TG_LOG_UNWRITABLE: .*make the file system .* writable again/);
    assert.equal(await targetRows(mark('while-ro')), 0, 'the target never saw the statement');
    const refused = await connectError(h);
    assert.equal(refused.code, '57P03');
  });

  it('after a repair and a restart, the cut session is truncated, never whole, and the earlier one intact', async () => {
    await h.stop();
    disk.repair();
    // The lock names this very process (the test restarts in-process); a new gateway process finds it stale.
    rmSync(join(dataDir, 'gateway-test-gw.pid'), { force: true });
    h = await GatewayHarness.start({ dataDir });
    assert.ok(h.gateway.aborted.includes(cut), 'the restart closes the cut session as aborted');
    const report = await h.stopAndVerify();
    const status = Object.fromEntries(report.sessions.map((s) => [s.sessionId, s.status]));
    assert.equal(status[whole], 'intact');
    assert.equal(status[cut], 'truncated');
  });
});
