/**
 * A client that pipelines thousands of statements while strict recording holds each batch for its
 * durable write: the gateway pauses the client socket instead of queueing without bound, and every
 * statement is answered, in order. Real PostgreSQL behind the gateway.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_INBOX_LIMIT } from '../../services/gateway/postgres/client-inbox.js';
import type { RelaySession } from '../../services/gateway/postgres/relay-session.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { RawPgClient } from '../support/raw-pg.js';

let h: GatewayHarness;

before(async () => {
  h = await GatewayHarness.start({ recordingMode: 'strict' });
});
after(async () => {
  await h.stop();
});

describe('pipelined statements under strict recording', () => {
  it('pauses the client instead of growing a queue, and answers every statement in order', async () => {
    const raw = await RawPgClient.connect(h.port);
    raw.startup({ user: 'ci', database: 'app' });
    await raw.until('R');
    raw.password(await h.token());
    await raw.until('Z');

    const count = 20_000;
    const queries = Array.from({ length: count }, (_, i) => raw.message('Q', Buffer.from(`select ${i}\0`)));
    const smallest = Math.min(...queries.map((q) => q.length));
    // One write of every statement: nothing waits for an answer before sending the next.
    raw.send(Buffer.concat(queries));

    let next = 0;
    while (next < count) {
      const msg = await raw.next();
      assert.ok(msg, `the gateway closed the connection after ${next} answers`);
      if (msg.type === 'E') assert.fail(`statement ${next} failed: ${msg.body.toString('latin1')}`);
      if (msg.type !== 'D') continue;
      // DataRow: 1 column, its length, then the text of the number.
      const value = msg.body.subarray(6).toString('latin1');
      assert.equal(value, String(next), 'answers come back in the order the statements were sent');
      next++;
    }

    let session: RelaySession | undefined;
    h.gateway.postgres.forEachSession((s) => {
      if (!session || s.inbox.highWater > session.inbox.highWater) session = s;
    });
    assert.ok(session, 'the session is still open');
    assert.ok(session.inbox.pauses > 0, 'the client socket was paused while commits were pending');
    // At most the limit plus what one socket read can carry, far below everything the client sent.
    const bound = DEFAULT_INBOX_LIMIT.messages + Math.ceil((64 * 1024) / smallest);
    assert.ok(session.inbox.highWater <= bound, `at most ${bound} messages waited at once (saw ${session.inbox.highWater})`);
    assert.ok(bound < count);
    raw.send(raw.message('X', Buffer.alloc(0)));
    await raw.closedByServer();
  });
});
