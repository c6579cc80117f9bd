/**
 * Both recording modes keep the whole session: strict commits on the gateway's thread before a
 * statement is forwarded, async commits in the log writer thread while the relay goes on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayHarness, ofType, sessionOf } from '../support/gateway-harness.js';

for (const mode of ['strict', 'async'] as const) {
  describe(`${mode} recording`, () => {
    it('records every statement of a busy session, in order, with contiguous bytes', async () => {
      const h = await GatewayHarness.start({ recordingMode: mode });
      try {
        const clients = await Promise.all([h.client(), h.client(), h.client()]);
        const sessions = await Promise.all(clients.map((c) => sessionOf(h, c)));
        await Promise.all(clients.map(async (c, n) => {
          for (let i = 0; i < 100; i++) await c.query('select $1::int as i, $2::text as who', [i, `client-${n}`]);
        }));
        const ended = Promise.all(sessions.map((id) => h.endedSession((ev) => ev[0]?.sessionId === id)));
        await Promise.all(clients.map((c) => c.end()));
        await ended;
        for (const [n, id] of sessions.entries()) {
          const records = await h.records(id);
          assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => i + 1), 'one gap-free sequence per session');
          const events = records.filter((r) => r.stream === 'events');
          const started = ofType(events, 'command.started').filter((c) => c.data.text.startsWith('select $1::int'));
          assert.equal(started.length, 100);
          assert.deepEqual(started.map((c) => c.data.parameters), Array.from({ length: 100 }, (_, i) => [String(i), `client-${n}`]));
          const completed = new Set(ofType(events, 'command.completed').map((c) => c.data.commandSeq));
          assert.ok(started.every((c) => completed.has(c.seq)), 'every command has its outcome');
          for (const direction of ['client', 'server'] as const) {
            let offset = 0;
            for (const r of records) {
              if (r.stream !== 'bytes' || r.direction !== direction) continue;
              assert.equal(r.offset, offset);
              offset += r.data.length;
            }
            const end = ofType(events, 'session.ended')[0]!;
            assert.equal(offset, direction === 'client' ? end.data.bytesFromClient : end.data.bytesToClient);
          }
        }
      } finally {
        await h.stop();
      }
    });
  });
}
