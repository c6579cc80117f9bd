import type { KafkaJS } from '@confluentinc/kafka-javascript';
import type { KafkaLogConfig } from '../../services/config/schema.js';
import type { LedgerEntry } from '../embedded-log/embedded-log.js';
import { createKafka, ensureTopics, within } from './kafka-client.js';
import { consumerGroup } from './kafka-record-source.js';

/** The topic the gateways publish their signed ledgers to: key = instance, value = one LedgerEntry as JSON. */
export function ledgerTopic(prefix: string): string {
  return `${prefix}.ledger`;
}

/** Creates the ledger topic when it is missing; every entry is kept (compaction or expiry would cut the chain). */
export async function ensureLedgerTopic(admin: KafkaJS.Admin, config: KafkaLogConfig): Promise<void> {
  const topic = ledgerTopic(config.topicPrefix);
  if ((await admin.listTopics()).includes(topic)) return;
  const configEntries = [{ name: 'cleanup.policy', value: 'delete' }, { name: 'retention.ms', value: '-1' }];
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: config.replicationFactor, configEntries }] }).catch(async (err: Error) => {
    // Another process may have created it in the meantime.
    if (!(await admin.listTopics()).includes(topic)) throw Object.assign(new Error(`could not create Kafka topic ${topic}: ${err.message}; check log.kafka.replicationFactor`), { code: 'TG_KAFKA_TOPICS' });
  });
}

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
  private consumer: KafkaJS.Consumer | null = null;
  private stopped: Promise<void> | null = null;
  private finish: (() => void) | null = null;

  private constructor(
    private readonly kafka: KafkaJS.Kafka,
    private readonly config: KafkaLogConfig,
    private readonly name: string,
    private readonly log: (line: string) => void,
  ) {}

  static async create(config: KafkaLogConfig, name: string, log: (line: string) => void = console.error): Promise<KafkaLedgerSource> {
    return new KafkaLedgerSource(await createKafka(config, `${name}-ledger`), config, name, log);
  }

  async run(store: (entries: LedgerEntry[]) => void | Promise<void>): Promise<void> {
    const topic = ledgerTopic(this.config.topicPrefix);
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, this.config);
      await ensureLedgerTopic(admin, this.config);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    this.consumer = this.kafka.consumer({
      kafkaJS: { groupId: `${consumerGroup(this.config.topicPrefix, this.name)}.ledger`, autoCommit: false, fromBeginning: true },
      'isolation.level': 'read_committed',
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [topic] });
    this.stopped = new Promise((resolve) => (this.finish = resolve));
    await this.consumer.run({
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
