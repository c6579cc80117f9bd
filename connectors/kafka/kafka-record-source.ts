import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { KafkaLogConfig } from '../../services/config/schema.js';
import type { LagReport, RecordSource, SourceDeadLetter, SourceEntry } from '../consumer/consumer.js';
import type { RecordSink } from '../consumer/record-sink.js';
import { createKafka, ensureTopics, logTopics, within, type LogTopics } from './kafka-client.js';
import { decodeRecord, UndecodableRecord, type Stream } from './record-codec.js';

interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | undefined>;
}

/** The consumer group of a sink: one per sink name and deployment. */
export function consumerGroup(prefix: string, sinkName: string): string {
  return `${prefix}.consumer.${sinkName}`;
}

/**
 * Reads the Kafka log in a consumer group named after the sink. Offsets are committed by hand, after
 * the batch went through the sink and its dead letters are in `<prefix>.dead-letter`; only
 * committed transactions are read (read_committed), so aborted spool deliveries are never seen.
 */
export class KafkaRecordSource implements RecordSource {
  readonly kind = 'kafka' as const;
  private consumer: Consumer | null = null;
  private producer: Producer | null = null;
  private topics: LogTopics;
  private readonly group: string;
  private stopped: Promise<void> | null = null;
  /** Lag per partition as of the last batch read from it: measured without asking the cluster. */
  private readonly partLag = new Map<string, LagReport['parts'][number]>();
  private finish: (() => void) | null = null;

  private constructor(
    private readonly kafka: Kafka,
    private readonly config: KafkaLogConfig,
    private readonly sink: Pick<RecordSink, 'name' | 'streams'>,
    private readonly batchSize: number,
  ) {
    this.topics = logTopics(config.topicPrefix);
    this.group = consumerGroup(config.topicPrefix, sink.name);
  }

  static async create(config: KafkaLogConfig, sink: Pick<RecordSink, 'name' | 'streams'>, batchSize: number): Promise<KafkaRecordSource> {
    return new KafkaRecordSource(await createKafka(config, sink.name), config, sink, batchSize);
  }

  private streamOf(topic: string): Stream {
    return topic === this.topics.bytes ? 'bytes' : 'events';
  }

  async run(handle: (entries: SourceEntry[]) => Promise<void>): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, this.config);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    // read_committed: aborted spool deliveries are never seen.
    this.consumer = this.kafka.consumer({ groupId: this.group, readUncommitted: false });
    await this.consumer.connect();
    const topics = this.sink.streams.map((s) => (s === 'bytes' ? this.topics.bytes : this.topics.events));
    await this.consumer.subscribe({ topics, fromBeginning: true });
    this.stopped = new Promise((resolve) => (this.finish = resolve));
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isStale, isRunning }) => {
        const stream = this.streamOf(batch.topic);
        // kafkajs hands over whole fetches; the sink gets them in batches of the configured size.
        for (let i = 0; i < batch.messages.length; i += this.batchSize) {
          if (!isRunning() || isStale()) return;
          const slice = batch.messages.slice(i, i + this.batchSize);
          const entries = slice.map((m): SourceEntry => {
            const headers: RawMessage['headers'] = {};
            for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = Array.isArray(v) ? v[0] : v;
            const raw: RawMessage = { topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key, value: m.value, headers };
            const origin = `${batch.topic}/${batch.partition}@${m.offset}`;
            try {
              return { record: decodeRecord(stream, m.value, headers), origin, raw };
            } catch (err) {
              const e = err instanceof UndecodableRecord ? err : new UndecodableRecord((err as Error).message);
              return { record: null, error: { code: e.code, message: e.message }, origin, raw };
            }
          });
          await handle(entries);
          if (isStale()) return;
          const last = slice[slice.length - 1]!.offset;
          const next = String(BigInt(last) + 1n);
          await this.commitWithRetry([{ topic: batch.topic, partition: batch.partition, offset: next }]);
          resolveOffset(last);
          await heartbeat();
          const end = batch.highWatermark;
          this.partLag.set(`${batch.topic}/${batch.partition}`, { part: `${batch.topic}/${batch.partition}`, committed: next, end, lag: Math.max(0, Number(end) - Number(next)) });
        }
      },
    });
    await this.stopped;
  }

  /** A failed commit after a stored batch would hand the batch out again: retry it a while first. */
  private async commitWithRetry(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    let wait = 100;
    // Long enough to outlast a broker restart; past it the batch is handed out again (sinks are idempotent).
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        await this.consumer!.commitOffsets(offsets);
        return;
      } catch (err) {
        if (Date.now() > deadline || !this.consumer) throw err;
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 2000);
      }
    }
  }

  async deadLetter(letters: SourceDeadLetter[]): Promise<void> {
    const messages = letters.map(({ entry, code, message }) => {
      const raw = entry.raw as RawMessage | null;
      const headers: Record<string, string | Buffer> = {};
      for (const [k, v] of Object.entries(raw?.headers ?? {})) if (v !== undefined) headers[k] = v;
      Object.assign(headers, { 'tg-dl-code': code, 'tg-dl-message': message, 'tg-dl-consumer': this.sink.name, 'tg-dl-origin': entry.origin });
      return { key: raw?.key ?? entry.record?.sessionId ?? null, value: raw?.value ?? (entry.record ? Buffer.from(JSON.stringify(entry.record)) : null), headers };
    });
    await within(this.producer!.send({ topic: this.topics.deadLetter, messages, acks: -1 }), 120_000, 'writing dead letters');
  }

  /**
   * Lag from the high watermarks the fetches brought back; asking the cluster instead would fail
   * (or worse) while a broker is away. `groupLag` asks the cluster, for the status command.
   */
  async lag(): Promise<LagReport> {
    const parts = [...this.partLag.values()];
    return { consumer: this.sink.name, parts, total: parts.reduce((n, p) => n + p.lag, 0) };
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = null;
    await consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    this.finish?.();
  }
}

/** Lag of a consumer group: per partition, the end of the log minus the committed offset. */
export async function groupLag(admin: Admin, group: string, name: string, topics: string[]): Promise<LagReport> {
  const committed = await admin.fetchOffsets({ groupId: group, topics });
  const parts: LagReport['parts'] = [];
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const mine = committed.find((t) => t.topic === topic)?.partitions ?? [];
    for (const p of ends) {
      const c = mine.find((x) => x.partition === p.partition)?.offset ?? '-1';
      const start = Number(c) >= 0 ? Number(c) : Number(p.low);
      parts.push({ part: `${topic}/${p.partition}`, committed: c, end: p.high, lag: Math.max(0, Number(p.high) - start) });
    }
  }
  return { consumer: name, parts, total: parts.reduce((n, p) => n + p.lag, 0) };
}
