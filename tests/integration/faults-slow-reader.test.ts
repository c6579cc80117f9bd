/**
 * A client that asks for a large result and never reads it: backpressure must reach the target (its
 * backend blocks in ClientWrite) instead of the gateway buffering the result, so the gateway's memory
 * stays bounded by its socket buffers whatever the result's size. A bystander session is served meanwhile.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { RawPgClient } from '../support/raw-pg.js';

let h: GatewayHarness;
/** The result asked for: far more than any buffer on the way (socket buffers are a few MB on loopback). */
const RESULT_BYTES = 256 * 1024 * 1024;
/** What the gateway may hold for one stalled reader: socket buffers, one chunk being recorded, the framer. */
const BOUND_BYTES = 64 * 1024 * 1024;

before(async () => {
  h = await GatewayHarness.start();
});
after(async () => {
  await h?.stop();
});

describe('a client that never reads its results', () => {
  it('pauses the target: its backend waits in ClientWrite, the gateway holds a bounded amount, a bystander is served', async (t) => {
    globalThis.gc?.();
    const before = process.memoryUsage();
    const raw = await RawPgClient.connect(h.port);
    raw.startup({ user: 'ci', database: 'app', application_name: 'slow-reader' });
    await raw.until('R');
    raw.password(await h.token());
    await raw.until('Z');
    const rowBytes = 8192;
    raw.query(`select repeat('x', ${rowBytes}) from generate_series(1, ${RESULT_BYTES / rowBytes})`);
    // From here on the client reads nothing.
    raw.socket.pause();

    const watcher = await h.directSuperuser();
    let waiting = false;
    for (let i = 0; i < 300 && !waiting; i++) {
      const { rows } = await watcher.query<{ wait_event: string | null }>("select wait_event from pg_stat_activity where application_name like 'tg:% slow-reader'");
      waiting = rows[0]?.wait_event === 'ClientWrite';
      if (!waiting) await delay(50);
    }
    assert.ok(waiting, 'the backend is blocked writing to the gateway: the gateway stopped reading it');
    const during = process.memoryUsage();
    const grown = during.rss - before.rss;
    t.diagnostic(`RSS grew ${(grown / 1048576).toFixed(1)} MB, heap ${((during.heapUsed - before.heapUsed) / 1048576).toFixed(1)} MB, array buffers ${((during.arrayBuffers - before.arrayBuffers) / 1048576).toFixed(1)} MB`);
    assert.ok(grown < BOUND_BYTES, `the gateway grew by ${(grown / 1048576).toFixed(1)} MB of RSS for a ${RESULT_BYTES / 1048576} MB result it could not deliver`);

    const bystander = await h.client();
    assert.deepEqual((await bystander.query('select 2 as n')).rows, [{ n: 2 }]);
    await bystander.end();

    const ending = h.endedSession((events) => events.some((e) => e.type === 'session.started' && JSON.stringify(e.data).includes('slow-reader')));
    raw.socket.destroy();
    await ending;
    const { rows } = await watcher.query<{ n: string }>("select count(*) as n from pg_stat_activity where application_name like 'tg:% slow-reader'");
    await watcher.end();
    assert.ok(Number(rows[0]!.n) <= 1, 'the backend is being let go with the client');
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 2 });
