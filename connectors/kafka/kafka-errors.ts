/**
 * Which failures of a transactional delivery need what, read from kafkajs' error classes: each error
 * carries `retriable` and, from the broker, a protocol `type`; retries exhausted or a wrapped failure
 * carry the original as `cause`.
 */

/** The broker fenced this producer (another incarnation with the same transactional id), or refuses it for good. */
const FATAL_TYPES = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'INVALID_PRODUCER_ID_MAPPING',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_TXN_STATE',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
]);

/** The coordinator is still finishing the previous transaction: kafkajs marks it not retriable, but the same call goes through shortly. */
const RETRY_TYPES = new Set(['CONCURRENT_TRANSACTIONS', 'COORDINATOR_LOAD_IN_PROGRESS', 'COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR']);

const RETRY_NAMES = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound', 'KafkaJSGroupCoordinatorNotFound', 'KafkaJSNoBrokerAvailableError', 'KafkaJSMetadataNotLoaded', 'KafkaJSTopicMetadataNotLoaded', 'KafkaJSLockTimeout']);

interface KafkaJsError {
  name?: string;
  type?: string;
  retriable?: boolean;
  code?: string | number;
  cause?: unknown;
  originalError?: unknown;
}

/** The error and every error it wraps, outermost first. */
function chain(err: unknown): KafkaJsError[] {
  const out: KafkaJsError[] = [];
  let e = err as KafkaJsError | undefined;
  while (e && typeof e === 'object' && out.length < 10 && !out.includes(e)) {
    out.push(e);
    e = (e.cause ?? e.originalError) as KafkaJsError | undefined;
  }
  return out;
}

/**
 * What a failed transaction call allows: `fatal` means this producer is done (fenced or refused) and
 * a new one must fence and read the position back; `retry` means the cluster was away or busy and
 * the same call may go through later; `abort` means abort the transaction and send the batch again.
 */
export function transactionErrorKind(err: unknown): 'retry' | 'fatal' | 'abort' {
  const errors = chain(err);
  if (errors.some((e) => e.type !== undefined && FATAL_TYPES.has(e.type))) return 'fatal';
  if (errors.some((e) => (e.type !== undefined && RETRY_TYPES.has(e.type)) || (e.name !== undefined && RETRY_NAMES.has(e.name)) || e.code === 'TG_KAFKA_TIMEOUT' || (e.name === 'KafkaJSProtocolError' && e.retriable))) return 'retry';
  return 'abort';
}

/** The protocol error type somewhere in the chain (`INVALID_PRODUCER_EPOCH`, ...), for messages and tests. */
export function protocolErrorType(err: unknown): string | undefined {
  return chain(err).find((e) => e.type !== undefined)?.type;
}

/**
 * Repeats a transaction call that failed with a `retry` kind, for up to `ms`. Only for calls that
 * change nothing before they fail: kafkajs' sendOffsets (AddOffsetsToTxn is not retried by kafkajs
 * and answers CONCURRENT_TRANSACTIONS right after a commit); never for commit or abort.
 */
export async function retryingTransient<T>(call: () => Promise<T>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let wait = 50;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (transactionErrorKind(err) !== 'retry' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 1000);
    }
  }
}

/** A refusal that no retry mends: the broker will answer the same batch the same way until someone changes a setting. */
export interface PermanentDeliveryError {
  code: 'TG_KAFKA_RECORD_TOO_LARGE' | 'TG_KAFKA_NOT_AUTHORIZED' | 'TG_KAFKA_AUTHENTICATION' | 'TG_KAFKA_REFUSED';
  /** Names the setting to change. */
  fix: string;
}

const TOO_LARGE_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
const AUTHORIZATION_TYPES = new Set(['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED']);
const REFUSED_TYPES = new Set(['INVALID_RECORD', 'POLICY_VIOLATION', 'UNSUPPORTED_VERSION', 'UNSUPPORTED_FOR_MESSAGE_FORMAT', 'INVALID_REQUIRED_ACKS']);

/**
 * Whether a failed delivery of a spool batch is permanent (record too large for its topic, not
 * authorized, not authenticated, refused by a broker policy), with the code and the fix; null when
 * another try may go through (the broker away, busy, or an unclear transaction).
 */
export function permanentDeliveryError(err: unknown, topicPrefix: string): PermanentDeliveryError | null {
  const errors = chain(err);
  const types = new Set(errors.map((e) => e.type).filter((t): t is string => t !== undefined));
  const has = (set: Set<string>) => [...types].some((t) => set.has(t));
  if (has(TOO_LARGE_TYPES)) {
    return { code: 'TG_KAFKA_RECORD_TOO_LARGE', fix: `a spooled record is larger than its topic accepts: raise max.message.bytes on ${topicPrefix}.events and ${topicPrefix}.bytes (and the brokers' message.max.bytes if lower)` };
  }
  if (has(AUTHORIZATION_TYPES)) {
    return { code: 'TG_KAFKA_NOT_AUTHORIZED', fix: `the gateway's principal lacks an ACL: grant Write and Describe on the topics ${topicPrefix}.*, Write and Describe on the transactional id ${topicPrefix}.gateway.<instance>, and Read on the groups ${topicPrefix}.spool.*` };
  }
  if (types.has('SASL_AUTHENTICATION_FAILED') || types.has('UNSUPPORTED_SASL_MECHANISM') || errors.some((e) => e.name === 'KafkaJSSASLAuthenticationError')) {
    return { code: 'TG_KAFKA_AUTHENTICATION', fix: 'the brokers refused the credentials: check sasl.mechanism, sasl.username and sasl.password under log.kafka.properties' };
  }
  if (has(REFUSED_TYPES)) return { code: 'TG_KAFKA_REFUSED', fix: 'the brokers refuse these records for good (a topic policy or the record format): check the brokers\' log for the reason' };
  return null;
}
