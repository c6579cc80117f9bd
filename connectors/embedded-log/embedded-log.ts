import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SCHEMA_VERSION, recordId, type AuditRecord, type BytesRecord, type EventRecord, type SessionContext } from '../../events/index.js';
import { EMBEDDED_LOG_SCHEMA, EMBEDDED_LOG_SCHEMA_VERSION } from './schema.js';
import { SessionContexts } from './session-contexts.js';
import { WalCheckpointer } from './wal-checkpointer.js';

/**
 * Per record of a batch, an event's data as the chain hashed it (JCS text), stored as it is instead of
 * being serialised again; undefined where a record has none (bytes) or the writer did not keep it.
 */
export type CanonicalData = (string | undefined)[];

/** A record as the gateway appends it: the envelope comes from the session's context. */
export type PendingRecord =
  | { sessionId: string; seq: number; ts: string; stream: 'events'; type: EventRecord['type']; data: unknown; prev: string; hash: string }
  | { sessionId: string; seq: number; ts: string; stream: 'bytes'; direction: BytesRecord['direction']; channel?: number; stderr?: true; offset: number; data: Buffer; prev: string; hash: string };

/** A session its gateway left without a signed end, with the head of its chain. */
export interface UnsealedSession {
  context: SessionContext;
  lastSeq: number;
  lastHash: string;
}

/** One entry of a gateway's signed summary of the sessions it opened. */
export interface LedgerEntry {
  instance: string;
  seq: number;
  ts: string;
  opened: string[];
  prev: string;
  hash: string;
  kid: string;
  jws: string;
}

export interface SessionSummary {
  sessionId: string;
  context: SessionContext;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  /** Whether the session's final signed checkpoint is in the log. */
  sealed: boolean;
  commands: number;
  records: number;
}

export interface EmbeddedLogOptions {
  /** `full` fsyncs every batch (survives power loss); `normal` survives a process crash. */
  synchronous?: 'full' | 'normal';
  readonly?: boolean;
}

interface RecordRow {
  session_id: string;
  seq: number;
  stream: 'events' | 'bytes';
  type: string;
  ts: string;
  data: string | null;
  direction: string | null;
  byte_offset: number | null;
  channel: number | null;
  stderr: number | null;
  bytes: Buffer | null;
  prev: string;
  hash: string;
}

/** The embedded event log: one SQLite file in WAL mode. */
export class EmbeddedLog {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly insertRecord: Database.Statement;
  private readonly insertSession: Database.Statement;
  private readonly endSession: Database.Statement;
  private readonly sealSession: Database.Statement;
  /** Contexts of sessions read (replay, verify): bounded, a replay server reads sessions for weeks. */
  private readonly contexts = new SessionContexts();
  private readonly writeBatchTx: (sessions: SessionContext[], records: PendingRecord[], canonical?: CanonicalData) => void;
  private readonly synchronous: 'full' | 'normal';
  private checkpointer: WalCheckpointer | null = null;

  constructor(file: string, options: EmbeddedLogOptions = {}) {
    this.file = file;
    this.synchronous = options.synchronous ?? 'normal';
    if (!options.readonly) mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      this.db.exec(EMBEDDED_LOG_SCHEMA);
      migrate(this.db);
      this.db.prepare('INSERT OR IGNORE INTO log_meta (key, value) VALUES (?, ?)').run('schema_version', EMBEDDED_LOG_SCHEMA_VERSION);
    }
    const version = (this.db.prepare("SELECT value FROM log_meta WHERE key = 'schema_version'").get() as { value: string } | undefined)?.value;
    if (version !== EMBEDDED_LOG_SCHEMA_VERSION) {
      this.db.close();
      throw new Error(`TG_LOG_SCHEMA: ${file} holds an event log of schema ${version ?? 'unknown'}, this Trailgate writes schema ${EMBEDDED_LOG_SCHEMA_VERSION}; move the file aside (keep it for its records) and start again`);
    }
    this.db.pragma('busy_timeout = 5000');
    this.insertRecord = this.db.prepare(
      'INSERT INTO records (session_id, seq, stream, type, ts, data, direction, byte_offset, channel, stderr, bytes, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertSession = this.db.prepare(
      'INSERT OR IGNORE INTO sessions (session_id, instance, protocol, context, started_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.endSession = this.db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE session_id = ?');
    this.sealSession = this.db.prepare('UPDATE sessions SET sealed = 1 WHERE session_id = ?');
    this.writeBatchTx = this.db.transaction((sessions: SessionContext[], records: PendingRecord[], canonical?: CanonicalData) => {
      const firstTs = new Map<string, string>();
      for (const r of records) if (!firstTs.has(r.sessionId)) firstTs.set(r.sessionId, r.ts);
      for (const ctx of sessions) {
        this.insertSession.run(ctx.sessionId, ctx.instance, ctx.protocol, JSON.stringify(ctx), firstTs.get(ctx.sessionId) ?? new Date().toISOString());
      }
      records.forEach((r, i) => {
        if (r.stream === 'events') {
          const text = canonical?.[i];
          this.insertRecord.run(r.sessionId, r.seq, 'events', r.type, r.ts, text ?? JSON.stringify(r.data), null, null, null, null, null, r.prev, r.hash);
          // A record that crossed a thread may come as its text alone; the few that update the session are read back.
          const data = () => (r.data === undefined && text !== undefined ? JSON.parse(text) : r.data) as { reason?: string; final?: boolean };
          if (r.type === 'session.ended') this.endSession.run(r.ts, data().reason ?? null, r.sessionId);
          else if (r.type === 'session.aborted') this.endSession.run(r.ts, 'aborted', r.sessionId);
          else if (r.type === 'checkpoint.signed' && data().final) this.sealSession.run(r.sessionId);
        } else {
          this.insertRecord.run(r.sessionId, r.seq, 'bytes', 'bytes', r.ts, null, r.direction, r.offset, r.channel ?? null, r.stderr ? 1 : null, r.data, r.prev, r.hash);
        }
      });
    });
  }

  /** Writes one batch in one transaction: one durable write for many records. */
  writeBatch(newSessions: SessionContext[], records: PendingRecord[], canonical?: CanonicalData): void {
    this.writeBatchTx(newSessions, records, canonical);
    if (this.checkpointer) {
      let bytes = 0;
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        bytes += r.stream === 'bytes' ? r.data.length : (canonical?.[i]?.length ?? 256);
      }
      this.checkpointer.committed(bytes);
    }
  }

  /**
   * For a writer on the event loop: WAL checkpoints (page copies and their fsyncs) move to a thread
   * of their own instead of running inside every commit that crosses SQLite's threshold.
   */
  checkpointInBackground(): void {
    if (this.checkpointer) return;
    this.db.pragma('wal_autocheckpoint = 0');
    this.checkpointer = new WalCheckpointer(
      this.file,
      this.synchronous,
      (err) => {
        console.error(`trailgate: TG_LOG_CHECKPOINT: ${err.message}; WAL checkpoints run inside the commits again`);
        this.checkpointer = null;
        this.db.pragma('wal_autocheckpoint = 1000');
      },
      () => {
        try {
          if (this.db.open) this.db.pragma('wal_checkpoint(PASSIVE)');
        } catch (err) {
          console.error(`trailgate: TG_LOG_CHECKPOINT: a WAL checkpoint failed (${(err as Error).message}); the next one tries again`);
        }
      },
    );
  }

  listSessions(limit = 100): SessionSummary[] {
    const rows = this.db
      .prepare(
        `SELECT s.session_id, s.context, s.started_at, s.ended_at, s.end_reason, s.sealed,
                (SELECT COUNT(*) FROM records r WHERE r.session_id = s.session_id AND r.type = 'command.started') AS commands,
                (SELECT COUNT(*) FROM records r WHERE r.session_id = s.session_id) AS records
           FROM sessions s ORDER BY s.started_at DESC, s.session_id DESC LIMIT ?`,
      )
      .all(limit) as { session_id: string; context: string; started_at: string; ended_at: string | null; end_reason: string | null; sealed: number; commands: number; records: number }[];
    return rows.map((r) => ({
      sessionId: r.session_id,
      context: JSON.parse(r.context) as SessionContext,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      endReason: r.end_reason,
      sealed: r.sealed === 1,
      commands: r.commands,
      records: r.records,
    }));
  }

  /** Resolves a full id or a unique prefix of one, as operators type them. */
  resolveSessionId(idOrPrefix: string): string | null {
    const rows = this.db.prepare('SELECT session_id FROM sessions WHERE session_id LIKE ? ESCAPE \'\\\' LIMIT 2').all(`${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`) as { session_id: string }[];
    return rows.length === 1 ? rows[0]!.session_id : null;
  }

  readSession(sessionId: string, stream?: 'events' | 'bytes'): AuditRecord[] {
    const ctx = this.context(sessionId);
    if (!ctx) return [];
    const sql = stream
      ? 'SELECT * FROM records WHERE session_id = ? AND stream = ? ORDER BY seq'
      : 'SELECT * FROM records WHERE session_id = ? ORDER BY seq';
    const rows = (stream ? this.db.prepare(sql).all(sessionId, stream) : this.db.prepare(sql).all(sessionId)) as RecordRow[];
    return rows.map((row) => toAuditRecord(row, ctx));
  }

  private context(sessionId: string): SessionContext | null {
    const cached = this.contexts.get(sessionId);
    if (cached) return cached;
    const row = this.db.prepare('SELECT context FROM sessions WHERE session_id = ?').get(sessionId) as { context: string } | undefined;
    if (!row) return null;
    const ctx = JSON.parse(row.context) as SessionContext;
    this.contexts.set(sessionId, ctx);
    return ctx;
  }

  /** Every session id in the log, oldest first. */
  sessionIds(): string[] {
    return (this.db.prepare('SELECT session_id FROM sessions ORDER BY started_at, session_id').all() as { session_id: string }[]).map((r) => r.session_id);
  }

  /** When each session started and which instance opened it, oldest first. */
  sessionStarts(): { sessionId: string; instance: string; startedAt: string }[] {
    return this.db.prepare('SELECT session_id AS sessionId, instance, started_at AS startedAt FROM sessions ORDER BY started_at, session_id').all() as { sessionId: string; instance: string; startedAt: string }[];
  }

  /** The sessions one gateway instance opened, oldest first. */
  sessionIdsOf(instance: string): string[] {
    return (this.db.prepare('SELECT session_id FROM sessions WHERE instance = ? ORDER BY started_at, session_id').all(instance) as { session_id: string }[]).map((r) => r.session_id);
  }

  /** Sessions of one gateway instance that have no signed end yet, with their chain heads. */
  unsealedSessions(instance: string): UnsealedSession[] {
    const rows = this.db
      .prepare(
        `SELECT s.session_id, s.context, r.seq, r.hash FROM sessions s
           JOIN records r ON r.session_id = s.session_id AND r.seq = (SELECT MAX(seq) FROM records WHERE session_id = s.session_id)
          WHERE s.instance = ? AND s.sealed = 0 ORDER BY s.started_at`,
      )
      .all(instance) as { session_id: string; context: string; seq: number; hash: string }[];
    return rows.map((r) => ({ context: JSON.parse(r.context) as SessionContext, lastSeq: r.seq, lastHash: r.hash }));
  }

  appendLedger(entry: LedgerEntry): void {
    this.db
      .prepare('INSERT INTO ledger (instance, seq, ts, opened, prev, hash, kid, jws) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(entry.instance, entry.seq, entry.ts, JSON.stringify(entry.opened), entry.prev, entry.hash, entry.kid, entry.jws);
  }

  /** The ledger of one instance, or of every instance, in order. */
  readLedger(instance?: string): LedgerEntry[] {
    const rows = (instance === undefined
      ? this.db.prepare('SELECT * FROM ledger ORDER BY instance, seq').all()
      : this.db.prepare('SELECT * FROM ledger WHERE instance = ? ORDER BY seq').all(instance)) as (Omit<LedgerEntry, 'opened'> & { opened: string })[];
    return rows.map((r) => ({ ...r, opened: JSON.parse(r.opened) as string[] }));
  }

  ledgerHead(instance: string): LedgerEntry | null {
    const row = this.db.prepare('SELECT * FROM ledger WHERE instance = ? ORDER BY seq DESC LIMIT 1').get(instance) as (Omit<LedgerEntry, 'opened'> & { opened: string }) | undefined;
    return row ? { ...row, opened: JSON.parse(row.opened) as string[] } : null;
  }

  close(): void {
    this.checkpointer?.close();
    this.checkpointer = null;
    this.db.close();
  }
}

/** Brings a log written by an older gateway up to this schema; each step is idempotent. */
function migrate(db: Database.Database): void {
  const columns = new Set((db.pragma('table_info(records)') as { name: string }[]).map((c) => c.name));
  if (!columns.has('stderr')) db.exec('ALTER TABLE records ADD COLUMN stderr INTEGER');
}

function toAuditRecord(row: RecordRow, ctx: SessionContext): AuditRecord {
  const envelope = {
    v: SCHEMA_VERSION,
    id: recordId(row.session_id, row.seq),
    sessionId: row.session_id,
    seq: row.seq,
    ts: row.ts,
    instance: ctx.instance,
    target: ctx.target,
    identity: ctx.identity,
    client: ctx.client,
    prev: row.prev,
    hash: row.hash,
  };
  if (row.stream === 'bytes') {
    const channel = row.channel === null ? {} : { channel: row.channel };
    const stderr = row.stderr ? { stderr: true as const } : {};
    return { ...envelope, stream: 'bytes', type: 'bytes', direction: row.direction as BytesRecord['direction'], ...channel, ...stderr, offset: row.byte_offset ?? 0, data: row.bytes ?? Buffer.alloc(0) };
  }
  return { ...envelope, stream: 'events', type: row.type as EventRecord['type'], data: JSON.parse(row.data ?? 'null') } as EventRecord;
}
