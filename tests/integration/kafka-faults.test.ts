/**
 * Failures on the Kafka path with a real broker and real processes: the broker killed under load,
 * a gateway restarted on an undrained spool, disk watermarks, and a consumer killed mid-batch.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type pg from 'pg';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { KafkaRecordSource } from '../../connectors/kafka/kafka-record-source.js';
import type { EventRecord } from '../../events/index.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { assertWholeSessions, closeBrokerSockets, CollectingSink, eventually, kafkaLog, killBroker, restartBroker } from '../support/kafka-env.js';

async function collect(log: ReturnType<typeof kafkaLog>, name: string) {
  const sink = new CollectingSink(name);
  const consumer = new Consumer(await KafkaRecordSource.create(KafkaLogConfig.parse(log.kafka), sink, 200), sink, new Metrics());
  const running = consumer.run();
  return {
    sink,
    consumer,
    stop: async () => {
      await consumer.stop();
      await running.catch(() => undefined);
    },
  };
}

function countWritten(h: GatewayHarness): { n: number; events: number } {
  const count = { n: 0, events: 0 };
  h.gateway.writer.on('written', (records) => {
    count.n += records.length;
    count.events += records.filter((r) => r.stream === 'events').length;
  });
  return count;
}

function sessionsOf(sink: CollectingSink, instance: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of sink.records.values()) if (r.type === 'session.started') out.set(r.sessionId, instance);
  return out;
}

async function settle(h: GatewayHarness): Promise<void> {
  await eventually(() => h.gateway.postgres.activeSessions === 0, 'sessions to end');
  await h.gateway.writer.flush();
}

// The gateways here run in this process, and kafkajs can keep a stopped consumer's connection open (or open it
// again) around a broker restart: close what is left, and let the process end once its results are reported.
after(() => {
  closeBrokerSockets();
  setTimeout(() => process.exit(), 5_000).unref();
});

describe('Kafka log under failure', () => {
  it('loses and doubles nothing when the broker is killed and restarted under load', async () => {
    const log = kafkaLog();
    const h = await GatewayHarness.start({ instance: 'gw-load', log });
    const written = countWritten(h);
    const reader = await collect(log, 'under-load');
    try {
      let done = 0;
      const clients: pg.Client[] = await Promise.all([0, 1, 2, 3].map(() => h.client()));
      const load = Promise.all(
        clients.map(async (c, n) => {
          for (let i = 0; i < 400; i++) {
            await c.query('select $1::int as i, $2::text as who, repeat(\'x\', 500) as filler', [i, `c${n}`]);
            done++;
          }
          await c.end();
        }),
      );
      await eventually(() => reader.sink.records.size > 200, 'records to flow through Kafka before the crash');
      await killBroker();
      const atKill = done;
      // The gateway keeps serving from its spool while Kafka is gone.
      await eventually(() => done >= atKill + 200 || done === 1600, 'statements to go on while the broker is down');
      assert.ok(h.gateway.kafka!.spool.pendingBytes > 0, 'records wait in the spool');
      await restartBroker();
      await load;
      await settle(h);
      await h.gateway.kafka!.drained(120_000);
      await eventually(() => reader.sink.records.size >= written.n, `all ${written.n} records at the consumer`);
      assert.equal(reader.sink.records.size, written.n, 'zero lost');
      assert.equal(reader.sink.doubled.size, 0, 'zero doubled at the consumer');
      const sessions = sessionsOf(reader.sink, 'gw-load');
      assert.equal(sessions.size, 4);
      assertWholeSessions(reader.sink, sessions);
    } finally {
      await reader.stop();
      await h.stop();
    }
  });

  it('drains the spool of a gateway that stopped while Kafka was down, once Kafka is back, exactly once', async () => {
    const log = kafkaLog();
    // Topics exist before the outage, as in a running deployment.
    const dataDir = mkdtempSync(join(tmpdir(), 'trailgate-spool-'));
    const first = await GatewayHarness.start({ instance: 'gw-spool', log, dataDir });
    await first.gateway.kafka!.drained().catch(() => undefined);
    await eventually(() => first.gateway.kafka!.kafkaError === null && first.gateway.metrics.value('trailgate_kafka_connected', { instance: 'gw-spool' }) === 1, 'the gateway to reach Kafka');
    const before = countWritten(first);
    await killBroker();
    let restarted = false;
    let second: GatewayHarness | null = null;
    const reader = { stop: async () => undefined } as Awaited<ReturnType<typeof collect>>;
    try {
      for (let n = 0; n < 2; n++) {
        const c = await first.client();
        for (let i = 0; i < 30; i++) await c.query('select $1::int as i', [i]);
        await c.end();
      }
      await settle(first);
      const spooled = first.gateway.kafka!.spool.pendingBytes;
      assert.ok(spooled > 0, 'the sessions are in the spool, not in Kafka');
      await first.stop();
      await restartBroker();
      restarted = true;
      second = await GatewayHarness.start({ instance: 'gw-spool', log, dataDir });
      assert.ok(second.gateway.kafka!.spool.endPosition >= spooled, 'the new gateway found the old spool');
      await second.gateway.kafka!.drained(120_000);
      assert.equal(second.gateway.kafka!.spool.pendingBytes, 0, 'the spool is drained');
      Object.assign(reader, await collect(log, 'after-spool'));
      await eventually(() => reader.sink.records.size >= before.n, `all ${before.n} spooled records at the consumer`);
      assert.equal(reader.sink.records.size, before.n);
      assert.equal(reader.sink.doubled.size, 0);
      assertWholeSessions(reader.sink, sessionsOf(reader.sink, 'gw-spool'));
    } finally {
      if (!restarted) await restartBroker();
      await reader.stop();
      await second?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses new sessions at the low watermark and ends recorded sessions at the critical one', async () => {
    const log = kafkaLog(undefined, { spool: { low: { freeBytes: 1_000_000, spoolBytes: 1 << 30 }, critical: { freeBytes: 1000, spoolBytes: 1 << 30 } } });
    let free = 1 << 30;
    const h = await GatewayHarness.start({ instance: 'gw-disk', log, spoolFreeBytes: async () => free });
    const reader = await collect(log, 'watermarks');
    const level = () => h.gateway.metrics.value('trailgate_spool_watermark_level', { instance: 'gw-disk' });
    try {
      const open = await h.client();
      free = 500_000;
      await eventually(() => level() === 1, 'the low watermark');
      await assert.rejects(h.client(), (err: Error & { code?: string }) => err.code === '57P03' && /TG_SPOOL_LOW/.test(err.message));
      await open.query('select 1');
      const closed = new Promise<void>((resolve) => open.once('end', () => resolve()));
      open.on('error', () => undefined);
      free = 500;
      await eventually(() => level() === 2, 'the critical watermark');
      await closed;
      free = 1 << 30;
      await eventually(() => level() === 0, 'back to ok');
      const again = await h.client();
      await again.query('select 1');
      await again.end();
      await settle(h);
      await h.gateway.kafka!.drained();
      assert.equal(h.gateway.metrics.value('trailgate_spool_watermark_crossings_total', { instance: 'gw-disk', level: 'critical' }), 1);
      await eventually(() => [...reader.sink.records.values()].filter((r) => r.type === 'session.ended').length >= 3, 'three sessions ended');
      const events = [...reader.sink.records.values()].filter((r): r is EventRecord => r.stream === 'events');
      const ends = events.filter((e): e is EventRecord<'session.ended'> => e.type === 'session.ended');
      const reasons = ends.map((e) => `${e.data.reason}:${e.data.detail?.split(':')[0] ?? ''}`).sort();
      assert.deepEqual(reasons.filter((r) => r.startsWith('recording-unavailable')), ['recording-unavailable:TG_SPOOL_CRITICAL', 'recording-unavailable:TG_SPOOL_LOW']);
      const marks = events.filter((e): e is EventRecord<'spool.watermark'> => e.type === 'spool.watermark').map((e) => e.data.level);
      assert.deepEqual(marks, ['low', 'critical'], 'the open session recorded both crossings');
    } finally {
      await reader.stop();
      await h.stop();
    }
  });

  for (const kind of ['kafka', 'embedded'] as const) {
    it(`resumes a consumer SIGKILLed in the middle of a batch without loss (${kind} log)`, async () => {
      const log = kind === 'kafka' ? kafkaLog() : { kind: 'embedded' as const };
      const h = await GatewayHarness.start({ instance: `gw-kill-${kind}`, log });
      const written = countWritten(h);
      const children: ChildProcess[] = [];
      try {
        for (let n = 0; n < 3; n++) {
          const c = await h.client();
          for (let i = 0; i < 60; i++) await c.query('select $1::int as i', [i]);
          await c.end();
        }
        await settle(h);
        if (kind === 'kafka') await h.gateway.kafka!.drained();
        const out = join(h.dataDir, 'forwarded.ndjson');
        const configFile = join(h.dataDir, 'forwarder.json');
        const batchSize = 50;
        writeFileSync(configFile, JSON.stringify({ dataDir: h.dataDir, instance: 'forwarder', log, consumers: { batchSize, forwarder: { kind: 'ndjson', file: out, streams: ['events'] } } }));
        const lines = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : []);

        const slow = spawn(process.execPath, ['--import', 'tsx', 'tests/support/slow-forwarder.ts', configFile], { stdio: ['ignore', 'inherit', 'inherit'] });
        children.push(slow);
        await eventually(() => lines().length > batchSize && lines().length % batchSize !== 0, 'the forwarder to be in the middle of its second batch or later');
        slow.kill('SIGKILL');
        await new Promise((resolve) => slow.once('exit', resolve));
        const atKill = lines().length;
        assert.ok(atKill < written.events, 'killed before it forwarded everything');

        const cli = spawn(process.execPath, ['bin/trailgate.js', '--config', configFile, 'forwarder'], { stdio: ['ignore', 'ignore', 'inherit'] });
        children.push(cli);
        await eventually(() => lines().length >= written.events, `all ${written.events} events forwarded after the restart`);
        cli.kill('SIGTERM');
        await new Promise((resolve) => cli.once('exit', resolve));
        const ids = lines().map((l) => (JSON.parse(l) as { id: string }).id);
        assert.equal(ids.length, written.events, 'every event once');
        assert.equal(new Set(ids).size, ids.length, 'nothing doubled in the output');
      } finally {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
        await h.stop();
      }
    });
  }
});
