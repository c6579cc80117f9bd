import type { Consumer, Producer } from 'kafkajs';
import type { KafkaLogConfig } from '../../services/config/schema.js';
import type { TokenUse, TokenUseStore } from '../../services/gateway/identity/token-uses.js';
import { createKafka, createTopicsLed, within } from './kafka-client.js';

/** `<prefix>.token-uses`: compacted, key = token key digest, value = JSON TokenUse; a null value forgets an expired token. */
export function tokenUseTopic(prefix: string): string {
  return `${prefix}.token-uses`;
}

/** How long a claim waits to publish and read the topic back up to its own record before deciding on what this gateway knows. */
const BARRIER_MS = 3_000;
/** After Kafka failed a claim, claims decide locally this long without waiting for it again. */
const QUIET_MS = 5_000;
const CONNECT_MS = 30_000;

interface Link {
  producer: Producer;
  consumer: Consumer;
}

/**
 * The first uses of tokens, shared by every gateway through one compacted topic. Each gateway reads the
 * whole topic; a token it has not seen is claimed by producing its use and reading the partition back
 * up to that record: the earliest record of the key wins, and a gateway that lost republishes the
 * winner so compaction keeps it. The gateway starts without Kafka and connects in the background; while
 * Kafka is unreachable it decides on what it has read.
 */
export class KafkaTokenUses implements TokenUseStore {
  private readonly known = new Map<string, TokenUse>();
  /** Next offset to read, per partition. */
  private readonly read = new Map<number, bigint>();
  private waiters: { partition: number; offset: bigint; resolve: () => void }[] = [];
  private link: Link | null = null;
  private quietUntil = 0;
  private stopping = false;
  private wake: (() => void) | null = null;
  /** First uses decided while Kafka was away: published once it is back, so the other gateways learn them. */
  private readonly unpublished = new Map<string, TokenUse>();
  private connected!: () => void;
  private readonly ready = new Promise<void>((resolve) => (this.connected = resolve));

  constructor(
    private readonly config: KafkaLogConfig,
    private readonly instance: string,
  ) {
    this.topic = tokenUseTopic(config.topicPrefix);
    void this.connectLoop();
  }

  private readonly topic: string;

  private async connectLoop(): Promise<void> {
    let backoff = 500;
    let lastError = '';
    while (!this.stopping && !this.link) {
      try {
        const link = await this.connect();
        if (this.stopping) {
          await disconnect(link);
          return;
        }
        this.link = link;
        this.connected();
        this.publishUnpublished(link);
      } catch (err) {
        const message = (err as Error).message;
        if (message !== lastError) console.error(`trailgate: token uses: cannot reach Kafka yet (${message}); deciding on what this gateway knows [TG_KAFKA_UNAVAILABLE]`);
        lastError = message;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoff);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  private async connect(): Promise<Link> {
    const { config, instance, topic } = this;
    const kafka = await createKafka(config, 'token-uses');
    const admin = kafka.admin();
    await within(admin.connect(), CONNECT_MS, 'connecting to Kafka');
    try {
      if (!(await admin.listTopics()).includes(topic)) {
        const spec = { topic, numPartitions: config.partitions, replicationFactor: config.replicationFactor, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] };
        await within(createTopicsLed(admin, [spec], 'check log.kafka.replicationFactor against the number of brokers'), CONNECT_MS, 'creating the token-use topic');
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    // Idempotent, so acks=all (kafkajs' default for send).
    const producer = kafka.producer({ idempotent: true });
    // No commits: every start reads the topic from its beginning.
    const consumer = kafka.consumer({ groupId: `${config.topicPrefix}.token-uses.${instance}` });
    try {
      await within(producer.connect(), CONNECT_MS, 'connecting the token-use producer');
      await within(consumer.connect(), CONNECT_MS, 'connecting the token-use consumer');
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ autoCommit: false, eachMessage: async ({ partition, message }) => this.consumed(partition, message) });
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
    return { producer, consumer };
  }

  private consumed(partition: number, message: { key: Buffer | null; value: Buffer | null; offset: string }): Promise<void> {
    const key = message.key?.toString('utf8');
    if (key) {
      if (message.value === null) this.known.delete(key);
      else if (!this.known.has(key)) {
        const use = parseUse(message.value);
        if (use && use.exp >= Date.now() / 1000) this.known.set(key, use);
      }
    }
    const next = BigInt(message.offset) + 1n;
    this.read.set(partition, next);
    this.waiters = this.waiters.filter((w) => {
      if (w.partition !== partition || w.offset >= next) return true;
      w.resolve();
      return false;
    });
    return Promise.resolve();
  }

  async claim(key: string, use: TokenUse): Promise<TokenUse> {
    const known = this.known.get(key);
    if (known) return known;
    // Just started: give the connection a moment rather than decide blind.
    if (!this.link && Date.now() >= this.quietUntil) await within(this.ready, BARRIER_MS, 'connecting to Kafka').catch(() => (this.quietUntil = Date.now() + QUIET_MS));
    const link = this.link;
    let published = false;
    if (link && Date.now() >= this.quietUntil) {
      try {
        const [meta] = await within(link.producer.send({ topic: this.topic, messages: [{ key, value: JSON.stringify(use) }] }), BARRIER_MS, 'publishing a token use');
        const offset = BigInt(meta?.baseOffset ?? -1);
        published = true;
        this.publishUnpublished(link);
        if (meta && offset >= 0n) await within(this.readUpTo(meta.partition, offset), BARRIER_MS, 'reading the token uses back');
      } catch (err) {
        this.quietUntil = Date.now() + QUIET_MS;
        console.error(`trailgate: token uses: ${(err as Error).message}; deciding on what this gateway knows [TG_KAFKA_UNAVAILABLE]`);
      }
    }
    if (!this.known.has(key)) {
      this.known.set(key, use);
      if (!published) this.unpublished.set(key, use);
    }
    const first = this.known.get(key)!;
    if (first.sessionId !== use.sessionId && link) {
      // Compaction keeps a key's latest value: the winner must be that value again.
      void link.producer.send({ topic: this.topic, messages: [{ key, value: JSON.stringify(first) }] }).catch(() => undefined);
    }
    return first;
  }

  private publishUnpublished(link: Link): void {
    const uses = [...this.unpublished];
    this.unpublished.clear();
    if (uses.length) void link.producer.send({ topic: this.topic, messages: uses.map(([key, use]) => ({ key, value: JSON.stringify(use) })) }).catch(() => undefined);
  }

  private readUpTo(partition: number, offset: bigint): Promise<void> {
    if ((this.read.get(partition) ?? 0n) > offset) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ partition, offset, resolve }));
  }

  prune(nowSeconds: number): void {
    const expired: string[] = [];
    for (const [key, use] of this.known) {
      if (use.exp >= nowSeconds) continue;
      this.known.delete(key);
      if (use.instance === this.instance) expired.push(key);
    }
    // The gateway that published a first use also forgets it, so the topic stays as small as the live tokens.
    if (expired.length && this.link) void this.link.producer.send({ topic: this.topic, messages: expired.map((key) => ({ key, value: null })) }).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const link = this.link;
    this.link = null;
    if (link) await disconnect(link);
  }
}

async function disconnect(link: Link): Promise<void> {
  await within(link.consumer.disconnect(), 10_000, 'disconnecting the token-use consumer').catch(() => undefined);
  await within(link.producer.disconnect(), 10_000, 'disconnecting the token-use producer').catch(() => undefined);
}

function parseUse(value: Buffer): TokenUse | null {
  try {
    const v = JSON.parse(value.toString('utf8')) as Partial<TokenUse>;
    if (typeof v.tokenId !== 'string' || typeof v.client !== 'string' || typeof v.sessionId !== 'string' || typeof v.exp !== 'number') return null;
    return { tokenId: v.tokenId, client: v.client, issuer: String(v.issuer ?? ''), exp: v.exp, sessionId: v.sessionId, instance: String(v.instance ?? ''), at: String(v.at ?? '') };
  } catch {
    return null;
  }
}
