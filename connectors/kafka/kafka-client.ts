import { readFileSync } from 'node:fs';
import kafkajs, { Kafka, logLevel, type Admin, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';

// Present at run time but not found by Node's named-export detection of this CommonJS package.
const { ConfigResourceTypes } = kafkajs;
import type { KafkaLogConfig } from '../../services/config/schema.js';
import { installProduceEncoder } from './produce-encoding.js';

/** The topics of one Trailgate deployment on Kafka. */
export interface LogTopics {
  events: string;
  bytes: string;
  deadLetter: string;
  /** Holds no records: the gateways' spool positions are committed against it, inside their transactions. */
  spoolPositions: string;
  /** The gateways' signed ledger entries, keyed by instance; never compacted. */
  ledger: string;
}

export function logTopics(prefix: string): LogTopics {
  return { events: `${prefix}.events`, bytes: `${prefix}.bytes`, deadLetter: `${prefix}.dead-letter`, spoolPositions: `${prefix}.spool-positions`, ledger: `${prefix}.ledger` };
}

/** The Kafka client of one role (kafkajs: pure JavaScript, nothing to build at install time). */
export async function createKafka(config: KafkaLogConfig, role: string): Promise<Kafka> {
  // Produce requests in one pass with a native CRC-32C (kafkajs' own encoder where it does not apply).
  installProduceEncoder();
  return new Kafka({
    brokers: config.brokers,
    clientId: `${config.clientId}-${role}`,
    logLevel: logLevel.ERROR,
    logCreator: errorsOnly,
    // Callers decide how long to wait out a broker outage; each request fails over quickly.
    retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5000 },
    ...securityOptions(config.properties),
  });
}

/**
 * The client's own log lines, errors only, as one line each with only fields that cannot carry a
 * secret (never the config, which holds SASL passwords). Repeats within a minute are dropped: a
 * broker away would otherwise print the same line many times a second.
 */
function errorsOnly(): (entry: LogEntry) => void {
  const seen = new Map<string, number>();
  return ({ namespace, level, log }) => {
    // Error responses it retries itself are logged too; what finally fails reaches the caller, which says so.
    if (level > logLevel.ERROR || (namespace === 'Connection' && log.message.startsWith('Response ')) || (namespace === 'Producer' && log.message.startsWith('Failed to send messages'))) return;
    const detail = typeof log.error === 'string' ? log.error : '';
    const line = `trailgate: kafka ${namespace}: ${log.message}${detail && detail !== log.message ? ` (${detail})` : ''}`;
    const now = Date.now();
    if (now - (seen.get(line) ?? 0) < 60_000) return;
    if (seen.size > 100) seen.clear();
    seen.set(line, now);
    console.error(line);
  };
}

const SUPPORTED = ['security.protocol', 'sasl.mechanism', 'sasl.mechanisms', 'sasl.username', 'sasl.password', 'ssl.ca.location', 'ssl.certificate.location', 'ssl.key.location', 'ssl.key.password', 'enable.ssl.certificate.verification'];

/** TLS and SASL from `log.kafka.properties`, named as in librdkafka so existing configurations keep working. */
export function securityOptions(props: Record<string, string | number | boolean>): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const unknown = Object.keys(props).filter((k) => !SUPPORTED.includes(k));
  if (unknown.length) {
    throw Object.assign(new Error(`log.kafka.properties: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not supported; use ${SUPPORTED.join(', ')}`), { code: 'TG_KAFKA_PROPERTY' });
  }
  const str = (k: string) => (props[k] === undefined ? undefined : String(props[k]));
  const protocol = (str('security.protocol') ?? 'plaintext').toLowerCase();
  if (!['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'].includes(protocol)) {
    throw Object.assign(new Error(`log.kafka.properties: security.protocol '${protocol}' is not one of plaintext, ssl, sasl_plaintext, sasl_ssl`), { code: 'TG_KAFKA_PROPERTY' });
  }
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (protocol === 'ssl' || protocol === 'sasl_ssl') {
    const file = (k: string) => (str(k) ? readFileSync(str(k)!, 'utf8') : undefined);
    const ca = file('ssl.ca.location');
    const cert = file('ssl.certificate.location');
    const key = file('ssl.key.location');
    out.ssl = {
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(str('ssl.key.password') ? { passphrase: str('ssl.key.password') } : {}),
      rejectUnauthorized: str('enable.ssl.certificate.verification') !== 'false',
    };
  }
  if (protocol.startsWith('sasl')) {
    const named = str('sasl.mechanism') ?? str('sasl.mechanisms') ?? 'PLAIN';
    const mechanism = named.toLowerCase();
    if (!['plain', 'scram-sha-256', 'scram-sha-512'].includes(mechanism)) {
      throw Object.assign(new Error(`log.kafka.properties: sasl.mechanism '${named}' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`), { code: 'TG_KAFKA_PROPERTY' });
    }
    const username = str('sasl.username');
    const password = str('sasl.password');
    if (!username || !password) throw Object.assign(new Error('log.kafka.properties: SASL needs sasl.username and sasl.password'), { code: 'TG_KAFKA_PROPERTY' });
    out.sasl = { mechanism, username, password } as SASLOptions;
  }
  return out;
}

/**
 * Largest record batch the log's topics take. A statement of up to postgres.maxMessageBytes (64 MiB)
 * is one event: the broker's 1 MiB default would stop the drainer at it for good. Kept under the
 * broker's socket.request.max.bytes (100 MiB), which bounds one produce request.
 */
export const TOPIC_MAX_MESSAGE_BYTES = 96 * 1024 * 1024;

/** Creates the log's topics when they are missing, with the configured partitions and replication. */
export async function ensureTopics(admin: Admin, config: KafkaLogConfig): Promise<LogTopics> {
  const topics = logTopics(config.topicPrefix);
  const existing = new Set(await admin.listTopics());
  const large = { name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) };
  const wanted = [
    { topic: topics.events, numPartitions: config.partitions, replicationFactor: config.replicationFactor, configEntries: [large] },
    { topic: topics.bytes, numPartitions: config.partitions, replicationFactor: config.replicationFactor, configEntries: [large] },
    { topic: topics.deadLetter, numPartitions: config.partitions, replicationFactor: config.replicationFactor, configEntries: [large] },
    { topic: topics.spoolPositions, numPartitions: 1, replicationFactor: config.replicationFactor, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
    // Every entry is kept: a ledger whose tail is gone must be noticed, never compacted away.
    { topic: topics.ledger, numPartitions: 1, replicationFactor: config.replicationFactor, configEntries: [{ name: 'cleanup.policy', value: 'delete' }, { name: 'retention.ms', value: '-1' }] },
  ].filter((t) => !existing.has(t.topic));
  await createTopicsLed(admin, wanted, 'check log.kafka.replicationFactor against the number of brokers');
  return topics;
}

type TopicSpec = Parameters<Admin['createTopics']>[0]['topics'][number];

/** How long new topics may take to have a leader for every partition. */
const LEADERS_WAIT_MS = 30_000;

/**
 * Creates the topics that do not exist yet and waits until every partition has a leader. Under KRaft a
 * broker learns of a new topic a moment after the controller made it and answers UNKNOWN_TOPIC_OR_PARTITION
 * meanwhile, which kafkajs' own wait (LEADER_NOT_AVAILABLE only) gives up on: this waits for both.
 */
export async function createTopicsLed(admin: Admin, wanted: TopicSpec[], hint: string): Promise<void> {
  if (!wanted.length) return;
  const names = wanted.map((t) => t.topic);
  try {
    await admin.createTopics({ topics: wanted, waitForLeaders: false });
  } catch (err) {
    // Another gateway may have created them in the meantime.
    const now = new Set(await admin.listTopics());
    const missing = names.filter((t) => !now.has(t));
    if (missing.length) throw Object.assign(new Error(`could not create Kafka topics ${missing.join(', ')}: ${(err as Error).message}; ${hint}`), { code: 'TG_KAFKA_TOPICS' });
  }
  const deadline = Date.now() + LEADERS_WAIT_MS;
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: names });
      if (topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      const e = err as { type?: string; cause?: { type?: string } };
      if (!STILL_PROPAGATING.has(e.type ?? e.cause?.type ?? '')) throw err;
    }
    if (Date.now() > deadline) throw Object.assign(new Error(`the Kafka topics ${names.join(', ')} have no leader after ${LEADERS_WAIT_MS} ms; ${hint}`), { code: 'TG_KAFKA_TOPICS' });
    await new Promise((r) => setTimeout(r, 100));
  }
}

const STILL_PROPAGATING = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/** What a topic takes in one produce request when its max.message.bytes cannot be read: under the broker's 1 MiB default. */
export const DEFAULT_REQUEST_BYTES = 768 * 1024;

/**
 * Bytes of each topic that one produce request may carry. kafkajs puts a partition's share of a
 * request into one record batch, which the broker takes only up to the topic's max.message.bytes;
 * three quarters of it leaves room for the batch's own framing. Capped well below the broker's
 * 100 MiB request limit.
 */
export async function requestBudgets(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const budgets = new Map(topics.map((t) => [t, DEFAULT_REQUEST_BYTES]));
  try {
    const { resources } = await admin.describeConfigs({ resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['max.message.bytes'] })), includeSynonyms: false });
    for (const r of resources) {
      const limit = Number(r.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
      if (Number.isFinite(limit) && limit > 0) budgets.set(r.resourceName, Math.min(Math.floor(limit * 0.75), 16 * 1024 * 1024));
    }
  } catch {
    // Without DescribeConfigs rights the broker's default holds.
  }
  return budgets;
}

/** Rejects when `p` takes longer than `ms`: callers decide how long a broker outage may be waited out. */
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
