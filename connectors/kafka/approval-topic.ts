import { EventEmitter } from 'node:events';
import type { Admin, Consumer, Producer } from 'kafkajs';
import type { KafkaLogConfig } from '../../services/config/schema.js';
import type { Approval, ApprovalState, Review } from '../../services/approvals/approval.js';
import type { ApprovalStore } from '../../services/approvals/approval-store.js';
import { createKafka, within } from './kafka-client.js';

/** `<prefix>.approvals`: key = approval id; values are the approval (each state it takes) and its reviews, in order. */
export function approvalTopic(prefix: string): string {
  return `${prefix}.approvals`;
}

type Entry = { kind: 'approval'; approval: Approval } | { kind: 'review'; review: Review };

const CONNECT_MS = 30_000;
/** How long a read waits for this process to catch up with an approval it has not seen yet. */
const CATCH_UP_MS = 3_000;

/**
 * Approvals shared through one Kafka topic: every gateway and reviewer reads it whole (a group of its own,
 * no commits) into the same projection, so a review written by a reviewer in one process reaches the
 * gateway holding the statement in another. All entries of an approval share a partition, so they stay in order.
 */
export class KafkaApprovalStore implements ApprovalStore {
  private readonly approvals = new Map<string, Approval>();
  private readonly reviewsOf = new Map<string, Review[]>();
  private readonly events = new EventEmitter();
  private readonly topic: string;
  private link: Promise<{ producer: Producer; consumer: Consumer; kafka: Awaited<ReturnType<typeof createKafka>> }>;
  /** Per partition, the offset after the last message this process has read. */
  private readonly readTo = new Map<number, bigint>();
  private admin: Promise<Admin> | null = null;

  constructor(
    private readonly config: KafkaLogConfig,
    private readonly member: string,
  ) {
    this.topic = approvalTopic(config.topicPrefix);
    this.events.setMaxListeners(0);
    this.link = this.connectRetrying();
    this.link.catch(() => undefined);
  }

  /** A broker that just created the topic for another process may not host it yet: a few tries, then the error. */
  private async connectRetrying(): Promise<{ producer: Producer; consumer: Consumer; kafka: Awaited<ReturnType<typeof createKafka>> }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.connect();
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      }
    }
  }

  private async connect(): Promise<{ producer: Producer; consumer: Consumer; kafka: Awaited<ReturnType<typeof createKafka>> }> {
    const { config, topic } = this;
    const kafka = await createKafka(config, 'approvals');
    const admin = kafka.admin();
    await within(admin.connect(), CONNECT_MS, 'connecting to Kafka');
    let ends: { partition: number; high: string }[];
    try {
      if (!(await admin.listTopics()).includes(topic)) {
        await admin.createTopics({ topics: [{ topic, numPartitions: config.partitions, replicationFactor: config.replicationFactor }] }).catch(async (err: Error) => {
          if (!(await admin.listTopics()).includes(topic)) throw Object.assign(new Error(`could not create the Kafka topic ${topic}: ${err.message}`), { code: 'TG_KAFKA_TOPICS' });
        });
      }
      ends = await admin.fetchTopicOffsets(topic);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const producer = kafka.producer({ idempotent: true });
    const consumer = kafka.consumer({ groupId: `${config.topicPrefix}.approvals.${this.member}` });
    await within(producer.connect(), CONNECT_MS, 'connecting the approvals producer');
    await within(consumer.connect(), CONNECT_MS, 'connecting the approvals consumer');
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    // Ready once everything already in the topic has been read.
    const behind = new Map(ends.filter((e) => BigInt(e.high) > 0n).map((e) => [e.partition, BigInt(e.high)]));
    let caughtUp!: () => void;
    const ready = new Promise<void>((r) => (caughtUp = r));
    if (behind.size === 0) caughtUp();
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        this.readTo.set(partition, BigInt(message.offset) + 1n);
        if (message.value) this.consumed(message.value);
        const high = behind.get(partition);
        if (high !== undefined && BigInt(message.offset) + 1n >= high) {
          behind.delete(partition);
          if (behind.size === 0) caughtUp();
        }
      },
    });
    await within(ready, CONNECT_MS, 'reading the approvals topic');
    return { producer, consumer, kafka };
  }

  private consumed(value: Buffer): void {
    let e: Entry;
    try {
      e = JSON.parse(value.toString('utf8')) as Entry;
    } catch {
      return;
    }
    if (e.kind === 'approval' && e.approval?.id) {
      const known = this.approvals.get(e.approval.id);
      // A decided approval never goes back to pending.
      if (!known || known.state === 'pending') this.approvals.set(e.approval.id, e.approval);
      this.events.emit('change', e.approval.id);
    } else if (e.kind === 'review' && e.review?.approvalId) {
      const a = this.approvals.get(e.review.approvalId);
      if (a && a.state !== 'pending') return;
      const list = this.reviewsOf.get(e.review.approvalId) ?? [];
      list.push(e.review);
      this.reviewsOf.set(e.review.approvalId, list);
      this.events.emit('change', e.review.approvalId);
    }
  }

  private async publish(key: string, entry: Entry): Promise<void> {
    const { producer } = await this.link;
    await within(producer.send({ topic: this.topic, messages: [{ key, value: JSON.stringify(entry) }] }), CONNECT_MS, 'publishing to the approvals topic');
  }

  /** Waits (bounded) until this process has read what was just published. */
  private async seen(check: () => boolean): Promise<boolean> {
    if (check()) return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.events.off('change', listener);
        resolve(ok);
      };
      const listener = () => check() && done(true);
      const timer = setTimeout(() => done(check()), CATCH_UP_MS);
      this.events.on('change', listener);
    });
  }

  async open(a: Approval): Promise<void> {
    await this.publish(a.id, { kind: 'approval', approval: a });
    await this.seen(() => this.approvals.has(a.id));
  }

  async settle(id: string, state: Exclude<ApprovalState, 'pending'>, deciders: string[], reason?: string): Promise<void> {
    const a = this.approvals.get(id);
    if (!a || a.state !== 'pending') return;
    const settled: Approval = { ...a, state, deciders, decidedAt: new Date().toISOString(), ...(reason ? { reason } : {}) };
    this.approvals.set(id, settled);
    await this.publish(id, { kind: 'approval', approval: settled });
  }

  async review(r: Review): Promise<'ok' | 'decided' | 'unknown'> {
    await this.link;
    await this.seen(() => this.approvals.has(r.approvalId));
    const a = this.approvals.get(r.approvalId);
    if (!a) return 'unknown';
    if (a.state !== 'pending') return 'decided';
    const before = this.reviewsOf.get(r.approvalId)?.length ?? 0;
    await this.publish(r.approvalId, { kind: 'review', review: r });
    // Read back, so whoever decides next (a planned approval's quorum) counts this review too.
    await this.seen(() => (this.reviewsOf.get(r.approvalId)?.length ?? 0) > before);
    return 'ok';
  }

  async reviews(id: string): Promise<Review[]> {
    return [...(this.reviewsOf.get(id) ?? [])];
  }

  async get(id: string): Promise<Approval | null> {
    await this.link;
    await this.seen(() => this.approvals.has(id));
    return this.approvals.get(id) ?? null;
  }

  async list(o: { state?: ApprovalState; limit?: number } = {}): Promise<Approval[]> {
    await this.link;
    return [...this.approvals.values()]
      .filter((a) => !o.state || a.state === o.state)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, o.limit ?? 200);
  }

  async granted(target: string, runId: string): Promise<Approval[]> {
    await this.link;
    return [...this.approvals.values()].filter((a) => a.state === 'approved' && (a.kind === 'statement-set' || a.kind === 'window') && a.target === target && a.run.runId === runId);
  }

  /** Reads up to what every process has published by now (bounded), so a miss in `granted` is a real miss. */
  async catchUp(): Promise<void> {
    const { kafka } = await this.link;
    this.admin ??= (async () => {
      const admin = kafka.admin();
      await within(admin.connect(), CONNECT_MS, 'connecting to Kafka');
      return admin;
    })();
    const ends = await within((await this.admin).fetchTopicOffsets(this.topic), CATCH_UP_MS, 'reading the approvals topic offsets');
    await this.seen(() => ends.every((e) => (this.readTo.get(e.partition) ?? 0n) >= BigInt(e.high)));
  }

  async abandonInstance(instance: string): Promise<string[]> {
    await this.link;
    const ids = [...this.approvals.values()].filter((a) => a.instance === instance && a.state === 'pending').map((a) => a.id);
    for (const id of ids) await this.settle(id, 'abandoned', [], 'the gateway restarted while it was held');
    return ids;
  }

  onChange(listener: (approvalId: string) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  async close(): Promise<void> {
    this.events.removeAllListeners();
    const admin = await this.admin?.catch(() => null);
    await admin?.disconnect().catch(() => undefined);
    const link = await this.link.catch(() => null);
    if (!link) return;
    await within(link.consumer.disconnect(), 10_000, 'disconnecting the approvals consumer').catch(() => undefined);
    await within(link.producer.disconnect(), 10_000, 'disconnecting the approvals producer').catch(() => undefined);
  }
}
