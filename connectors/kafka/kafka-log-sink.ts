import { EventEmitter } from 'node:events';
import { statfs } from 'node:fs/promises';
import kafkajs, { type Kafka, type Producer, type Transaction } from 'kafkajs';
import type { SessionContext, SpoolWatermarkData } from '../../events/index.js';
import type { KafkaLogConfig } from '../../services/config/schema.js';
import type { Metrics } from '../../services/metrics/metrics.js';
import type { CanonicalData, LedgerEntry, PendingRecord, UnsealedSession } from '../embedded-log/embedded-log.js';
import type { LogSink } from '../embedded-log/log-sinks.js';
import { createKafka, DEFAULT_REQUEST_BYTES, ensureTopics, requestBudgets, TOPIC_MAX_MESSAGE_BYTES, within, type LogTopics } from './kafka-client.js';
import { rememberCoordinators, type CoordinatorMemory } from './coordinator-memory.js';
import { DeliveryStop } from './delivery-stop.js';
import { permanentDeliveryError, protocolErrorType, retryingTransient, transactionErrorKind } from './kafka-errors.js';
import { encodeLedgerEntry, encodePending, envelopeJson, packMessages, packSpoolMessages, unpackMessages, type KafkaMessage, type SpoolMessage } from './record-codec.js';
import { SessionHeads } from './session-heads.js';
import { Spool } from './spool.js';

export type WatermarkLevel = SpoolWatermarkData['level'];

export interface KafkaLogSinkOptions {
  config: KafkaLogConfig;
  /** Gateway instance: names its transactional producer, so two gateways must not share one. */
  instance: string;
  spoolDir: string;
  metrics: Metrics;
  /** recording.fsync: whether the spool fdatasyncs every batch when log.kafka.spool.fsync does not say. */
  recordingFsync?: boolean;
  /** Free bytes on the spool's file system; tests put a smaller disk in. */
  freeBytes?: (dir: string) => Promise<number>;
  /** Milliseconds between watermark checks. */
  watermarkIntervalMs?: number;
  /** Milliseconds a drainer stopped on a permanent refusal waits before trying again (default 60 s). */
  stoppedRecheckMs?: number;
  /** A transaction of less than LINGER_BYTES starts at most this long after the previous one began (default LINGER_MS; 0: at once). */
  lingerMs?: number;
}

/** Where one drained transaction spent its time (for benchmarks): milliseconds per step, and the broker requests it made. */
export interface TransactionTiming {
  records: number;
  produceMs: number;
  positionMs: number;
  commitMs: number;
  /** Requests by Kafka API name (FindCoordinator, AddPartitionsToTxn, Produce, ...). */
  requests: Record<string, number>;
}

interface Link {
  producer: Producer;
  /** Requests this producer made since the last transaction's timing was taken. */
  requests: Record<string, number>;
  /** The transaction being filled, or the one begun at connect to fence the previous producer. */
  txn: Transaction | null;
  topics: LogTopics;
  /** Bytes per topic in one produce request. */
  budgets: Map<string, number>;
}

const CONNECT_TIMEOUT_MS = 30_000;
const ENDED_CONTEXT_MS = 10 * 60_000;
const TRANSACTION_TIMEOUT_MS = 120_000;
/**
 * Under a steady trickle of records the drainer would run one small transaction after another, and
 * each costs the broker five requests (and the consumers a fetch and their commits) whatever it
 * holds: a transaction waits for more until this long after the previous one began, unless it
 * already has LINGER_BYTES. Under load transactions take longer than this anyway.
 */
const LINGER_MS = 100;
const LINGER_BYTES = 256 * 1024;

/**
 * The gateway's Kafka log: every batch is appended to the local spool (the durable write strict
 * recording waits for), and a drainer delivers the spool to Kafka in order.
 *
 * Nothing lost, nothing doubled: each drained batch goes out in one Kafka transaction together with
 * the spool position after it, committed as the offset of a group named after this gateway and this
 * spool. A gateway that restarts (or reconnects after an unclear commit) fences its previous producer,
 * reads that position back and resumes right after the last batch Kafka has.
 */
export class KafkaLogSink extends EventEmitter<{ watermark: [data: SpoolWatermarkData]; drained: [position: number]; transaction: [timing: TransactionTiming] }> implements LogSink {
  /** Open sessions' envelopes as JSON text (envelopeJson), by session id. */
  private readonly contexts = new Map<string, string>();
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
  /** When the last transaction began (performance.now()). */
  private lastDelivery = 0;
  /** The spool learning the position of the last delivered batch: it deletes delivered segments. */
  private spoolCommit: Promise<void> = Promise.resolve();
  /** Set while Kafka refuses the spool's next batch for good; the records wait in the spool. */
  readonly deliveryStop: DeliveryStop;
  /** Ledger entries waiting for their place in the spool, oldest first. */
  private ledgerQueue: LedgerEntry[] = [];
  private ledgerAppending: Promise<void> | null = null;
  /** Sealed sessions the saved heads still keep: until the gateway's ledger names them. */
  private keepSealed: () => (sessionId: string) => boolean = () => () => true;

  private constructor(
    private readonly o: KafkaLogSinkOptions,
    readonly spool: Spool,
    private readonly kafka: Kafka,
    /** Coordinators the producer looked up, remembered between transactions. */
    private readonly coordinators: CoordinatorMemory,
    /** Heads as of what is delivered: saved before the spool deletes a segment. */
    private readonly heads: SessionHeads,
    /** Heads as of everything in the spool at start: what a crash left open. */
    private readonly recovered: SessionHeads,
  ) {
    super();
    this.position = spool.drainedPosition;
    // Records closing what a crash left open continue those sessions.
    for (const h of recovered.unsealed(o.instance)) this.contexts.set(h.context.sessionId, envelopeJson(h.context));
    spool.onTrim(async (position) => {
      if (this.heads.position < position) await this.heads.advance(this.spool, position);
      await this.heads.save(this.spool.dir, this.keepSealed());
    });
    const m = o.metrics;
    const labels = { instance: o.instance };
    this.deliveryStop = new DeliveryStop(m, o.instance, o.stoppedRecheckMs);
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
    const spool = await Spool.open(o.spoolDir, { fsync: spoolFsync(o.config, o.recordingFsync), segmentBytes: o.config.spool.segmentBytes });
    const kafka = await createKafka(o.config, 'gateway');
    const coordinators = rememberCoordinators(kafka);
    const heads = SessionHeads.load(spool.dir);
    // A spool from before saved heads existed: what its deleted segments held is not known.
    if (heads.position < spool.startPosition) heads.position = spool.startPosition;
    await heads.advance(spool, spool.drainedPosition);
    const recovered = heads.clone();
    await recovered.advance(spool, spool.endPosition);
    const sink = new KafkaLogSink(o, spool, kafka, coordinators, heads, recovered);
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

  write(sessions: SessionContext[], records: PendingRecord[], canonical?: CanonicalData): Promise<void> {
    for (const ctx of sessions) this.contexts.set(ctx.sessionId, envelopeJson(ctx));
    const messages: SpoolMessage[] = [];
    const now = Date.now();
    let sealed: string[] | null = null;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const envelope = this.contexts.get(r.sessionId);
      if (envelope === undefined) return Promise.reject(new Error(`record ${r.sessionId}:${r.seq} belongs to no open session`));
      // Each event's data as the recorder hashed it: serialised once, not again here.
      messages.push(encodePending(envelope, r, canonical?.[i]));
      // Records may follow the end (the final signed checkpoint): forget the context a while later.
      if (r.stream === 'events' && (r.type === 'session.ended' || r.type === 'session.aborted')) this.ended.set(r.sessionId, now);
      // Nothing follows a session's final checkpoint: its context can go as soon as the spool has the batch.
      if (r.stream === 'events' && r.type === 'checkpoint.signed' && (r.data as { final?: boolean }).final) (sealed ??= []).push(r.sessionId);
    }
    for (const [id, at] of this.ended) {
      if (now - at < ENDED_CONTEXT_MS) break;
      this.ended.delete(id);
      this.contexts.delete(id);
    }
    if (messages.length === 0) return Promise.resolve();
    const appended = this.spool.append([packSpoolMessages(messages)]);
    if (!sealed) return appended;
    return appended.then(() => {
      for (const id of sealed) {
        this.contexts.delete(id);
        this.ended.delete(id);
      }
    });
  }

  /** Sessions of `instance` the spool holds without a signed end (at start: what a crash left open), with their chain heads. */
  unsealedSessions(instance: string): UnsealedSession[] {
    return this.recovered.unsealed(instance);
  }

  /** Sessions the spool (and its saved heads) knows of, for the ledger to name what a crash left unnamed. */
  knownSessionIds(): string[] {
    return this.recovered.sessionIds();
  }

  /** The highest ledger entry seq in the spool at start: entries after it are published again. */
  get spooledLedgerSeq(): number {
    return this.recovered.ledgerSeq;
  }

  /** Saved heads keep sealed sessions while `keep` (made fresh at each save) says so. */
  retainSealed(keep: () => (sessionId: string) => boolean): void {
    this.keepSealed = keep;
  }

  /**
   * Sends a signed ledger entry to `<prefix>.ledger` through the spool, after every record spooled
   * before it and in the order of the calls. An append that fails is tried again until it succeeds.
   */
  publishLedger(entry: LedgerEntry): Promise<void> {
    this.ledgerQueue.push(entry);
    this.ledgerAppending ??= this.appendLedger();
    return this.ledgerAppending;
  }

  private async appendLedger(): Promise<void> {
    let wait = 200;
    try {
      while (this.ledgerQueue.length && !this.spoolClosed) {
        try {
          await this.spool.append([packMessages([encodeLedgerEntry(this.ledgerQueue[0]!)])]);
          this.ledgerQueue.shift();
          wait = 200;
        } catch (err) {
          console.error(`trailgate: a ledger entry could not be spooled, trying again (${(err as Error).message}) [TG_LEDGER_SPOOL]`);
          // Stopping: the entry stays in the local ledger and is published at the next start.
          if (this.stopping) return;
          await new Promise((r) => setTimeout(r, wait).unref());
          wait = Math.min(wait * 2, 5000);
        }
      }
    } finally {
      // In the same turn as the last check of the queue, so an entry queued later starts a new run.
      this.ledgerAppending = null;
    }
  }

  private spoolClosed = false;

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
    await this.ledgerAppending;
    this.wake?.();
    this.deliveryStop.resume();
    // A drainer waiting on an unreachable Kafka gives up at its next step; what it holds stays spooled.
    await Promise.race([this.drainer, new Promise((r) => setTimeout(r, 3000).unref())]);
    await this.dropLink();
    this.spoolClosed = true;
    await this.spool.close();
  }

  private async drainLoop(): Promise<void> {
    let backoff = 200;
    while (!this.stopping) {
      try {
        this.link ??= await this.connect();
        const linger = this.lingerLeft();
        if (linger > 0) {
          await this.idle(linger);
          continue;
        }
        const frames = await this.spool.read(this.position, this.o.config.spool.batchBytes);
        if (frames.length === 0) {
          await this.idle(1000);
          continue;
        }
        const messages = frames.flatMap((f) => unpackMessages(f.payload));
        const end = frames[frames.length - 1]!.end;
        this.lastDelivery = performance.now();
        await this.deliver(this.link, messages, end);
        this.heads.apply(messages, end);
        this.position = end;
        // The spool's own note of the position went on while this batch was in Kafka's hands; a
        // failure to write it surfaces here, once (Kafka's committed position is the authority).
        const previous = this.spoolCommit;
        this.spoolCommit = Promise.resolve();
        await previous;
        this.spoolCommit = this.spool.commit(end);
        this.spoolCommit.catch(() => undefined);
        this.o.metrics.counter('trailgate_kafka_records_delivered_total', 'Records the gateway delivered to Kafka.', { instance: this.o.instance }, messages.length);
        this.lastError = null;
        this.deliveryStop.clear();
        backoff = 200;
        this.emit('drained', end);
      } catch (err) {
        if (this.stopping) break;
        const permanent = permanentDeliveryError(err, this.o.config.topicPrefix);
        if (permanent) {
          this.deliveryStop.stop(permanent, err as Error);
          this.lastError = this.deliveryStop.stopped!.message;
          if (transactionErrorKind(err) === 'fatal') await this.dropLink();
          else await this.recover();
          await this.deliveryStop.wait();
          continue;
        }
        const message = protocolErrorType(err) === 'MESSAGE_TOO_LARGE' ? `${(err as Error).message}: a spooled record is larger than its topic's max.message.bytes; raise it on ${this.o.config.topicPrefix}.events and .bytes (trailgate creates them with ${TOPIC_MAX_MESSAGE_BYTES}) [TG_KAFKA_RECORD_TOO_LARGE]` : (err as Error).message;
        if (message !== this.lastError) console.error(`trailgate: Kafka delivery paused, records stay in the spool (${message}) [TG_KAFKA_UNAVAILABLE]`);
        this.lastError = message;
        this.o.metrics.counter('trailgate_kafka_delivery_failures_total', 'Failed attempts to deliver a spool batch to Kafka.', { instance: this.o.instance });
        if (transactionErrorKind(err) === 'fatal') await this.dropLink();
        else await this.recover();
        await this.idle(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
    await this.spoolCommit.catch(() => undefined);
  }

  /** Milliseconds the next transaction waits for more records: none once LINGER_BYTES wait, or nothing does. */
  private lingerLeft(): number {
    const waiting = this.spool.endPosition - this.position;
    if (waiting === 0 || waiting >= LINGER_BYTES || this.stopping) return 0;
    return Math.max(0, this.lastDelivery + (this.o.lingerMs ?? LINGER_MS) - performance.now());
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

  /**
   * Connects, fences any earlier producer of this gateway and resumes from the position Kafka holds.
   * kafkajs fences at the first `transaction()`, not at `connect()`: that transaction is begun here,
   * before the position is read, so a zombie's transaction is aborted or committed by then.
   */
  private async connect(): Promise<Link> {
    const { config, instance } = this.o;
    const admin = this.kafka.admin();
    const producer = this.kafka.producer({
      transactionalId: `${config.topicPrefix}.gateway.${instance}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: TRANSACTION_TIMEOUT_MS,
      // The first request of each transaction meets CONCURRENT_TRANSACTIONS while the broker finishes
      // the previous commit (milliseconds): retry soon, not after kafkajs' default 300 ms.
      retry: { retries: 10, initialRetryTime: 20, maxRetryTime: 2000 },
      createPartitioner: memoisedPartitioner,
    });
    const link: Link = { producer, requests: {}, txn: null, topics: null as unknown as LogTopics, budgets: new Map() };
    producer.on(producer.events.REQUEST, ({ payload }) => {
      if (this.listenerCount('transaction')) link.requests[payload.apiName] = (link.requests[payload.apiName] ?? 0) + 1;
    });
    try {
      await within(admin.connect(), CONNECT_TIMEOUT_MS, 'connecting to Kafka');
      link.topics = await within(ensureTopics(admin, config), CONNECT_TIMEOUT_MS, 'creating the log topics');
      link.budgets = await within(requestBudgets(admin, [link.topics.events, link.topics.bytes, link.topics.ledger]), CONNECT_TIMEOUT_MS, 'reading the topics\' record size limits');
      await within(producer.connect(), CONNECT_TIMEOUT_MS, 'connecting the transactional producer');
      link.txn = await within(producer.transaction(), CONNECT_TIMEOUT_MS, 'fencing the previous producer of this gateway');
      const committed = await within(admin.fetchOffsets({ groupId: this.positionGroup(), topics: [link.topics.spoolPositions] }), CONNECT_TIMEOUT_MS, 'reading the spool position from Kafka');
      const offset = Number(committed.find((t) => t.topic === link.topics.spoolPositions)?.partitions.find((p) => p.partition === 0)?.offset ?? -1);
      // Kafka's word wins: it is written in the same transaction as the records.
      if (offset > this.position) {
        this.position = Math.min(offset, this.spool.endPosition);
        await this.spoolCommit.catch(() => undefined);
        await this.heads.advance(this.spool, this.position);
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
   * One spool batch in one transaction, with the spool position after it. kafkajs retries each
   * request a few times itself; past that the drainer aborts (or replaces the producer) and sends
   * the batch again, and the aborted copy is never read.
   */
  private async deliver(link: Link, messages: KafkaMessage[], end: number): Promise<void> {
    const { producer, topics } = link;
    const t0 = performance.now();
    const txn = link.txn ?? (await producer.transaction());
    link.txn = txn;
    const byTopic = new Map<string, OutMessage[]>();
    for (const m of messages) {
      const topic = m.stream === 'bytes' ? topics.bytes : m.stream === 'ledger' ? topics.ledger : topics.events;
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push({ key: m.key, value: m.value, headers: m.headers });
    }
    // Large spool batches go out in several requests, each within the topics' record size limits.
    for (const part of requestsOf(byTopic, link.budgets)) await txn.sendBatch({ topicMessages: part, acks: -1 });
    const t1 = performance.now();
    await retryingTransient(() => txn.sendOffsets({ consumerGroupId: this.positionGroup(), topics: [{ topic: topics.spoolPositions, partitions: [{ partition: 0, offset: String(end) }] }] }));
    const t2 = performance.now();
    await txn.commit();
    link.txn = null;
    if (this.listenerCount('transaction')) {
      this.emit('transaction', { records: messages.length, produceMs: t1 - t0, positionMs: t2 - t1, commitMs: performance.now() - t2, requests: link.requests });
      link.requests = {};
    }
  }

  /**
   * After a failed delivery: abort the open transaction and keep the producer when that works (the
   * batch is sent again); otherwise (a commit whose outcome is unclear, a broker away) start over
   * with a new producer, which fences this one and reads the position back.
   */
  private async recover(): Promise<void> {
    const link = this.link;
    if (!link) return;
    // A coordinator may have moved: the abort and the next transaction look it up again.
    this.coordinators.forget();
    const txn = link.txn;
    link.txn = null;
    try {
      if (txn?.isActive()) await within(txn.abort(), CONNECT_TIMEOUT_MS, 'aborting the transaction');
    } catch {
      await this.dropLink();
      return;
    }
    // kafkajs takes back the sequence numbers of a produce request that failed, also for partitions
    // the broker had already appended to: sent again under the same epoch they would be answered as
    // duplicates of the aborted copy and dropped. A new producer (new epoch) starts them afresh.
    await this.dropLink();
  }

  private async dropLink(): Promise<void> {
    const link = this.link;
    this.link = null;
    this.coordinators.forget();
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

/** Whether the spool fdatasyncs every batch: log.kafka.spool.fsync when set, else recording.fsync (true when neither says). */
export function spoolFsync(config: Pick<KafkaLogConfig, 'spool'>, recordingFsync: boolean | undefined): boolean {
  return config.spool.fsync ?? recordingFsync ?? true;
}

async function diskFree(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

type OutMessage = { key: string; value: Buffer; headers: Record<string, string> };

/** Splits messages (kept in order per topic) into produce requests that carry at most each topic's budget. */
function requestsOf(byTopic: Map<string, OutMessage[]>, budgets: Map<string, number>): { topic: string; messages: OutMessage[] }[][] {
  const requests: { topic: string; messages: OutMessage[] }[][] = [];
  let current = new Map<string, { messages: OutMessage[]; bytes: number }>();
  const flush = () => {
    if (current.size) requests.push([...current].map(([topic, { messages }]) => ({ topic, messages })));
    current = new Map();
  };
  for (const [topic, messages] of byTopic) {
    const budget = budgets.get(topic) ?? DEFAULT_REQUEST_BYTES;
    for (const m of messages) {
      const bytes = m.value.length + m.key.length + 64 + Object.entries(m.headers).reduce((n, [k, v]) => n + k.length + v.length, 0);
      let share = current.get(topic);
      // A message larger than the budget goes alone; the topic's limit is the broker's to enforce.
      if (share && share.bytes > 0 && share.bytes + bytes > budget) {
        flush();
        share = undefined;
      }
      if (!share) current.set(topic, (share = { messages: [], bytes: 0 }));
      share.messages.push(m);
      share.bytes += bytes;
    }
  }
  flush();
  return requests;
}

/**
 * kafkajs' default (Java-compatible) partitioner, remembered per topic and key: it hashes every
 * message's key with murmur2 in JavaScript, and a session's records all carry the same key.
 */
function memoisedPartitioner(): ReturnType<typeof kafkajs.Partitioners.DefaultPartitioner> {
  const partition = kafkajs.Partitioners.DefaultPartitioner();
  const known = new Map<string, { partitions: number; partition: number }>();
  return (args) => {
    const { topic, partitionMetadata, message } = args;
    if (message.partition != null || message.key == null) return partition(args);
    const id = `${topic}\0${message.key.toString()}`;
    const hit = known.get(id);
    if (hit && hit.partitions === partitionMetadata.length) return hit.partition;
    const p = partition(args);
    // Sessions come and go: forget them all now and then rather than keep every key ever seen.
    if (known.size >= 100_000) known.clear();
    known.set(id, { partitions: partitionMetadata.length, partition: p });
    return p;
  };
}

async function disconnectAll(link: Link): Promise<void> {
  await within(link.producer.disconnect(), 10_000, 'disconnecting the producer').catch(() => undefined);
}
