/**
 * Forwarding to Microsoft Sentinel from the Kafka log (a real broker), against the Logs Ingestion
 * STAND-IN (tests/services/sentinel-standin.ts): real psql, ssh and scp sessions recorded into Kafka
 * reach the stand-in through the Sentinel sink on the consumer framework, and a forwarder SIGKILLed in
 * the middle of a batch and started again loses nothing.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { KafkaRecordSource } from '../../connectors/kafka/kafka-record-source.js';
import { sentinelSinkFor } from '../../connectors/sentinel/sink.js';
import type { AuditRecord } from '../../events/index.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import { Metrics } from '../../services/metrics/metrics.js';
import type { SentinelStandIn } from '../services/sentinel-standin.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { CollectingSink, eventually, kafkaLog } from '../support/kafka-env.js';
import { assertDeliveredWhole, CLIENT_SECRET, dedup, recordRealSessions, sentinelConfig, startStandIn } from '../support/sentinel-env.js';

const log = kafkaLog();
let h: GatewayHarness;
let standIn: SentinelStandIn;
let records: AuditRecord[];

/** Reads the whole Kafka log with a collecting consumer of its own until every session is sealed: the expected records. */
async function sealedInKafka(): Promise<AuditRecord[]> {
  await h.gateway.writer.flush();
  await h.gateway.kafka!.drained();
  const sink = new CollectingSink('sentinel-expected');
  const consumer = new Consumer(await KafkaRecordSource.create(KafkaLogConfig.parse(log.kafka), sink, 200), sink, new Metrics());
  const running = consumer.run();
  try {
    await eventually(() => {
      const sessions = [...sink.bySession().values()];
      return sessions.length >= 4 && sessions.every((list) => {
        const last = list[list.length - 1]!;
        return last.stream === 'events' && last.type === 'checkpoint.signed' && (last.data as { final: boolean }).final && last.seq === list.length;
      });
    }, 'every session to be sealed in Kafka');
  } finally {
    await consumer.stop();
    await running.catch(() => undefined);
  }
  return [...sink.records.values()];
}

before(async () => {
  h = await GatewayHarness.start({ ssh: true, log, integrity: { checkpointEvery: 5 } });
  standIn = await startStandIn();
  records = await recordRealSessions(h, 'kafka', sealedInKafka);
});
after(async () => {
  await standIn?.stop();
  await h?.stop();
});

describe('Sentinel forwarding from the Kafka log (Logs Ingestion stand-in)', () => {
  it('delivers every record of real sessions exactly once', async () => {
    standIn.reset();
    const sink = sentinelSinkFor(sentinelConfig(standIn, { maxRowsPerUpload: 25 }), { name: 'sentinel-kafka' });
    const consumer = new Consumer(await KafkaRecordSource.create(KafkaLogConfig.parse(log.kafka), sink, 100), sink, new Metrics(), { retryMs: 50 });
    const running = consumer.run();
    try {
      await eventually(() => dedup(standIn.rows()).byId.size >= records.length, 'the sink to deliver the Kafka log');
    } finally {
      await consumer.stop();
      await running.catch(() => undefined);
    }
    assert.equal(dedup(standIn.rows()).duplicates, 0);
    assertDeliveredWhole(standIn.rows(), records);
    assert.equal(sink.stats.acknowledged, records.length);
  });

  it('loses nothing when the forwarder process is SIGKILLed mid-batch and started again', async () => {
    standIn.reset();
    const config = sentinelConfig(standIn, { maxRowsPerUpload: 10, maxConcurrency: 2 });
    const args = JSON.stringify({ log: { kafka: log.kafka }, sentinel: config, name: 'sentinel-kafka-killed', batchSize: 60 });
    standIn.faults.push({ delayMs: 30, times: 1000 });
    const output: string[] = [];
    let child = forwarder(args, output);
    let killed = false;
    standIn.onIngest = (n) => {
      if (n === 3 && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    await new Promise((r) => child.once('exit', r));
    assert.ok(killed, 'the forwarder was killed in the middle of a batch');
    assert.ok(dedup(standIn.rows()).byId.size < records.length, 'it had not delivered everything');
    standIn.onIngest = null;
    child = forwarder(args, output);
    try {
      await eventually(() => dedup(standIn.rows()).byId.size === records.length, 'the restarted forwarder to deliver the rest');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    assert.ok(dedup(standIn.rows()).duplicates <= 60, 'duplicates only from the batch in flight');
    assertDeliveredWhole(standIn.rows(), records);
    const text = output.join('');
    assert.ok(!text.includes(CLIENT_SECRET));
    for (const token of standIn.tokens) assert.ok(!text.includes(token), 'no access token is logged');
  });
});

function forwarder(args: string, output: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/support/sentinel-forwarder.ts', args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AZURE_LOG_LEVEL: 'verbose' } });
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  return child;
}
