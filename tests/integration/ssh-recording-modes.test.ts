/**
 * Both recording modes keep a whole SSH session: one gap-free sequence, every output byte of every
 * channel and stream in order, and the totals the session's end reports.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { BytesRecord } from '../../events/index.js';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';

for (const mode of ['strict', 'async'] as const) {
  describe(`${mode} recording of SSH`, () => {
    it('records every output byte of a transfer with stderr beside it, in order', async () => {
      const h = await GatewayHarness.start({ ssh: true, recordingMode: mode });
      const dir = mkdtempSync(join(tmpdir(), 'trailgate-modes-'));
      try {
        const payload = randomBytes(6 * 1024 * 1024);
        writeFileSync(join(dir, 'payload.bin'), payload);
        const ended = h.endedSession((ev) => ofType(ev, 'command.completed').length > 0, 60_000);
        const r = await h.openssh().ssh(['web@127.0.0.1', `echo begin >&2; cat ${join(dir, 'payload.bin')}; echo end >&2`], { token: await h.token() });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.equals(payload), 'the client got the payload');
        const events = await ended;
        const records = await h.records(events[0]!.sessionId);
        assert.deepEqual(records.map((x) => x.seq), records.map((_, i) => i + 1), 'one gap-free sequence');
        const bytes = records.filter((x): x is BytesRecord => x.stream === 'bytes');
        const stdout = bytes.filter((b) => !b.stderr);
        const stderr = bytes.filter((b) => b.stderr);
        for (const stream of [stdout, stderr]) {
          let offset = 0;
          for (const b of stream) {
            assert.equal(b.offset, offset);
            offset += b.data.length;
          }
        }
        assert.ok(Buffer.concat(stdout.map((b) => b.data)).equals(payload), 'the recording holds exactly what the client got');
        assert.equal(Buffer.concat(stderr.map((b) => b.data)).toString(), 'begin\nend\n');
        const end = ofType(events, 'session.ended')[0]!;
        assert.equal(end.data.bytesToClient, payload.length + 'begin\nend\n'.length);
        assert.ok(ofType(events, 'command.completed')[0]!.seq > bytes[bytes.length - 1]!.seq, 'the command completes after its last byte');
      } finally {
        await h.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('delivers stdout and stderr interleaved under flow control, nothing lost or doubled', async () => {
      // Both streams busy while the client's window is full: ssh2 1.x alone loses a stderr write here.
      const h = await GatewayHarness.start({ ssh: true, recordingMode: mode });
      try {
        const ended = h.endedSession((ev) => ofType(ev, 'command.completed').length > 0, 60_000);
        const script = 'i=0; while [ $i -lt 40 ]; do head -c 200000 /dev/zero; echo "e$i" >&2; i=$((i+1)); done';
        const r = await h.openssh().ssh(['web@127.0.0.1', script], { token: await h.token() });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.length, 40 * 200_000);
        assert.equal(r.stderr, Array.from({ length: 40 }, (_, i) => `e${i}\n`).join(''));
        const records = await h.records((await ended)[0]!.sessionId);
        const stderr = records.filter((x): x is BytesRecord => x.stream === 'bytes' && x.stderr === true);
        assert.equal(Buffer.concat(stderr.map((b) => b.data)).toString(), r.stderr);
      } finally {
        await h.stop();
      }
    });
  });
}
