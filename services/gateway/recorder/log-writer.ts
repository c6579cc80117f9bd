import { EventEmitter } from 'node:events';
import type { SessionContext } from '../../../events/index.js';
import type { CanonicalData, PendingRecord } from '../../../connectors/embedded-log/embedded-log.js';
import type { LogSink } from '../../../connectors/embedded-log/log-sinks.js';

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Collects records from every session and hands them to the log once per turn of the event loop.
 * Batches are pipelined; the log thread commits whatever has queued up as one group.
 */
export class LogWriter extends EventEmitter<{ written: [records: PendingRecord[]]; opened: [context: SessionContext] }> {
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
  private failure: Error | null = null;

  constructor(
    private readonly sink: LogSink,
    private readonly file: string,
  ) {
    super();
  }

  openSession(ctx: SessionContext): void {
    this.sessions.push(ctx);
    this.emit('opened', ctx);
    this.schedule();
  }

  append(record: PendingRecord, canonicalData?: string): void {
    this.records.push(record);
    this.canonical.push(canonicalData);
    this.schedule();
  }

  /** Resolves once everything appended so far is on disk; rejects if the write failed. */
  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.records.length === 0 && this.sessions.length === 0) return this.lastSent;
    return new Promise((resolve, reject) => this.nextWaiters.push({ resolve, reject }));
  }

  /** Lets flush() wait for a record that is still being made, e.g. a checkpoint being signed. */
  track(producing: Promise<void>): void {
    const tracked = producing.catch((err: Error) => {
      this.failure ??= new Error(`TG_RECORDING_FAILED: a checkpoint could not be signed (${err.message}); check the signing key`);
    }).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Sends what is pending now and waits for it; used at shutdown and by tests that read the log. */
  async flush(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight);
    const done = this.durable();
    this.send();
    await done;
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
    if (this.records.length === 0 && this.sessions.length === 0) return;
    const sessions = this.sessions;
    const records = this.records;
    const canonical = this.canonical;
    const waiters = this.nextWaiters;
    this.sessions = [];
    this.records = [];
    this.canonical = [];
    this.nextWaiters = [];
    this.lastSent = this.sink.write(sessions, records, canonical).then(
      () => {
        for (const w of waiters) w.resolve();
        this.emit('written', records);
      },
      (err: Error) => {
        this.failure ??= new Error(`TG_RECORDING_FAILED: the event log could not be written (${err.message}); check disk space and permissions of ${this.file}`);
        for (const w of waiters) w.reject(this.failure);
        throw this.failure;
      },
    );
    // The rejection is delivered through durable(); an unobserved one must not crash the process.
    this.lastSent.catch(() => undefined);
  }
}
