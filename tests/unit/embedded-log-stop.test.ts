import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { InlineLogSink } from '../../connectors/embedded-log/log-sinks.js';
import { LogWriter } from '../../services/gateway/recorder/log-writer.js';
import { SessionRecorder } from '../../services/gateway/recorder/session-recorder.js';
import type { HeadSigner } from '../../services/integrity/checkpoint-signer.js';

const context = { sessionId: '0190c0de-0000-7000-8000-0000000000bb', instance: 'unit', protocol: 'ssh' as const, target: null, identity: null, client: { address: '127.0.0.1', port: 1 } };
// 53 commits of 19 pages each cross the 1000-page threshold: the 159th starts the third checkpoint.
const CHUNKS = 159;
const signer = { kid: 'k', sign: () => Promise.resolve('jws') } as unknown as HeadSigner;

describe('the embedded log after a clean stop', () => {
  it('is one self-contained database file: the WAL, checkpointed on its own thread while recording, is folded in and removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-log-stop-'));
    try {
      const file = join(dir, 'trailgate.db');
      const log = new EmbeddedLog(file);
      const sink = new InlineLogSink(log);
      const writer = new LogWriter(sink, file);
      const recorder = new SessionRecorder(context, writer, { chunkBytes: 64 * 1024, chunkMillis: 60_000 }, { signer, every: 1000, millis: 60_000 });
      // One 64 KiB chunk per commit, about 10 MiB: past the checkpoint thread's threshold several
      // times over, the last time on the final commits, so a checkpoint is running as the log closes.
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      for (let i = 0; i < CHUNKS; i++) {
        recorder.bytes('server', chunk);
        await writer.flush();
      }
      recorder.closeChunks();
      await writer.flush();
      await sink.close();
      log.close();

      const wal = `${file}-wal`;
      assert.ok(!existsSync(wal) || statSync(wal).size === 0, 'no WAL is left beside the database file');
      // What an operator backs up: the database file alone.
      const copy = join(dir, 'copy.db');
      copyFileSync(file, copy);
      const db = new Database(copy, { readonly: true });
      try {
        const { n, bytes } = db.prepare("SELECT COUNT(*) AS n, SUM(length(bytes)) AS bytes FROM records WHERE session_id = ? AND stream = 'bytes'").get(context.sessionId) as { n: number; bytes: number };
        assert.equal(bytes, CHUNKS * chunk.length, `every recorded byte is in the file alone (${n} chunks)`);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
