import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import canonicalize from 'canonicalize';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { InlineLogSink, ThreadedLogSink, type LogSink } from '../../connectors/embedded-log/log-sinks.js';
import { SCHEMA_VERSION, recordHash } from '../../events/index.js';
import { LogWriter } from '../../services/gateway/recorder/log-writer.js';
import { SessionRecorder } from '../../services/gateway/recorder/session-recorder.js';
import type { HeadSigner } from '../../services/integrity/checkpoint-signer.js';

const context = { sessionId: '0190c0de-0000-7000-8000-0000000000aa', instance: 'unit', protocol: 'postgres' as const, target: null, identity: null, client: { address: '127.0.0.1', port: 1 } };
const signer = { kid: 'k', sign: () => Promise.resolve('jws') } as unknown as HeadSigner;

/** Records one statement through a sink and reads back what the log row holds. */
async function recordAndRead(makeSink: (file: string, log: EmbeddedLog) => LogSink): Promise<{ data: string; prev: string; hash: string; ts: string; seq: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tg-data-text-'));
  const file = join(dir, 'trailgate.db');
  const log = new EmbeddedLog(file);
  const sink = makeSink(file, log);
  try {
    const writer = new LogWriter(sink, file);
    const recorder = new SessionRecorder(context, writer, { chunkBytes: 1 << 20, chunkMillis: 60_000 }, { signer, every: 1000, millis: 60_000 });
    // Keys in an order JSON.stringify would keep and JCS would not.
    recorder.event('command.started', { text: 'select "é" \u2028 1', protocol: 'simple', parameters: ['\u0000x'], decision: { outcome: 'allowed', needs: ['read'] } });
    await writer.flush();
    const db = new Database(file, { readonly: true });
    const row = db.prepare("SELECT data, prev, hash, ts, seq FROM records WHERE type = 'command.started'").get() as { data: string; prev: string; hash: string; ts: string; seq: number };
    db.close();
    return row;
  } finally {
    await sink.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('recorded event data', () => {
  for (const [name, makeSink] of [
    ['on the event loop (strict)', (_file: string, log: EmbeddedLog) => new InlineLogSink(log)],
    ['through the writer thread (async)', (file: string) => new ThreadedLogSink(file, 'normal')],
  ] as const) {
    it(`is stored as the canonical text that was hashed, ${name}`, async () => {
      const row = await recordAndRead(makeSink);
      const data = JSON.parse(row.data) as unknown;
      assert.equal(row.data, canonicalize(data), 'the stored text is the JCS text, not a second serialisation');
      assert.equal(recordHash(row.prev, { v: SCHEMA_VERSION, sessionId: context.sessionId, seq: row.seq, ts: row.ts, stream: 'events', type: 'command.started', data }), row.hash);
    });
  }
});
