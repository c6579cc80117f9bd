import type { Consumer, Kafka } from 'kafkajs';
import type { KafkaLogConfig } from '../../services/config/schema.js';
import type { LedgerEntry } from '../embedded-log/embedded-log.js';
import { createKafka, ensureTopics, within } from './kafka-client.js';
import { consumerGroup } from './kafka-record-source.js';

/** A message of the ledger topic read back, or why it is not a ledger entry. */
export function decodeLedgerEntry(value: Buffer | null): LedgerEntry {
  const e = JSON.parse(value?.toString('utf8') ?? 'null') as Partial<LedgerEntry> | null;
  const strings = ['instance', 'ts', 'prev', 'hash', 'kid', 'jws'] as const;
  if (!e || typeof e !== 'object' || !Number.isInteger(e.seq) || !Array.isArray(e.opened) || !e.opened.every((id) => typeof id === 'string') || strings.some((k) => typeof e[k] !== 'string')) {
    throw Object.assign(new Error('not a ledger entry (instance, seq, ts, opened, prev, hash, kid, jws)'), { code: 'TG_LEDGER_UNDECODABLE' });
  }
  return { instance: e.instance!, seq: e.seq!, ts: e.ts!, opened: e.opened, prev: e.prev!, hash: e.hash!, kid: e.kid!, jws: e.jws! };
}

/**
 * Reads `<prefix>.ledger` into a replay store, in a consumer group of its own
 * (`<prefix>.consumer.<name>.ledger`); offsets are committed only after `store` took the entries.
 * Entries are never judged here: `trailgate verify` checks their chain and signatures.
 */
export class KafkaLedgerSource {
  private consumer: Consumer | null = null;
  private stopped: Promise<void> | null = null;
  private finish: (() => void) | null = null;

  private constructor(
    private readonly kafka: Kafka,
    private readonly config: KafkaLogConfig,
    private readonly name: string,
    private readonly log: (line: string) => void,
  ) {}

  static async create(config: KafkaLogConfig, name: string, log: (line: string) => void = console.error): Promise<KafkaLedgerSource> {
    return new KafkaLedgerSource(await createKafka(config, `${name}-ledger`), config, name, log);
  }

  async run(store: (entries: LedgerEntry[]) => void | Promise<void>): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    let topic: string;
    try {
      topic = (await ensureTopics(admin, this.config)).ledger;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    // read_committed: ledger entries come out of the gateways' spool transactions.
    this.consumer = this.kafka.consumer({ groupId: `${consumerGroup(this.config.topicPrefix, this.name)}.ledger`, readUncommitted: false });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [topic], fromBeginning: true });
    this.stopped = new Promise((resolve) => (this.finish = resolve));
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, isStale }) => {
        if (batch.messages.length === 0) return;
        const entries: LedgerEntry[] = [];
        for (const m of batch.messages) {
          try {
            entries.push(decodeLedgerEntry(m.value));
          } catch (err) {
            this.log(`trailgate: ${this.name}: skipped ${batch.topic}/${batch.partition}@${m.offset}: ${(err as Error).message} [TG_LEDGER_UNDECODABLE]`);
          }
        }
        await store(entries);
        if (isStale()) return;
        const last = batch.messages[batch.messages.length - 1]!.offset;
        await within(this.consumer!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) }]), 120_000, 'committing the ledger position');
        resolveOffset(last);
      },
    });
    await this.stopped;
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = null;
    await consumer?.disconnect().catch(() => undefined);
    this.finish?.();
  }
}
