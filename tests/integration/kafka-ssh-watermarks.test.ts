/**
 * SSH sessions obey the spool's disk watermarks like Postgres ones, with the real OpenSSH client:
 * at low a new login is refused on the client's screen with TG_SPOOL_LOW, at critical a recorded
 * session is ended (`session.ended` reason `recording-unavailable`), and each crossing is recorded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { KafkaRecordSource } from '../../connectors/kafka/kafka-record-source.js';
import type { EventRecord } from '../../events/index.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { CollectingSink, eventually, kafkaLog } from '../support/kafka-env.js';

describe('spool watermarks on SSH', () => {
  it('refuses new SSH logins at the low watermark and ends recorded SSH sessions at the critical one', async () => {
    const log = kafkaLog(undefined, { spool: { low: { freeBytes: 1_000_000, spoolBytes: 1 << 30 }, critical: { freeBytes: 1000, spoolBytes: 1 << 30 } } });
    let free = 1 << 30;
    const h = await GatewayHarness.start({ instance: 'gw-ssh-disk', log, ssh: true, spoolFreeBytes: async () => free });
    const sink = new CollectingSink('ssh-watermarks', ['events']);
    const consumer = new Consumer(await KafkaRecordSource.create(KafkaLogConfig.parse(log.kafka), sink, 200), sink, new Metrics());
    const running = consumer.run();
    const level = () => h.gateway.metrics.value('trailgate_spool_watermark_level', { instance: 'gw-ssh-disk' });
    const ssh = h.openssh();
    const open = ssh.spawn(['web@127.0.0.1', 'echo ready; exec sleep 600'], await h.token());
    try {
      let out = '';
      open.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => open.once('exit', (code) => resolve(code)));
      await eventually(() => out.includes('ready'), 'the long SSH session to run on the target', 60_000);

      free = 500_000;
      await eventually(() => level() === 1, 'the low watermark');
      const refused = await ssh.ssh(['web@127.0.0.1', 'true'], { token: await h.token() });
      assert.notEqual(refused.code, 0, 'the new login is refused');
      assert.match(refused.stderr, /TG_SPOOL_LOW/, 'the client is told why, with the code');
      assert.match(refused.stderr, /try again later/);
      assert.equal(h.gateway.ssh!.listener.activeSessions, 1, 'the open session goes on at low');

      free = 500;
      await eventually(() => level() === 2, 'the critical watermark');
      await exited;
      assert.equal(h.gateway.ssh!.listener.activeSessions, 0, 'the recorded session was ended');

      free = 1 << 30;
      await eventually(() => level() === 0, 'back to ok');
      const again = await ssh.ssh(['web@127.0.0.1', 'echo back'], { token: await h.token() });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout.toString().trim(), 'back');

      await h.gateway.writer.flush();
      await h.gateway.kafka!.drained();
      const ends = () => [...sink.records.values()].filter((r): r is EventRecord<'session.ended'> => r.stream === 'events' && r.type === 'session.ended');
      await eventually(() => ends().length >= 3, 'three SSH sessions ended on Kafka');
      const reasons = ends().map((e) => `${e.data.reason}:${e.data.detail?.split(':')[0] ?? ''}`).sort();
      assert.deepEqual(reasons.filter((r) => r.startsWith('recording-unavailable')), ['recording-unavailable:TG_SPOOL_CRITICAL', 'recording-unavailable:TG_SPOOL_LOW']);
      const ended = ends().find((e) => e.data.detail?.startsWith('TG_SPOOL_CRITICAL'))!;
      const marks = [...sink.records.values()].filter((r): r is EventRecord<'spool.watermark'> => r.sessionId === ended.sessionId && r.type === 'spool.watermark').map((e) => e.data.level);
      assert.deepEqual(marks, ['low', 'critical'], 'the open SSH session recorded both crossings');
    } finally {
      if (open.exitCode === null) open.kill('SIGKILL');
      await consumer.stop();
      await running.catch(() => undefined);
      await h.stop();
    }
  });
});
