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
  if (errors.some((e) => (e.name !== undefined && RETRY_NAMES.has(e.name)) || e.code === 'TG_KAFKA_TIMEOUT' || (e.name === 'KafkaJSProtocolError' && e.retriable))) return 'retry';
  return 'abort';
}

/** The protocol error type somewhere in the chain (`INVALID_PRODUCER_EPOCH`, ...), for messages and tests. */
export function protocolErrorType(err: unknown): string | undefined {
  return chain(err).find((e) => e.type !== undefined)?.type;
}
