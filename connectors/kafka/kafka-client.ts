import type { KafkaJS } from '@confluentinc/kafka-javascript';
import type { KafkaLogConfig } from '../../services/config/schema.js';

/** The topics of one Trailgate deployment on Kafka. */
export interface LogTopics {
  events: string;
  bytes: string;
  deadLetter: string;
  /** Holds no records: the gateways' spool positions are committed against it, inside their transactions. */
  spoolPositions: string;
}

export function logTopics(prefix: string): LogTopics {
  return { events: `${prefix}.events`, bytes: `${prefix}.bytes`, deadLetter: `${prefix}.dead-letter`, spoolPositions: `${prefix}.spool-positions` };
}

/**
 * Loads Confluent's client (librdkafka) only when a Kafka role runs, so `trailgate up` never needs it.
 * librdkafka's own log lines are kept to warnings and above.
 */
export async function createKafka(config: KafkaLogConfig, role: string): Promise<KafkaJS.Kafka> {
  let mod: typeof import('@confluentinc/kafka-javascript');
  try {
    mod = (await import('@confluentinc/kafka-javascript')).default as unknown as typeof import('@confluentinc/kafka-javascript');
  } catch (err) {
    throw Object.assign(new Error(`the Kafka client could not be loaded (${(err as Error).message}); install the system libraries with \`bash scripts/install-system-deps.sh\`, then \`CKJS_LINKING=dynamic npm ci\``), { code: 'TG_KAFKA_CLIENT_MISSING' });
  }
  const { Kafka, logLevel } = mod.KafkaJS;
  return new Kafka({
    kafkaJS: { brokers: config.brokers, clientId: `${config.clientId}-${role}`, logLevel: logLevel.NOTHING },
    ...(config.properties as Record<string, string | number | boolean>),
  });
}

/** Creates the log's topics when they are missing, with the configured partitions and replication. */
export async function ensureTopics(admin: KafkaJS.Admin, config: KafkaLogConfig): Promise<LogTopics> {
  const topics = logTopics(config.topicPrefix);
  const existing = new Set(await admin.listTopics());
  const wanted = [
    { topic: topics.events, numPartitions: config.partitions, replicationFactor: config.replicationFactor },
    { topic: topics.bytes, numPartitions: config.partitions, replicationFactor: config.replicationFactor },
    { topic: topics.deadLetter, numPartitions: config.partitions, replicationFactor: config.replicationFactor },
    { topic: topics.spoolPositions, numPartitions: 1, replicationFactor: config.replicationFactor, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
  ].filter((t) => !existing.has(t.topic));
  if (wanted.length) {
    try {
      await admin.createTopics({ topics: wanted });
    } catch (err) {
      // Another gateway may have created them in the meantime.
      const now = new Set(await admin.listTopics());
      const missing = wanted.filter((t) => !now.has(t.topic));
      if (missing.length) throw Object.assign(new Error(`could not create Kafka topics ${missing.map((t) => t.topic).join(', ')}: ${(err as Error).message}; check log.kafka.replicationFactor against the number of brokers`), { code: 'TG_KAFKA_TOPICS' });
    }
  }
  return topics;
}

/** Rejects when `p` takes longer than `ms`: librdkafka waits out broker outages, callers decide how long. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`${what} took longer than ${ms} ms`), { code: 'TG_KAFKA_TIMEOUT' })), ms);
      // A timeout alone must not keep a stopping process alive.
      timer.unref();
    }),
  ]);
}
