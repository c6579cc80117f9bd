/**
 * The consumer framework on the embedded log: log order by `pos`, positions in the same file, record
 * types it does not know skipped and counted, poison records in the dead_letters table, and a
 * consumer started again going on from its committed position; what a consumer keeps of the
 * sessions it read stays bounded however many sessions pass.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { EmbeddedRecordSource } from '../../connectors/embedded-log/embedded-consumer.js';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { CollectingSink, eventually } from '../support/kafka-env.js';

describe('embedded log consumer', () => {
  it('skips unknown types, dead-letters poison, keeps unknown columns, and resumes from its position', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-consumer-'));
    try {
      const file = join(dir, 'trailgate.db');
      new EmbeddedLog(file).close();
      const db = new Database(file);
      const ctx = { sessionId: 's-1', instance: 'gw', protocol: 'postgres', target: null, identity: null, client: { address: '127.0.0.1', port: 1 } };
      db.prepare('INSERT INTO sessions (session_id, instance, protocol, context, started_at) VALUES (?, ?, ?, ?, ?)').run('s-1', 'gw', 'postgres', JSON.stringify(ctx), '2026-01-01T00:00:00.000Z');
      const insert = db.prepare("INSERT INTO records (session_id, seq, stream, type, ts, data, prev, hash) VALUES ('s-1', ?, 'events', ?, '2026-01-01T00:00:00.000Z', ?, 'p', 'h')");
      insert.run(1, 'session.started', JSON.stringify({ protocol: 'postgres', tls: false, requested: {} }));
      insert.run(2, 'future.thing', JSON.stringify({ from: 'a newer gateway' }));
      insert.run(3, 'command.started', '{not json');
      insert.run(4, 'command.started', JSON.stringify({ protocol: 'simple', text: 'select 1 -- POISON' }));
      insert.run(5, 'command.started', JSON.stringify({ protocol: 'simple', text: 'select 2' }));

      const run = async (name: string) => {
        const sink = new CollectingSink(name, ['events'], (r) => r.type === 'command.started' && JSON.stringify(r.data).includes('POISON'));
        const metrics = new Metrics();
        const consumer = new Consumer(new EmbeddedRecordSource(file, sink, { batchSize: 2, pollMs: 20 }), sink, metrics);
        const running = consumer.run();
        return { sink, metrics, consumer, stop: async () => (await consumer.stop(), await running) };
      };
      const first = await run('audit');
      await eventually(async () => (await first.consumer.lag()).total === 0, 'the consumer to reach the end of the log');
      assert.deepEqual([...first.sink.records.values()].map((r) => r.seq), [1, 5]);
      assert.equal((first.sink.records.get('s-1:1') as unknown as { hash: string }).hash, 'h', 'columns the reader does not map are carried');
      assert.equal(first.metrics.value('trailgate_consumer_records_skipped_total', { consumer: 'audit', type: 'future.thing' }), 1);
      await first.stop();
      const letters = db.prepare('SELECT pos, record_id, code FROM dead_letters WHERE consumer = ? ORDER BY pos').all('audit') as { pos: number; record_id: string | null; code: string }[];
      assert.deepEqual(letters.map((l) => l.code), ['TG_RECORD_UNDECODABLE', 'TG_TEST_POISON']);
      assert.equal(letters[1]!.record_id, 's-1:4');

      insert.run(6, 'session.ended', JSON.stringify({ reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0, commands: 2 }));
      const again = await run('audit');
      await eventually(() => again.sink.delivered >= 1, 'the new record');
      await eventually(async () => (await again.consumer.lag()).total === 0, 'the end of the log');
      assert.deepEqual([...again.sink.records.values()].map((r) => r.seq), [6], 'a restarted consumer goes on from its committed position');
      await again.stop();
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps no parsed context of a session past its final checkpoint, and at most its bound for sessions it never sees end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-consumer-'));
    try {
      const file = join(dir, 'trailgate.db');
      new EmbeddedLog(file).close();
      const db = new Database(file);
      const addSession = db.prepare('INSERT INTO sessions (session_id, instance, protocol, context, started_at) VALUES (?, ?, ?, ?, ?)');
      const event = db.prepare("INSERT INTO records (session_id, seq, stream, type, ts, data, prev, hash) VALUES (?, ?, 'events', ?, '2026-01-01T00:00:00.000Z', ?, 'p', 'h')");
      const bytes = db.prepare("INSERT INTO records (session_id, seq, stream, type, ts, direction, byte_offset, bytes, prev, hash) VALUES (?, ?, 'bytes', 'bytes', '2026-01-01T00:00:00.000Z', 'out', 0, ?, 'p', 'h')");
      const sessions = 300;
      db.transaction(() => {
        for (let i = 0; i < sessions; i++) {
          const id = `s-${i}`;
          const identity = { issuer: 'https://ci.example', subject: `repo:acme/app-${i}:ref:refs/heads/main` };
          addSession.run(id, 'gw', 'ssh', JSON.stringify({ sessionId: id, instance: 'gw', protocol: 'ssh', target: 'web', identity, client: { address: '127.0.0.1', port: i } }), '2026-01-01T00:00:00.000Z');
          event.run(id, 1, 'session.started', JSON.stringify({ protocol: 'ssh', tls: false, requested: {} }));
          bytes.run(id, 2, Buffer.from(`output of ${id}`));
          event.run(id, 3, 'session.ended', JSON.stringify({ reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 12, commands: 1 }));
          event.run(id, 4, 'checkpoint.signed', JSON.stringify({ covers: { seq: 3, hash: 'h' }, kid: 'k', jws: 'x.y.z', final: true }));
        }
      })();
      const consume = async (name: string, streams: ('events' | 'bytes')[]) => {
        const sink = new CollectingSink(name, streams);
        const source = new EmbeddedRecordSource(file, sink, { batchSize: 64, pollMs: 20, maxParsedContexts: 16 });
        const consumer = new Consumer(source, sink, new Metrics());
        const running = consumer.run();
        await eventually(async () => (await consumer.lag()).total === 0, `the ${name} consumer to reach the end of the log`);
        await consumer.stop();
        await running;
        return { sink, held: source.parsedContexts };
      };
      const events = await consume('events', ['events']);
      assert.equal(events.sink.records.size, sessions * 3);
      assert.equal(events.held, 0, 'every session ended with its final checkpoint: no context is kept');
      // A sink of bytes only never sees a session end: the bound holds, and records evicted sessions get parsed again.
      const output = await consume('output', ['bytes']);
      assert.equal(output.sink.records.size, sessions);
      assert.ok(output.held > 0 && output.held <= 16, `at most the bound of 16 parsed contexts kept, got ${output.held}`);
      for (const r of output.sink.records.values()) assert.equal(r.identity?.subject, `repo:acme/app-${r.sessionId.slice(2)}:ref:refs/heads/main`, `${r.id} carries its own session's identity`);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
