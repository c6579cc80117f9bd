/**
 * Malformed, truncated and oversized client messages end only the connection that sent them, with
 * an error in the Postgres protocol; every other session keeps working. Secrets never leak.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { GatewayHarness, ofType, sessionOf } from '../support/gateway-harness.js';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import { RawPgClient, errorFields } from '../support/raw-pg.js';

const LIMIT = 1024 * 1024;
let h: GatewayHarness;
let bystander: pg.Client;

before(async () => {
  h = await GatewayHarness.start({ maxMessageBytes: LIMIT });
  bystander = await h.client();
});
after(async () => {
  await h.stop();
});

/** An authenticated raw connection, ready to misbehave. */
async function authenticated(): Promise<RawPgClient> {
  const raw = await RawPgClient.connect(h.port);
  raw.startup({ user: 'ci', database: 'app' });
  await raw.until('R');
  raw.password(await h.token());
  await raw.until('Z');
  return raw;
}

async function bystanderStillServed(): Promise<void> {
  const { rows } = await bystander.query('select 1 as alive');
  assert.equal(rows[0].alive, 1);
}

describe('hostile client input', () => {
  it('ends a connection whose message length is impossible, with 08P01', async () => {
    const raw = await authenticated();
    const ended = h.endedSession((ev) => ofType(ev, 'session.ended')[0]?.data.reason === 'protocol-error');
    raw.send(Buffer.from([0x51, 0, 0, 0, 2]));
    const err = errorFields((await raw.until('E')).body);
    assert.equal(err.C, '08P01');
    assert.match(err.M!, /TG_PG_BAD_LENGTH/);
    await raw.closedByServer();
    assert.match(ofType(await ended, 'session.ended')[0]!.data.detail ?? '', /TG_PG_BAD_LENGTH/);
    await bystanderStillServed();
  });

  it('refuses an oversized message as soon as its header arrives, with 54000', async () => {
    const raw = await authenticated();
    const head = Buffer.alloc(5);
    head.write('Q');
    head.writeInt32BE(LIMIT * 4, 1);
    raw.send(Buffer.concat([head, Buffer.alloc(1024, 0x41)]));
    const err = errorFields((await raw.until('E')).body);
    assert.equal(err.C, '54000');
    assert.match(err.M!, /postgres\.maxMessageBytes/);
    await raw.closedByServer();
    await bystanderStillServed();
  });

  it('ends a connection that sends a message with a body shorter than its fields', async () => {
    const raw = await authenticated();
    // A Bind that announces three parameters and carries none.
    raw.send(raw.message('B', Buffer.from([0, 0, 0, 0, 0, 3])));
    const err = errorFields((await raw.until('E')).body);
    assert.equal(err.C, '08P01');
    assert.match(err.M!, /TG_PG_MALFORMED/);
    await raw.closedByServer();
    await bystanderStillServed();
  });

  it('ends a connection that sends an unknown message type', async () => {
    const raw = await authenticated();
    raw.send(raw.message('!', Buffer.from('hello')));
    const err = errorFields((await raw.until('E')).body);
    assert.equal(err.C, '08P01');
    await raw.closedByServer();
    await bystanderStillServed();
  });

  it('records a truncated message followed by a disconnect as a client disconnect', async () => {
    const raw = await authenticated();
    const ended = h.endedSession((ev) => ofType(ev, 'session.ended')[0]?.data.reason === 'client-disconnected');
    const full = raw.message('Q', Buffer.from('select 1\0'));
    raw.send(full.subarray(0, 7));
    raw.end();
    const events = await ended;
    assert.equal(ofType(events, 'command.started').length, 0, 'half a statement never becomes a command');
    await bystanderStillServed();
  });

  it('answers a garbage startup packet with an error and records it', async () => {
    const raw = await RawPgClient.connect(h.port);
    const ended = h.endedSession((ev) => ofType(ev, 'session.ended')[0]?.data.detail?.includes('TG_PG_BAD_STARTUP') ?? false);
    raw.send(Buffer.from([0, 0, 0, 3, 1, 2, 3, 4]));
    const err = errorFields((await raw.until('E')).body);
    assert.equal(err.C, '08P01');
    await raw.closedByServer();
    await ended;
    await bystanderStillServed();
  });

  it('refuses an unsupported protocol version with 0A000', async () => {
    const raw = await RawPgClient.connect(h.port);
    const packet = Buffer.alloc(8);
    packet.writeInt32BE(8, 0);
    packet.writeInt32BE(2 << 16, 4);
    raw.send(packet);
    const err = errorFields((await raw.until('E')).body);
    assert.equal(err.C, '0A000');
    await raw.closedByServer();
    await bystanderStillServed();
  });

  it('declines GSS encryption and goes on with the startup', async () => {
    const raw = await RawPgClient.connect(h.port);
    const gss = Buffer.alloc(8);
    gss.writeInt32BE(8, 0);
    gss.writeInt32BE(80877104, 4);
    raw.send(gss);
    assert.equal(await raw.singleByte(), 'N');
    raw.startup({ user: 'ci', database: 'app' });
    assert.equal((await raw.until('R')).body.readInt32BE(0), 3);
    raw.end();
  });

  it('negotiates protocol 3.0 with a client that asks for 3.2 and protocol options', async () => {
    const raw = await RawPgClient.connect(h.port);
    const body = Buffer.from('user\0ci\0database\0app\0_pq_.future_option\0on\0\0');
    const head = Buffer.alloc(8);
    head.writeInt32BE(8 + body.length, 0);
    head.writeInt32BE((3 << 16) | 2, 4);
    raw.send(Buffer.concat([head, body]));
    const v = await raw.until('v');
    assert.equal(v.body.readInt32BE(0), 196608);
    assert.equal(v.body.readInt32BE(4), 1);
    assert.equal(v.body.toString('utf8', 8, v.body.length - 1), '_pq_.future_option');
    raw.password(await h.token());
    await raw.until('Z');
    raw.query('select 1');
    await raw.until('Z');
    raw.end();
  });

  it('survives a hundred clients that connect and vanish mid-handshake', async () => {
    const clients = await Promise.all(Array.from({ length: 100 }, () => RawPgClient.connect(h.port)));
    clients.forEach((c, i) => {
      if (i % 2) c.startup({ user: 'ci', database: 'app' });
      c.socket.destroy();
    });
    await bystanderStillServed();
  });
});

describe('secrets', () => {
  it('never sends the target credential or the token anywhere they could be read', async () => {
    const token = await h.token();
    const client = await h.client({ token });
    const sessionId = await sessionOf(h, client);
    await client.query("select 'probe' as p");
    await client.end();
    await h.gateway.writer.flush();
    const password = h.pg.appPassword;
    assert.ok(password.length >= 12, 'the test credential is long enough to search for');
    // What the client received, byte for byte, is the recorded server direction.
    const toClient = Buffer.concat((await h.records(sessionId)).flatMap((r) => (r.stream === 'bytes' && r.direction === 'server' ? [r.data] : [])));
    assert.ok(toClient.length > 0);
    assert.equal(toClient.indexOf(password), -1, 'credential not sent to the client');
    // The whole data directory: event log, WAL, keys, certificates.
    for (const file of readdirSync(h.dataDir, { recursive: true, withFileTypes: true })) {
      if (!file.isFile()) continue;
      const bytes = readFileSync(join(file.parentPath ?? file.path, file.name));
      assert.equal(bytes.indexOf(password), -1, `credential not in ${file.name}`);
      assert.equal(bytes.indexOf(token), -1, `token not in ${file.name}`);
      assert.equal(bytes.indexOf(token.split('.')[2]!), -1, `token signature not in ${file.name}`);
    }
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 3, settle: () => bystander.end() });
