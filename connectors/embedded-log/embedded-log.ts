import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SCHEMA_VERSION, recordId, type AuditRecord, type BytesRecord, type EventRecord, type SessionContext } from '../../events/index.js';
import { EMBEDDED_LOG_SCHEMA, EMBEDDED_LOG_SCHEMA_VERSION } from './schema.js';

/** A record as the gateway appends it: the envelope comes from the session's context. */
export type PendingRecord =
  | { sessionId: string; seq: number; ts: string; stream: 'events'; type: EventRecord['type']; data: unknown }
  | { sessionId: string; seq: number; ts: string; stream: 'bytes'; direction: BytesRecord['direction']; channel?: number; stderr?: true; offset: number; data: Buffer };

export interface SessionSummary {
  sessionId: string;
  context: SessionContext;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
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
}

/** The embedded event log: one SQLite file in WAL mode. */
export class EmbeddedLog {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly insertRecord: Database.Statement;
  private readonly insertSession: Database.Statement;
  private readonly endSession: Database.Statement;
  private readonly contexts = new Map<string, SessionContext>();
  private readonly writeBatchTx: (sessions: SessionContext[], records: PendingRecord[]) => void;

  constructor(file: string, options: EmbeddedLogOptions = {}) {
    this.file = file;
    if (!options.readonly) mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      this.db.exec(EMBEDDED_LOG_SCHEMA);
      migrate(this.db);
      this.db.prepare('INSERT OR IGNORE INTO log_meta (key, value) VALUES (?, ?)').run('schema_version', EMBEDDED_LOG_SCHEMA_VERSION);
    }
    this.db.pragma('busy_timeout = 5000');
    this.insertRecord = this.db.prepare(
      'INSERT INTO records (session_id, seq, stream, type, ts, data, direction, byte_offset, channel, stderr, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertSession = this.db.prepare(
      'INSERT OR IGNORE INTO sessions (session_id, instance, protocol, context, started_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.endSession = this.db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE session_id = ?');
    this.writeBatchTx = this.db.transaction((sessions: SessionContext[], records: PendingRecord[]) => {
      const firstTs = new Map<string, string>();
      for (const r of records) if (!firstTs.has(r.sessionId)) firstTs.set(r.sessionId, r.ts);
      for (const ctx of sessions) {
        this.insertSession.run(ctx.sessionId, ctx.instance, ctx.protocol, JSON.stringify(ctx), firstTs.get(ctx.sessionId) ?? new Date().toISOString());
      }
      for (const r of records) {
        if (r.stream === 'events') {
          this.insertRecord.run(r.sessionId, r.seq, 'events', r.type, r.ts, JSON.stringify(r.data), null, null, null, null, null);
          if (r.type === 'session.ended') this.endSession.run(r.ts, (r.data as { reason?: string }).reason ?? null, r.sessionId);
        } else {
          this.insertRecord.run(r.sessionId, r.seq, 'bytes', 'bytes', r.ts, null, r.direction, r.offset, r.channel ?? null, r.stderr ? 1 : null, r.data);
        }
      }
    });
  }

  /** Writes one batch in one transaction: one durable write for many records. */
  writeBatch(newSessions: SessionContext[], records: PendingRecord[]): void {
    this.writeBatchTx(newSessions, records);
  }

  listSessions(limit = 100): SessionSummary[] {
    const rows = this.db
      .prepare(
        `SELECT s.session_id, s.context, s.started_at, s.ended_at, s.end_reason,
                (SELECT COUNT(*) FROM records r WHERE r.session_id = s.session_id AND r.type = 'command.started') AS commands,
                (SELECT COUNT(*) FROM records r WHERE r.session_id = s.session_id) AS records
           FROM sessions s ORDER BY s.started_at DESC, s.session_id DESC LIMIT ?`,
      )
      .all(limit) as { session_id: string; context: string; started_at: string; ended_at: string | null; end_reason: string | null; commands: number; records: number }[];
    return rows.map((r) => ({
      sessionId: r.session_id,
      context: JSON.parse(r.context) as SessionContext,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      endReason: r.end_reason,
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

  close(): void {
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
  };
  if (row.stream === 'bytes') {
    const channel = row.channel === null ? {} : { channel: row.channel };
    const stderr = row.stderr ? { stderr: true as const } : {};
    return { ...envelope, stream: 'bytes', type: 'bytes', direction: row.direction as BytesRecord['direction'], ...channel, ...stderr, offset: row.byte_offset ?? 0, data: row.bytes ?? Buffer.alloc(0) };
  }
  return { ...envelope, stream: 'events', type: row.type as EventRecord['type'], data: JSON.parse(row.data ?? 'null') } as EventRecord;
}
