import Database from 'better-sqlite3';
import type { AuditRecord, Protocol, SessionContext } from '../../events/index.js';
import type { DeadLetter, RecordSink } from '../consumer/record-sink.js';
import { EmbeddedLog, type LedgerEntry } from './embedded-log.js';

/**
 * A full copy of a log in the embedded log's own schema, filled by a consumer (from Kafka): the replay
 * UI and the read commands open it exactly as they open the embedded log. Every write is idempotent,
 * records by (session_id, seq) and ledger entries by (instance, seq), so a batch delivered again after
 * a crash stores nothing twice, and records of types this build does not know are kept (the chain
 * needs them) for readers to skip.
 */
export class ReplayStore implements RecordSink {
  readonly streams = ['events', 'bytes'] as const;
  readonly keepsUnknownTypes = true;
  private readonly db: Database.Database;
  private readonly writeTx: (records: readonly AuditRecord[]) => void;
  private readonly ledgerTx: (entries: readonly LedgerEntry[]) => number;

  constructor(
    readonly file: string,
    /** The consumer (and Kafka consumer group) this store's position is kept under. */
    readonly name = 'replay',
  ) {
    // Creates or migrates the schema, as the gateway would.
    new EmbeddedLog(file, { synchronous: 'full' }).close();
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // The position is committed after this write: it must survive power loss, not only a crash.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    const insertRecord = this.db.prepare(
      'INSERT OR IGNORE INTO records (session_id, seq, stream, type, ts, data, direction, byte_offset, channel, stderr, bytes, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insertSession = this.db.prepare('INSERT OR IGNORE INTO sessions (session_id, instance, protocol, context, started_at) VALUES (?, ?, ?, ?, ?)');
    // The session's own start record names its protocol and time, whichever record arrived first.
    const startSession = this.db.prepare(
      `INSERT INTO sessions (session_id, instance, protocol, context, started_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (session_id) DO UPDATE SET protocol = excluded.protocol, context = excluded.context, started_at = excluded.started_at`,
    );
    const endSession = this.db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE session_id = ?');
    const sealSession = this.db.prepare('UPDATE sessions SET sealed = 1 WHERE session_id = ?');
    this.writeTx = this.db.transaction((records: readonly AuditRecord[]) => {
      for (const r of records) {
        const started = r.stream === 'events' && r.type === 'session.started';
        const protocol = started ? ((r.data as { protocol?: Protocol }).protocol ?? 'postgres') : (r.target?.kind ?? 'postgres');
        const ctx: SessionContext = { sessionId: r.sessionId, instance: r.instance, protocol, target: r.target, identity: r.identity, client: r.client };
        (started ? startSession : insertSession).run(r.sessionId, r.instance, protocol, JSON.stringify(ctx), r.ts);
        if (r.stream === 'events') {
          const stored = insertRecord.run(r.sessionId, r.seq, 'events', String(r.type), r.ts, JSON.stringify(r.data ?? null), null, null, null, null, null, r.prev, r.hash);
          if (stored.changes === 0) continue;
          if (r.type === 'session.ended') endSession.run(r.ts, (r.data as { reason?: string }).reason ?? null, r.sessionId);
          else if (r.type === 'session.aborted') endSession.run(r.ts, 'aborted', r.sessionId);
          else if (r.type === 'checkpoint.signed' && (r.data as { final?: boolean }).final) sealSession.run(r.sessionId);
        } else {
          insertRecord.run(r.sessionId, r.seq, 'bytes', 'bytes', r.ts, null, r.direction, r.offset, r.channel ?? null, r.stderr ? 1 : null, r.data, r.prev, r.hash);
        }
      }
    });
    const insertLedger = this.db.prepare('INSERT OR IGNORE INTO ledger (instance, seq, ts, opened, prev, hash, kid, jws) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.ledgerTx = this.db.transaction((entries: readonly LedgerEntry[]) => {
      let stored = 0;
      for (const e of entries) stored += insertLedger.run(e.instance, e.seq, e.ts, JSON.stringify(e.opened), e.prev, e.hash, e.kid, e.jws).changes;
      return stored;
    });
  }

  async write(records: readonly AuditRecord[]): Promise<{ deadLetters: DeadLetter[] }> {
    this.writeTx(records);
    return { deadLetters: [] };
  }

  /** Whether the store holds nothing yet (new, or emptied to be rebuilt). */
  isEmpty(): boolean {
    return !this.db.prepare('SELECT 1 FROM records LIMIT 1').get() && !this.db.prepare('SELECT 1 FROM ledger LIMIT 1').get();
  }

  /** Stores entries of the gateways' signed ledgers; returns how many were new. */
  writeLedger(entries: readonly LedgerEntry[]): number {
    return this.ledgerTx(entries);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
