import { EventEmitter } from 'node:events';
import type { SessionContext } from '../../../events/index.js';
import type { EmbeddedLog, PendingRecord } from '../../../connectors/embedded-log/embedded-log.js';

/**
 * Collects records from every session and writes them in one transaction per turn of the event loop,
 * so that many records share one durable write.
 */
export class LogWriter extends EventEmitter<{ written: [records: PendingRecord[]] }> {
  private records: PendingRecord[] = [];
  private sessions: SessionContext[] = [];
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private scheduled = false;
  private failure: Error | null = null;

  constructor(private readonly log: EmbeddedLog) {
    super();
  }

  openSession(ctx: SessionContext): void {
    this.sessions.push(ctx);
    this.schedule();
  }

  append(record: PendingRecord): void {
    this.records.push(record);
    this.schedule();
  }

  /** Resolves once everything appended so far is on disk; rejects if the write failed. */
  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.scheduled) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Writes what is pending now; used at shutdown and by tests that read the log in-process. */
  flushNow(): void {
    if (this.records.length === 0 && this.sessions.length === 0) {
      this.settle(null);
      return;
    }
    const sessions = this.sessions;
    const records = this.records;
    this.sessions = [];
    this.records = [];
    try {
      this.log.writeBatch(sessions, records);
      this.settle(null);
      this.emit('written', records);
    } catch (err) {
      this.failure = new Error(`TG_RECORDING_FAILED: the event log could not be written (${(err as Error).message}); check disk space and permissions of ${this.log.file}`);
      this.settle(this.failure);
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flushNow());
  }

  private settle(err: Error | null): void {
    this.scheduled = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }
}
