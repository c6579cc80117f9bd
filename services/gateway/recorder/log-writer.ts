import { EventEmitter } from 'node:events';
import type { SessionContext } from '../../../events/index.js';
import type { CanonicalData, PendingRecord } from '../../../connectors/embedded-log/embedded-log.js';
import type { LogSink } from '../../../connectors/embedded-log/log-sinks.js';
import { LogHeldLimitError, LogUnwritableError } from './log-unwritable.js';

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** How long an unwritable log waits before the held records are tried again. */
export const RETRY_MILLIS = 250;

/** Bytes of records held for an unwritable log before sessions are ended and new ones refused unrecorded. */
export const MAX_HELD_BYTES = 64 * 1024 * 1024;

/** About what a record costs in memory: its bytes or its data's text, and the envelope around it. */
function recordBytes(record: PendingRecord, canonicalData: string | undefined): number {
  return 256 + (record.stream === 'bytes' ? record.data.length : (canonicalData?.length ?? 256));
}

/**
 * Collects records from every session and hands them to the log once per turn of the event loop.
 * Batches are pipelined; the log thread commits whatever has queued up as one group.
 *
 * When the log refuses a batch (disk full, read-only file system) its records are kept, in order,
 * and written again every RETRY_MILLIS until the log takes them: while it does not, durable() fails
 * at once with TG_LOG_UNWRITABLE, so strict recording refuses commands instead of waiting.
 */
export class LogWriter extends EventEmitter<{
  written: [records: PendingRecord[]];
  opened: [context: SessionContext];
  unwritable: [error: LogUnwritableError];
  'held-limit': [error: LogHeldLimitError];
  recovered: [records: number];
}> {
  private records: PendingRecord[] = [];
  /** Beside each record: its event data's canonical text, hashed once and stored as it is. */
  private canonical: CanonicalData = [];
  private sessions: SessionContext[] = [];
  /** Waiting for the records not yet sent. */
  private nextWaiters: Waiter[] = [];
  /** Settles when the newest batch sent so far is on disk (the log acknowledges in order). */
  private lastSent: Promise<void> = Promise.resolve();
  private scheduled = false;
  /** Records still being produced (signatures in flight) that a flush must wait for. */
  private readonly inFlight = new Set<Promise<void>>();
  /** A checkpoint that could not be signed: the recording cannot be proven any more. */
  private signingFailure: Error | null = null;
  /** Set while the log refuses writes; cleared by the first write it takes again. */
  private unwritableError: LogUnwritableError | null = null;
  /** Refused batches, oldest first, waiting for the log to take them. */
  private held: { sessions: SessionContext[]; records: PendingRecord[]; canonical: CanonicalData; bytes: number } = { sessions: [], records: [], canonical: [], bytes: 0 };
  /** Bytes of the records not yet sent (this.records). */
  private queuedBytes = 0;
  /** Set once the held records pass maxHeldBytes; cleared when the log takes writes again. */
  private heldLimit: LogHeldLimitError | null = null;
  /** Records of sessions that opened past the bound and were not kept (refusals that ran nothing). */
  droppedRecords = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly sink: LogSink,
    private readonly file: string,
    private readonly retryMillis = RETRY_MILLIS,
    private readonly maxHeldBytes = MAX_HELD_BYTES,
  ) {
    super();
  }

  /** The reason the log refuses writes now, or null while it takes them. */
  get unwritable(): LogUnwritableError | null {
    return this.unwritableError;
  }

  /** Records kept in memory because the log refused them. */
  get heldRecords(): number {
    return this.held.records.length;
  }

  /** Bytes (about) of the records kept for an unwritable log, and of those queued behind them. */
  get heldBytes(): number {
    return this.unwritableError ? this.held.bytes + this.queuedBytes : this.held.bytes;
  }

  /** Set while the held records are over recording.maxHeldBytes: a session that opens now is not recorded and may run nothing. */
  get overHeldLimit(): LogHeldLimitError | null {
    return this.heldLimit;
  }

  openSession(ctx: SessionContext): void {
    this.sessions.push(ctx);
    this.emit('opened', ctx);
    this.schedule();
  }

  append(record: PendingRecord, canonicalData?: string): void {
    this.records.push(record);
    this.canonical.push(canonicalData);
    this.queuedBytes += recordBytes(record, canonicalData);
    if (this.unwritableError && !this.heldLimit) this.checkHeldLimit();
    this.schedule();
  }

  /** Resolves once everything appended so far is on disk; rejects if the write failed. */
  durable(): Promise<void> {
    const failure = this.signingFailure ?? this.heldLimit ?? this.unwritableError;
    if (failure) return Promise.reject(failure);
    if (this.records.length === 0 && this.sessions.length === 0) return this.lastSent;
    return new Promise((resolve, reject) => this.nextWaiters.push({ resolve, reject }));
  }

  /** Lets flush() wait for a record that is still being made, e.g. a checkpoint being signed. */
  track(producing: Promise<void>): void {
    const tracked = producing.catch((err: Error) => {
      this.signingFailure ??= new Error(`TG_RECORDING_FAILED: a checkpoint could not be signed (${err.message}); check the signing key`);
    }).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Sends what is pending now and waits for it; used at shutdown and by tests that read the log. */
  async flush(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight);
    // One more try for what the log refused, so a log that took writes again is not reported as failing.
    if (this.unwritableError && !this.signingFailure) {
      await this.lastSent.catch(() => undefined);
      this.retry();
      await this.lastSent.catch(() => undefined);
    }
    const done = this.durable();
    this.send();
    await done;
  }

  /** Stops trying again (at shutdown); what is still held is reported by heldRecords. */
  stopRetrying(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.send();
    });
  }

  private send(): void {
    // While the log refuses writes, new records queue behind the held ones and go with the next retry.
    if (this.held.records.length || this.held.sessions.length) return;
    if (this.records.length === 0 && this.sessions.length === 0) return;
    const sessions = this.sessions;
    const records = this.records;
    const canonical = this.canonical;
    const waiters = this.nextWaiters;
    const bytes = this.queuedBytes;
    this.sessions = [];
    this.records = [];
    this.canonical = [];
    this.nextWaiters = [];
    this.queuedBytes = 0;
    this.lastSent = this.sink.write(sessions, records, canonical).then(
      () => {
        for (const w of waiters) w.resolve();
        this.emit('written', records);
        if (this.unwritableError && this.held.records.length === 0 && this.held.sessions.length === 0) {
          this.unwritableError = null;
          this.heldLimit = null;
          this.emit('recovered', records.length);
        }
      },
      (err: Error) => {
        // Kept in order for the next try: a record the log refused is not a record lost.
        this.held.sessions.push(...sessions);
        this.held.records.push(...records);
        this.held.canonical.push(...canonical);
        this.held.bytes += bytes;
        const failure = new LogUnwritableError(err, this.file);
        const first = this.unwritableError === null;
        this.unwritableError = failure;
        for (const w of waiters) w.reject(failure);
        if (first) this.emit('unwritable', failure);
        if (!this.heldLimit) this.checkHeldLimit();
        if (!this.stopped) {
          this.retryTimer ??= setTimeout(() => {
            this.retryTimer = null;
            this.retry();
          }, this.retryMillis);
          // The listeners keep a gateway alive; a stopped one must not be kept alive by its retries.
          this.retryTimer.unref();
        }
        throw failure;
      },
    );
    // The rejection is delivered through durable(); an unobserved one must not crash the process.
    this.lastSent.catch(() => undefined);
  }

  /** Puts the held records in front of what came since and writes them all again. */
  private retry(): void {
    if (this.held.records.length === 0 && this.held.sessions.length === 0) return;
    this.sessions = [...this.held.sessions, ...this.sessions];
    this.records = [...this.held.records, ...this.records];
    this.canonical = [...this.held.canonical, ...this.canonical];
    this.queuedBytes += this.held.bytes;
    this.held = { sessions: [], records: [], canonical: [], bytes: 0 };
    this.send();
  }

  /** Past the bound, once per outage: the gateway ends its sessions (next turn, not inside a recorder's call). */
  private checkHeldLimit(): void {
    const held = this.held.bytes + this.queuedBytes;
    if (!this.unwritableError || held <= this.maxHeldBytes) return;
    const limit = new LogHeldLimitError(this.unwritableError, held, this.maxHeldBytes);
    this.heldLimit = limit;
    setImmediate(() => {
      if (this.heldLimit === limit) this.emit('held-limit', limit);
    });
  }
}
