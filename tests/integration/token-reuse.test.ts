/**
 * Token replay: a token copied from one job can open sessions only as its issuer's `tokenReuse` allows
 * (default same-client), over both protocols, across a gateway restart and across gateways on Kafka;
 * every reuse is in the later session's recording. Clients come from two loopback addresses.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { EventRecord } from '../../events/index.js';
import type { PendingRecord } from '../../connectors/embedded-log/embedded-log.js';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import { kafkaLog } from '../support/kafka-env.js';

const FIRST = '127.0.0.1';
const SECOND = '127.0.0.2';

/** A `pg` client whose connection leaves from `localAddress`. */
async function connectFrom(h: GatewayHarness, localAddress: string, token: string): Promise<{ client?: pg.Client; error?: { code?: string; message: string } }> {
  const stream = () => {
    const socket = new net.Socket();
    const connect = socket.connect.bind(socket) as (o: net.TcpNetConnectOpts) => net.Socket;
    socket.connect = ((port: number, host: string) => connect({ port, host, localAddress })) as unknown as typeof socket.connect;
    return socket;
  };
  const client = new pg.Client({ host: '127.0.0.1', port: h.port, database: 'app', user: 'ci', password: token, stream });
  try {
    await client.connect();
    await client.query('select 1');
    return { client };
  } catch (err) {
    await client.end().catch(() => undefined);
    return { error: err as { code?: string; message: string } };
  }
}

/** Opens and closes a Postgres session from `address`; resolves with the client's view and the session's events. */
async function pgSession(h: GatewayHarness, address: string, token: string): Promise<{ error?: { code?: string; message: string }; events: EventRecord[] }> {
  const ended = h.endedSession((ev) => ofType(ev, 'session.started')[0]?.client.address === address && ev[0]?.data !== undefined && ofType(ev, 'session.started')[0]!.data.protocol === 'postgres');
  const r = await connectFrom(h, address, token);
  await r.client?.end();
  return { ...(r.error ? { error: r.error } : {}), events: await ended };
}

describe('token reuse, same-client (the default)', () => {
  let h: GatewayHarness;
  const dataDir = mkdtempSync(join(tmpdir(), 'trailgate-reuse-'));
  before(async () => {
    h = await GatewayHarness.start({ ssh: true, dataDir });
  });
  after(async () => {
    await h?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lets the first client open more sessions, each reuse recorded as allowed', async () => {
    const token = await h.token();
    const first = await pgSession(h, FIRST, token);
    assert.equal(first.error, undefined);
    assert.equal(ofType(first.events, 'token.reused').length, 0, 'a first use is no reuse');
    const again = await pgSession(h, FIRST, token);
    assert.equal(again.error, undefined);
    const reused = ofType(again.events, 'token.reused')[0]!;
    assert.equal(reused.data.outcome, 'allowed');
    assert.equal(reused.data.policy, 'same-client');
    assert.equal(reused.data.sameClient, true);
    assert.equal(reused.data.first.sessionId, first.events[0]!.sessionId);
    assert.equal(reused.data.first.client, FIRST);
    assert.equal(reused.data.tokenId, reused.identity?.tokenId, 'the jti names the token');
    assert.ok(!JSON.stringify(again.events).includes(token), 'the token is not in the record');
  });

  it('refuses the token from a second client address with 28000 TG_AUTH_TOKEN_REUSED, recorded', async () => {
    const token = await h.token();
    assert.equal((await pgSession(h, FIRST, token)).error, undefined);
    const stolen = await pgSession(h, SECOND, token);
    assert.equal(stolen.error?.code, '28000');
    assert.match(stolen.error!.message, /TG_AUTH_TOKEN_REUSED/);
    assert.match(stolen.error!.message, /another client address/);
    assert.ok(!stolen.error!.message.includes(token));
    const reused = ofType(stolen.events, 'token.reused')[0]!;
    assert.equal(reused.data.outcome, 'refused');
    assert.equal(reused.data.code, 'TG_AUTH_TOKEN_REUSED');
    assert.equal(reused.data.sameClient, false);
    assert.equal(reused.data.first.client, FIRST);
    assert.equal(reused.client.address, SECOND);
    const decided = ofType(stolen.events, 'auth.decided')[0]!;
    assert.equal(decided.data.outcome, 'rejected');
    assert.equal(decided.data.code, 'TG_AUTH_TOKEN_REUSED');
    assert.equal(ofType(stolen.events, 'session.ended')[0]!.data.reason, 'auth-failed');
  });

  it('refuses over SSH a token first used over Postgres from another address, and tells the client why', async () => {
    const token = await h.token();
    assert.equal((await pgSession(h, FIRST, token)).error, undefined);
    const ended = h.endedSession((ev) => ofType(ev, 'session.started')[0]?.data.protocol === 'ssh' && ofType(ev, 'token.reused').length > 0);
    const r = await h.openssh().ssh(['web@127.0.0.1', 'true'], { token, options: ['-o', `BindAddress=${SECOND}`] });
    assert.equal(r.code, 255);
    assert.match(r.stderr, /TG_AUTH_TOKEN_REUSED/);
    const events = await ended;
    assert.equal(ofType(events, 'token.reused')[0]!.data.outcome, 'refused');
    assert.equal(ofType(events, 'auth.decided')[0]!.data.code, 'TG_AUTH_TOKEN_REUSED');
  });

  it('lets an SSH session reuse the token from the first address, and records the reuse in it', async () => {
    const token = await h.token();
    assert.equal((await pgSession(h, FIRST, token)).error, undefined);
    const ended = h.endedSession((ev) => ofType(ev, 'session.started')[0]?.data.protocol === 'ssh' && ofType(ev, 'token.reused').length > 0);
    const r = await h.openssh().ssh(['web@127.0.0.1', 'echo reused'], { token, options: ['-o', `BindAddress=${FIRST}`] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'reused\n');
    const events = await ended;
    const reused = ofType(events, 'token.reused')[0]!;
    assert.deepEqual([reused.data.outcome, reused.data.sameClient], ['allowed', true]);
    assert.ok(ofType(events, 'auth.decided')[0]!.seq < reused.seq, 'recorded after the granted login');
  });

  it('keeps first uses across a restart of the gateway (in the embedded log file)', async () => {
    const token = await h.token();
    assert.equal((await pgSession(h, FIRST, token)).error, undefined);
    await h.stop();
    h = await GatewayHarness.start({ ssh: true, dataDir });
    const stolen = await pgSession(h, SECOND, token);
    assert.match(stolen.error?.message ?? '', /TG_AUTH_TOKEN_REUSED/);
  });

  it('leaves every recording above intact, refused reuses included', async () => {
    const report = await h.stopAndVerify();
    assert.ok(report.sessions.length >= 2);
    assert.deepEqual(report.sessions.filter((s) => s.status !== 'intact'), []);
    assert.equal(report.ok, true);
  });
});

describe('token reuse, any and single-session', () => {
  it('accepts a second client address under any, and records the reuse', async () => {
    const h = await GatewayHarness.start({ devIssuer: { tokenReuse: 'any' } });
    try {
      const token = await h.token();
      assert.equal((await pgSession(h, FIRST, token)).error, undefined);
      const other = await pgSession(h, SECOND, token);
      assert.equal(other.error, undefined);
      const reused = ofType(other.events, 'token.reused')[0]!;
      assert.deepEqual([reused.data.outcome, reused.data.policy, reused.data.sameClient], ['allowed', 'any', false]);
    } finally {
      await h.stop();
    }
  });

  it('refuses any second session under single-session, even from the same address', async () => {
    const h = await GatewayHarness.start({ devIssuer: { tokenReuse: 'single-session' } });
    try {
      const token = await h.token();
      assert.equal((await pgSession(h, FIRST, token)).error, undefined);
      const again = await pgSession(h, FIRST, token);
      assert.match(again.error?.message ?? '', /TG_AUTH_TOKEN_REUSED.*|one session per token/);
      assert.match(again.error!.message, /one session per token/);
      const reused = ofType(again.events, 'token.reused')[0]!;
      assert.deepEqual([reused.data.outcome, reused.data.policy, reused.data.sameClient], ['refused', 'single-session', true]);
    } finally {
      await h.stop();
    }
  });
});

describe('token reuse across two gateways on Kafka', () => {
  it('refuses at gateway B a token first used at gateway A from another address; allows it from the same address', async () => {
    const log = kafkaLog();
    const a = await GatewayHarness.start({ instance: 'gw-a', log });
    // Gateway B trusts the same development issuer: its key goes into B's data directory first.
    const bDir = mkdtempSync(join(tmpdir(), 'trailgate-reuse-b-'));
    cpSync(join(a.dataDir, 'dev-issuer'), join(bDir, 'dev-issuer'), { recursive: true });
    const b = await GatewayHarness.start({ instance: 'gw-b', log, dataDir: bDir });
    try {
      const seen: PendingRecord[] = [];
      b.gateway.writer.on('written', (records: PendingRecord[]) => seen.push(...records));
      const token = await a.token();
      const first = await connectFrom(a, FIRST, token);
      assert.equal(first.error, undefined);
      await first.client!.end();

      const stolen = await connectFrom(b, SECOND, token);
      assert.equal(stolen.error?.code, '28000');
      assert.match(stolen.error!.message, /TG_AUTH_TOKEN_REUSED/);
      assert.match(stolen.error!.message, /another client address/);

      const same = await connectFrom(b, FIRST, token);
      assert.equal(same.error, undefined, 'the first client may go on through another gateway');
      await same.client!.end();

      await b.gateway.writer.flush();
      const reuses = seen.filter((r) => r.stream === 'events' && r.type === 'token.reused').map((r) => r.data as { outcome: string; first: { instance: string; client: string } });
      assert.deepEqual(
        reuses.map((r) => [r.outcome, r.first.instance, r.first.client]),
        [
          ['refused', 'gw-a', FIRST],
          ['allowed', 'gw-a', FIRST],
        ],
      );
    } finally {
      await b.stop();
      await a.stop();
      rmSync(bDir, { recursive: true, force: true });
    }
  });
});
