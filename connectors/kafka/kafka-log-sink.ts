import { EventEmitter } from 'node:events';
import { statfs } from 'node:fs/promises';
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import type { SessionContext, SpoolWatermarkData } from '../../events/index.js';
import type { KafkaLogConfig } from '../../services/config/schema.js';
import type { Metrics } from '../../services/metrics/metrics.js';
import type { PendingRecord } from '../embedded-log/embedded-log.js';
import type { LogSink } from '../embedded-log/log-sinks.js';
import { createKafka, ensureTopics, within, type LogTopics } from './kafka-client.js';
import { encodeRecord, packMessages, toAuditRecord, unpackMessages } from './record-codec.js';
import { Spool } from './spool.js';

export type WatermarkLevel = SpoolWatermarkData['level'];

export interface KafkaLogSinkOptions {
  config: KafkaLogConfig;
  /** Gateway instance: names its transactional producer, so two gateways must not share one. */
  instance: string;
  spoolDir: string;
  metrics: Metrics;
  /** Free bytes on the spool's file system; tests put a smaller disk in. */
  freeBytes?: (dir: string) => Promise<number>;
  /** Milliseconds between watermark checks. */
  watermarkIntervalMs?: number;
}

interface Link {
  producer: KafkaJS.Producer;
  /** Never subscribes: it only names the group the spool position is committed under. */
  positions: KafkaJS.Consumer;
  topics: LogTopics;
}

const CONNECT_TIMEOUT_MS = 30_000;
const ENDED_CONTEXT_MS = 10 * 60_000;
const TRANSACTION_TIMEOUT_MS = 120_000;

/**
 * The gateway's Kafka log: every batch is appended to the local spool (the durable write strict
 * recording waits for), and a drainer delivers the spool to Kafka in order.
 *
 * Nothing lost, nothing doubled: each drained batch goes out in one Kafka transaction together with
 * the spool position after it, committed as the offset of a group named after this gateway and this
 * spool. A gateway that restarts (or reconnects after an unclear commit) fences its previous producer,
 * reads that position back and resumes right after the last batch Kafka has.
 */
export class KafkaLogSink extends EventEmitter<{ watermark: [data: SpoolWatermarkData]; drained: [position: number] }> implements LogSink {
  private readonly contexts = new Map<string, SessionContext>();
  /** Sessions that ended, by when: their contexts are dropped after ENDED_CONTEXT_MS. */
  private readonly ended = new Map<string, number>();
  private link: Link | null = null;
  private position: number;
  private stopping = false;
  private drainer: Promise<void>;
  private wake: (() => void) | null = null;
  private level: WatermarkLevel = 'ok';
  private freeBytes = Number.POSITIVE_INFINITY;
  private readonly watermarkTimer: NodeJS.Timeout;
  private lastError: string | null = null;

  private constructor(
    private readonly o: KafkaLogSinkOptions,
    readonly spool: Spool,
    private readonly kafka: KafkaJS.Kafka,
  ) {
    super();
    this.position = spool.drainedPosition;
    const m = o.metrics;
    const labels = { instance: o.instance };
    m.gauge('trailgate_spool_pending_bytes', 'Bytes in the spool not yet delivered to Kafka.', labels, () => this.spool.pendingBytes);
    m.gauge('trailgate_spool_disk_bytes', 'Bytes the spool files take on disk.', labels, () => this.spool.diskBytes);
    m.gauge('trailgate_spool_free_bytes', 'Free bytes on the file system of the spool.', labels, () => this.freeBytes);
    m.gauge('trailgate_spool_watermark_level', 'Spool watermark: 0 ok, 1 low (new sessions refused), 2 critical (recorded sessions ended).', labels, () => ({ ok: 0, low: 1, critical: 2 })[this.level]);
    m.gauge('trailgate_kafka_connected', 'Whether the spool drainer has a working link to Kafka.', labels, () => (this.link ? 1 : 0));
    this.unblock = () => this.wake?.();
    spool.onAppend(this.unblock);
    this.watermarkTimer = setInterval(() => void this.checkWatermarks(), o.watermarkIntervalMs ?? 1000);
    this.watermarkTimer.unref();
    this.drainer = this.drainLoop();
  }

  private readonly unblock: () => void;

  static async open(o: KafkaLogSinkOptions): Promise<KafkaLogSink> {
    const spool = await Spool.open(o.spoolDir, { fsync: o.config.spool.fsync, segmentBytes: o.config.spool.segmentBytes });
    const kafka = await createKafka(o.config, 'gateway');
    const sink = new KafkaLogSink(o, spool, kafka);
    await sink.checkWatermarks();
    return sink;
  }

  get watermark(): WatermarkLevel {
    return this.level;
  }

  /** Why the drainer is not delivering right now, if it is not. */
  get kafkaError(): string | null {
    return this.lastError;
  }

  write(sessions: SessionContext[], records: PendingRecord[]): Promise<void> {
    for (const ctx of sessions) this.contexts.set(ctx.sessionId, ctx);
    const messages = [];
    const now = Date.now();
    for (const r of records) {
      const ctx = this.contexts.get(r.sessionId);
      if (!ctx) return Promise.reject(new Error(`record ${r.sessionId}:${r.seq} belongs to no open session`));
      messages.push(encodeRecord(toAuditRecord(ctx, r)));
      // Records may follow the end (the final signed checkpoint): forget the context a while later.
      if (r.stream === 'events' && (r.type === 'session.ended' || r.type === 'session.aborted')) this.ended.set(r.sessionId, now);
    }
    for (const [id, at] of this.ended) {
      if (now - at < ENDED_CONTEXT_MS) break;
      this.ended.delete(id);
      this.contexts.delete(id);
    }
    if (messages.length === 0) return Promise.resolve();
    return this.spool.append([packMessages(messages)]);
  }

  /** Resolves once everything spooled so far is in Kafka (tests, shutdown with a reachable Kafka). */
  async drained(timeoutMs = 60_000): Promise<void> {
    const target = this.spool.endPosition;
    if (this.position >= target) return;
    await within(
      new Promise<void>((resolve) => {
        const check = (pos: number) => {
          if (pos < target) return;
          this.off('drained', check);
          resolve();
        };
        this.on('drained', check);
      }),
      timeoutMs,
      'draining the spool to Kafka',
    );
  }

  /** Stops draining (what is not delivered stays in the spool for the next start) and closes the spool. */
  async close(): Promise<void> {
    this.stopping = true;
    clearInterval(this.watermarkTimer);
    this.wake?.();
    // A drainer waiting on an unreachable Kafka gives up at its next step; what it holds stays spooled.
    await Promise.race([this.drainer, new Promise((r) => setTimeout(r, 3000).unref())]);
    await this.dropLink();
    await this.spool.close();
  }

  private async drainLoop(): Promise<void> {
    let backoff = 200;
    while (!this.stopping) {
      try {
        this.link ??= await this.connect();
        const frames = await this.spool.read(this.position, this.o.config.spool.batchBytes);
        if (frames.length === 0) {
          await this.idle(1000);
          continue;
        }
        const messages = frames.flatMap((f) => unpackMessages(f.payload));
        const end = frames[frames.length - 1]!.end;
        await this.deliver(this.link, messages, end);
        this.position = end;
        await this.spool.commit(end);
        this.o.metrics.counter('trailgate_kafka_records_delivered_total', 'Records the gateway delivered to Kafka.', { instance: this.o.instance }, messages.length);
        this.lastError = null;
        backoff = 200;
        this.emit('drained', end);
      } catch (err) {
        if (this.stopping) break;
        const message = (err as Error).message;
        if (message !== this.lastError) console.error(`trailgate: Kafka delivery paused, records stay in the spool (${message}) [TG_KAFKA_UNAVAILABLE]`);
        this.lastError = message;
        this.o.metrics.counter('trailgate_kafka_delivery_failures_total', 'Failed attempts to deliver a spool batch to Kafka.', { instance: this.o.instance });
        if (transactionErrorKind(err) === 'fatal') await this.dropLink();
        else await this.recover();
        await this.idle(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  /** Connects, fences any earlier producer of this gateway and resumes from the position Kafka holds. */
  private async connect(): Promise<Link> {
    const { config, instance } = this.o;
    const admin = this.kafka.admin();
    const producer = this.kafka.producer({
      kafkaJS: { transactionalId: `${config.topicPrefix}.gateway.${instance}`, idempotent: true, acks: -1, maxInFlightRequests: 5, transactionTimeout: TRANSACTION_TIMEOUT_MS },
      'linger.ms': 5,
      'compression.type': 'lz4',
      'message.timeout.ms': TRANSACTION_TIMEOUT_MS - 10_000,
    });
    const positions = this.kafka.consumer({ kafkaJS: { groupId: this.positionGroup(), autoCommit: false } });
    const link: Link = { producer, positions, topics: null as unknown as LogTopics };
    try {
      await within(admin.connect(), CONNECT_TIMEOUT_MS, 'connecting to Kafka');
      link.topics = await within(ensureTopics(admin, config), CONNECT_TIMEOUT_MS, 'creating the log topics');
      await within(producer.connect(), CONNECT_TIMEOUT_MS, 'initialising the transactional producer');
      await within(positions.connect(), CONNECT_TIMEOUT_MS, 'connecting the position group');
      // Read through the group's own (read_committed) consumer, not the admin API: a pending
      // transaction's offsets are waited for, never read half-done.
      const committed = await within(positions.committed([{ topic: link.topics.spoolPositions, partition: 0 }], CONNECT_TIMEOUT_MS), CONNECT_TIMEOUT_MS + 5000, 'reading the spool position from Kafka');
      const offset = Number(committed.find((p) => p.partition === 0)?.offset ?? -1);
      // Kafka's word wins: it is written in the same transaction as the records.
      if (offset > this.position) {
        this.position = Math.min(offset, this.spool.endPosition);
        await this.spool.commit(this.position);
      }
      return link;
    } catch (err) {
      await disconnectAll(link);
      throw err;
    } finally {
      await within(admin.disconnect(), 10_000, 'disconnecting the admin client').catch(() => undefined);
    }
  }

  private positionGroup(): string {
    return `${this.o.config.topicPrefix}.spool.${this.o.instance}.${this.spool.id}`;
  }

  /**
   * One spool batch in one transaction. librdkafka waits out short broker outages itself (sends stay
   * queued up to message.timeout.ms); a transaction call that times out is retried as it is, as
   * librdkafka allows, so the same producer carries on after the broker is back.
   */
  private async deliver(link: Link, messages: ReturnType<typeof unpackMessages>, end: number): Promise<void> {
    const { producer, topics } = link;
    if (!producer.isActive()) await producer.transaction();
    const byTopic = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[]>();
    for (const m of messages) {
      const topic = m.stream === 'bytes' ? topics.bytes : topics.events;
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push({ key: m.key, value: m.value, headers: m.headers });
    }
    await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })) });
    await this.retrying(() => producer.sendOffsets({ consumer: link.positions, topics: [{ topic: topics.spoolPositions, partitions: [{ partition: 0, offset: String(end) }] }] }));
    await this.retrying(() => producer.commit());
  }

  /** Repeats a transaction call while librdkafka says it may be repeated (a timeout, a broker away). */
  private async retrying(call: () => Promise<unknown>): Promise<void> {
    let wait = 200;
    const deadline = Date.now() + TRANSACTION_TIMEOUT_MS;
    for (;;) {
      try {
        await call();
        return;
      } catch (err) {
        if (transactionErrorKind(err) !== 'retry' || this.stopping || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 2000);
      }
    }
  }

  /**
   * After a failed delivery: abort the open transaction and keep the producer when librdkafka allows
   * it (the batch is sent again, the aborted copy is never read); otherwise start over with a new one.
   */
  private async recover(): Promise<void> {
    const link = this.link;
    if (!link) return;
    try {
      if (link.producer.isActive()) await this.retrying(() => link.producer.abort());
    } catch {
      await this.dropLink();
    }
  }

  private async dropLink(): Promise<void> {
    const link = this.link;
    this.link = null;
    if (link) await disconnectAll(link);
  }

  private async checkWatermarks(): Promise<void> {
    const { low, critical } = this.o.config.spool;
    try {
      this.freeBytes = await (this.o.freeBytes ?? diskFree)(this.spool.dir);
    } catch {
      // statfs failing is no reason to refuse sessions; the spool size still counts.
    }
    const spoolBytes = this.spool.pendingBytes;
    const next: WatermarkLevel =
      this.freeBytes < critical.freeBytes || spoolBytes > critical.spoolBytes ? 'critical' : this.freeBytes < low.freeBytes || spoolBytes > low.spoolBytes ? 'low' : 'ok';
    if (next === this.level) return;
    const data: SpoolWatermarkData = { level: next, previous: this.level, freeBytes: Number.isFinite(this.freeBytes) ? this.freeBytes : -1, spoolBytes };
    this.level = next;
    this.o.metrics.counter('trailgate_spool_watermark_crossings_total', 'Times the spool crossed into a watermark level.', { instance: this.o.instance, level: next });
    console.error(`trailgate: spool watermark ${data.previous} -> ${next} (free ${data.freeBytes} bytes, spooled ${spoolBytes} bytes) [TG_SPOOL_${next.toUpperCase()}]`);
    this.emit('watermark', data);
  }
}

/**
 * What a failed transaction call allows. The client's KafkaJS-compatible errors do not carry
 * librdkafka's retriable/fatal flags through, so the codes and messages decide: a timeout or a lost
 * broker means call the same thing again; a fenced or fatal producer must be replaced; anything
 * else aborts the transaction.
 */
export function transactionErrorKind(err: unknown): 'retry' | 'fatal' | 'abort' {
  const e = err as { code?: number; message?: string; fatal?: boolean; retriable?: boolean };
  const message = e.message ?? '';
  if (e.fatal || e.code === -150 || /fenced|fatal/i.test(message)) return 'fatal';
  if (e.retriable || [-185, -195, -187, 7, 14, 15, 51].includes(e.code ?? 0) || /retry call to resume|timed out|transport|coordinator|all broker/i.test(message)) return 'retry';
  return 'abort';
}

async function diskFree(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

async function disconnectAll(link: Link): Promise<void> {
  await Promise.allSettled([
    within(link.producer.disconnect(), 10_000, 'disconnecting the producer'),
    within(link.positions.disconnect(), 10_000, 'disconnecting the position group'),
  ]);
}
