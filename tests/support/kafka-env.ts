import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import type { AuditRecord, EventRecord } from '../../events/index.js';
import type { DeadLetter, RecordSink } from '../../connectors/consumer/record-sink.js';
import { createKafka, createTopicsLed } from '../../connectors/kafka/kafka-client.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import { requiredEnv } from './test-env.js';

const run = promisify(execFile);

/** The Kafka broker tests/run.sh started (tests/services/kafka.sh). */
export function kafkaBrokers(): string[] {
  return [requiredEnv('TG_KAFKA_BROKERS')];
}

/** A `log` configuration on the test broker, with topics of their own for one test. */
export function kafkaLog(prefix = `t${randomBytes(4).toString('hex')}`, extra: Record<string, unknown> = {}) {
  return { kind: 'kafka', kafka: { brokers: kafkaBrokers(), topicPrefix: prefix, partitions: 3, replicationFactor: 1, ...extra } } as const;
}

/**
 * Closes sockets this process still holds to the test broker. kafkajs can leave a consumer's coordinator
 * connection open when the consumer heartbeats or leaves its group around a broker restart (seen from
 * Consumer.disconnect -> leaveGroup); a stopped gateway's process exits and takes it along, but a test
 * process that ran gateways in-process would never end. For the `after` hook of suites that restart the broker.
 */
export function closeBrokerSockets(): number {
  const port = Number(kafkaBrokers()[0]!.split(':').at(-1));
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const lingering = handles.filter((h): h is Socket => h instanceof Socket && h.remotePort === port);
  for (const socket of lingering) socket.destroy();
  return lingering.length;
}

/** SIGKILLs the broker; its data stays for `restartBroker`. */
export async function killBroker(): Promise<void> {
  await run('bash', [requiredEnv('TG_KAFKA_SCRIPT'), 'kill'], { env: process.env });
}

export async function restartBroker(): Promise<void> {
  await run('bash', [requiredEnv('TG_KAFKA_SCRIPT'), 'restart'], { env: process.env, timeout: 180_000 });
  await brokerLeadsNewTopics();
}

/**
 * A restarted broker answers before the controller has unfenced it and before it leads partitions again;
 * the next test starts once a new topic has a leader, so it meets a broker as a fresh start leaves it.
 */
async function brokerLeadsNewTopics(): Promise<void> {
  const kafka = await createKafka(KafkaLogConfig.parse(kafkaLog().kafka), 'test-probe');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopicsLed(admin, [{ topic: `probe-${randomBytes(4).toString('hex')}`, numPartitions: 1, replicationFactor: 1 }], 'the test broker did not recover');
  } finally {
    await admin.disconnect();
  }
}

/** A sink that keeps what it gets, counts deliveries of the same record, and refuses marked records for good. */
export class CollectingSink implements RecordSink {
  readonly records = new Map<string, AuditRecord>();
  /** Record ids delivered more than once, with how often. */
  readonly doubled = new Map<string, number>();
  delivered = 0;
  constructor(
    readonly name: string,
    readonly streams: readonly AuditRecord['stream'][] = ['events', 'bytes'],
    private readonly poison: (r: AuditRecord) => boolean = () => false,
  ) {}

  async write(records: readonly AuditRecord[]): Promise<{ deadLetters: DeadLetter[] }> {
    const deadLetters: DeadLetter[] = [];
    for (const r of records) {
      this.delivered++;
      if (this.poison(r)) {
        deadLetters.push({ record: r, code: 'TG_TEST_POISON', message: 'this sink refuses the record for good' });
        continue;
      }
      if (this.records.has(r.id)) this.doubled.set(r.id, (this.doubled.get(r.id) ?? 1) + 1);
      this.records.set(r.id, r);
    }
    return { deadLetters };
  }

  bySession(): Map<string, AuditRecord[]> {
    const out = new Map<string, AuditRecord[]>();
    for (const r of this.records.values()) {
      let list = out.get(r.sessionId);
      if (!list) out.set(r.sessionId, (list = []));
      list.push(r);
    }
    for (const list of out.values()) list.sort((a, b) => a.seq - b.seq);
    return out;
  }
}

/** Polls `check` until it holds; a bounded wait for an asynchronous pipeline to get somewhere. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Checks that each session is complete: one gap-free sequence, opened first, ended last, bytes contiguous. */
export function assertWholeSessions(sink: CollectingSink, sessions: Map<string, string>): void {
  const bySession = sink.bySession();
  for (const [sessionId, instance] of sessions) {
    const records = bySession.get(sessionId) ?? [];
    assert.ok(records.length > 0, `session ${sessionId} reached the consumer`);
    assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => i + 1), `session ${sessionId}: one gap-free sequence`);
    assert.ok(records.every((r) => r.instance === instance), 'every record names the gateway that recorded it');
    const events = records.filter((r): r is EventRecord => r.stream === 'events');
    assert.equal(events[0]!.type, 'session.started');
    // The final signed checkpoint seals the session after its end.
    const story = events.filter((e) => e.type !== 'checkpoint.signed');
    assert.equal(story[story.length - 1]!.type, 'session.ended');
    for (const direction of ['client', 'server'] as const) {
      let offset = 0;
      for (const r of records) {
        if (r.stream !== 'bytes' || r.direction !== direction) continue;
        assert.ok(Buffer.isBuffer(r.data), 'byte chunks arrive as binary');
        assert.equal(r.offset, offset, `session ${sessionId}: ${direction} bytes contiguous`);
        offset += r.data.length;
      }
      const end = story[story.length - 1] as EventRecord<'session.ended'>;
      assert.equal(offset, direction === 'client' ? end.data.bytesFromClient : end.data.bytesToClient);
    }
  }
}

