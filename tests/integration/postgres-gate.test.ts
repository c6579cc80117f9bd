/**
 * The relay holds a statement before it reaches the target and can answer it with its own error while
 * the connection stays usable: in the simple protocol, mid extended-protocol batch, and inside a
 * transaction (which the target then treats as failed, as it would its own error).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GateVerdict, StatementGate } from '../../services/gateway/postgres/statement-gate.js';
import { serialize } from 'pg-protocol';
import { GatewayHarness, ofType, sessionOf } from '../support/gateway-harness.js';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import { RawPgClient, errorFields } from '../support/raw-pg.js';

/** A stand-in for the policy engine: denies by marker, holds by marker until released. */
class MarkerGate implements StatementGate {
  readonly held: { text: string; release: (v: GateVerdict) => void }[] = [];
  private onHeld: (() => void) | null = null;

  check(statement: { text: string }): GateVerdict | Promise<GateVerdict> {
    if (statement.text.includes('forbidden_marker')) {
      return { action: 'deny', sqlstate: '42501', message: 'statement denied by test policy: right "ddl" is missing', hint: 'ask for the ddl right' };
    }
    if (statement.text.includes('hold_marker')) {
      return new Promise((release) => {
        this.held.push({ text: statement.text, release });
        this.onHeld?.();
      });
    }
    return { action: 'forward' };
  }

  nextHeld(): Promise<void> {
    return new Promise((resolve) => (this.onHeld = resolve));
  }
}

const gate = new MarkerGate();
let h: GatewayHarness;

before(async () => {
  h = await GatewayHarness.start({ gate });
});
after(async () => {
  await h.stop();
});

describe('statement gate', () => {
  it('denies a simple-protocol statement with 42501 and keeps the connection usable', async () => {
    const client = await h.client();
    const sessionId = await sessionOf(h, client);
    await assert.rejects(client.query("select 'forbidden_marker'"), (e: { code?: string; message: string; hint?: string }) => {
      assert.equal(e.code, '42501');
      assert.match(e.message, /right "ddl" is missing/);
      assert.equal(e.hint, 'ask for the ddl right');
      return true;
    });
    const { rows } = await client.query('select 2 as after_denial');
    assert.equal(rows[0].after_denial, 2);
    const started = ofType(await h.events(sessionId), 'command.started').find((c) => c.data.text.includes('forbidden_marker'))!;
    const done = ofType(await h.events(sessionId), 'command.completed').find((c) => c.data.commandSeq === started.seq)!;
    assert.equal(done.data.outcome, 'denied');
    assert.equal(done.data.sqlstate, '42501');
    await client.end();
  });

  it('denies a statement in the middle of an extended-protocol batch and serves the next batch', async () => {
    const raw = await RawPgClient.connect(h.port);
    raw.startup({ user: 'ci', database: 'app' });
    await raw.until('R');
    raw.password(await h.token());
    await raw.until('Z');
    const execute = (text: string) => [serialize.parse({ text, types: [] }), serialize.bind({}), serialize.execute({})];
    // One batch: an allowed statement, a denied one, one behind it, then Sync; then a second batch.
    raw.send(Buffer.concat([...execute('select 1'), ...execute("select 'forbidden_marker'"), ...execute('select 3'), serialize.sync()]));
    raw.send(Buffer.concat([...execute('select 4'), serialize.sync()]));
    const seen: string[] = [];
    let denial: Record<string, string> = {};
    for (let ready = 0; ready < 2; ) {
      const msg = (await raw.next())!;
      seen.push(msg.type);
      if (msg.type === 'E') denial = errorFields(msg.body);
      if (msg.type === 'Z') ready++;
    }
    // Parse, Bind, row, complete for the first; the error; nothing for the third; then the next batch whole.
    assert.deepEqual(seen, ['1', '2', 'D', 'C', 'E', 'Z', '1', '2', 'D', 'C', 'Z']);
    assert.equal(denial.C, '42501');
    assert.match(denial.M!, /right "ddl" is missing/);
    raw.end();
  });

  it('fails the surrounding transaction, so nothing before the denial is committed', async () => {
    const client = await h.client();
    await client.query('create table if not exists gate_probe (id int)');
    await client.query('truncate gate_probe');
    await client.query('begin');
    await client.query('insert into gate_probe values (1)');
    await assert.rejects(client.query('drop table gate_probe -- forbidden_marker'), (e: { code?: string }) => e.code === '42501');
    const commit = await client.query('commit');
    assert.equal(commit.command, 'ROLLBACK');
    const { rows } = await client.query('select count(*)::int as n from gate_probe');
    assert.equal(rows[0].n, 0);
    await client.end();
  });

  it('holds a statement, and everything after it, until the decision comes', async () => {
    const client = await h.client();
    const order: string[] = [];
    const heldNow = gate.nextHeld();
    const held = client.query("select 'hold_marker' as v").then(() => order.push('held statement answered'));
    const after = client.query('select 1 as behind').then(() => order.push('statement behind it answered'));
    await heldNow;
    // While held, the target has not seen the statement.
    const admin = await h.directSuperuser();
    const { rows } = await admin.query("select count(*)::int as n from pg_stat_activity where query like '%hold_marker%' and pid <> pg_backend_pid()");
    await admin.end();
    assert.equal(rows[0].n, 0);
    order.push('released');
    gate.held.shift()!.release({ action: 'forward' });
    await Promise.all([held, after]);
    assert.deepEqual(order, ['released', 'held statement answered', 'statement behind it answered']);
    await client.end();
  });

  it('answers a held statement with a denial when the decision is no', async () => {
    const client = await h.client();
    const heldNow = gate.nextHeld();
    const held = client.query("select 'hold_marker' as v");
    await heldNow;
    gate.held.shift()!.release({ action: 'deny', sqlstate: '42501', message: 'approval denied by test approver' });
    await assert.rejects(held, (e: { code?: string; message: string }) => e.code === '42501' && /approval denied/.test(e.message));
    const { rows } = await client.query('select 5 as usable');
    assert.equal(rows[0].usable, 5);
    await client.end();
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 3 });
