import type { AuditRecord } from '../../events/index.js';

/** A record a sink can never store (a mapping it refuses, a document the cluster rejects for good). */
export interface DeadLetter {
  record: AuditRecord;
  /** Machine-readable reason, e.g. TG_INDEX_MAPPING_REJECTED. */
  code: string;
  message: string;
}

/**
 * Where a consumer puts what it reads from the event log (search index, SIEM, replay store).
 * The consumer framework reads a batch, calls `write`, sends the dead letters to the log's
 * dead-letter place, and only then commits its position: sinks must be idempotent, because a
 * batch can be delivered again after a crash.
 */
export interface RecordSink {
  /** Names the consumer group; positions are committed under it. */
  readonly name: string;
  /** The streams this sink wants; consumers that need no bytes never read them. */
  readonly streams: readonly AuditRecord['stream'][];
  /**
   * Also hand it records of types this build does not know (of a version it knows): a full copy of the
   * log keeps them, since the hash chain runs through them. Other sinks never see them.
   */
  readonly keepsUnknownTypes?: boolean;
  /** Records per batch this sink handles best (e.g. enough for several requests in flight); batches are at least this large. */
  readonly preferredBatchSize?: number;
  /**
   * Stores a batch in log order. Resolves when every record is stored or dead-lettered;
   * rejects on a transient failure (cluster down, throttled past retries) so the batch is retried.
   */
  write(records: readonly AuditRecord[]): Promise<{ deadLetters: DeadLetter[] }>;
  close?(): Promise<void>;
}
