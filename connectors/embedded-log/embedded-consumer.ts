import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { SCHEMA_VERSION, recordId, type AuditRecord, type SessionContext } from '../../events/index.js';
import type { LagReport, RecordSource, SourceDeadLetter, SourceEntry } from '../consumer/consumer.js';
import type { ConsumerHealth } from '../consumer/consumer-health.js';
import type { RecordSink } from '../consumer/record-sink.js';
import { EmbeddedLog } from './embedded-log.js';
import { SessionContexts } from './session-contexts.js';

/** Consumer positions and dead letters, in the embedded log's own file. */
const CONSUMER_SCHEMA = `
CREATE TABLE IF NOT EXISTS consumer_positions (
  consumer   TEXT PRIMARY KEY,
  pos        INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  consumer   TEXT NOT NULL,
  pos        INTEGER,
  record_id  TEXT,
  code       TEXT NOT NULL,
  message    TEXT NOT NULL,
  record     TEXT,
  bytes      BLOB,
  at         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS consumer_health (
  consumer   TEXT PRIMARY KEY,
  health     TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
`;

/** Columns of `records` the reader maps by name; any other column is carried into the record as it is. */
const KNOWN_COLUMNS = new Set(['pos', 'session_id', 'seq', 'stream', 'type', 'ts', 'data', 'direction', 'byte_offset', 'channel', 'bytes', 'context']);

type Row = Record<string, unknown> & { pos: number; session_id: string; seq: number; stream: string; type: string; ts: string; context: string | null };

/**
 * Reads the embedded log in `pos` order (the log-wide order of commits) for one consumer. Its
 * position is a row in `consumer_positions` of the same file, moved only after the sink stored the batch.
 */
export class EmbeddedRecordSource implements RecordSource {
  readonly kind = 'embedded' as const;
  private readonly db: Database.Database;
  private stopping = false;
  private wake: (() => void) | null = null;
  private readonly contexts: SessionContexts;

  constructor(
    readonly file: string,
    private readonly sink: Pick<RecordSink, 'name' | 'streams'>,
    private readonly o: { batchSize: number; pollMs?: number; maxParsedContexts?: number },
  ) {
    this.contexts = new SessionContexts(o.maxParsedContexts);
    if (!existsSync(file)) throw Object.assign(new Error(`no event log at ${file}; start the gateway first or pass --config with its configuration`), { code: 'TG_LOG_MISSING' });
    // The gateway creates the schema; a consumer that starts first must find it too.
    new EmbeddedLog(file).close();
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(CONSUMER_SCHEMA);
  }

  get position(): number {
    const row = this.db.prepare('SELECT pos FROM consumer_positions WHERE consumer = ?').get(this.sink.name) as { pos: number } | undefined;
    return row?.pos ?? 0;
  }

  async run(handle: (entries: SourceEntry[]) => Promise<void>): Promise<void> {
    const streams = this.sink.streams;
    const read = this.db.prepare(
      `SELECT r.*, s.context AS context FROM records r LEFT JOIN sessions s ON s.session_id = r.session_id
        WHERE r.pos > ? AND r.stream IN (${streams.map(() => '?').join(', ')}) ORDER BY r.pos LIMIT ?`,
    );
    const save = this.db.prepare(
      `INSERT INTO consumer_positions (consumer, pos, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (consumer) DO UPDATE SET pos = excluded.pos, updated_at = excluded.updated_at`,
    );
    while (!this.stopping) {
      const rows = read.all(this.position, ...streams, this.o.batchSize) as Row[];
      if (rows.length === 0) {
        await this.idle(this.o.pollMs ?? 200);
        continue;
      }
      const entries = rows.map((row) => toEntry(row, this.contexts));
      try {
        await handle(entries);
      } catch (err) {
        if (this.stopping) break;
        throw err;
      }
      save.run(this.sink.name, rows[rows.length - 1]!.pos, new Date().toISOString());
    }
    this.db.close();
  }

  /** Sessions whose parsed context this reader holds (bounded; for tests and benchmarks). */
  get parsedContexts(): number {
    return this.contexts.size;
  }

  async deadLetter(letters: SourceDeadLetter[]): Promise<void> {
    const insert = this.db.prepare('INSERT INTO dead_letters (consumer, pos, record_id, code, message, record, bytes, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const now = new Date().toISOString();
    this.db.transaction(() => {
      for (const { entry, code, message } of letters) {
        const r = entry.record;
        const pos = (entry.raw as Row | null)?.pos ?? null;
        const bytes = r?.stream === 'bytes' ? r.data : null;
        const json = r ? JSON.stringify(r.stream === 'bytes' ? { ...r, data: undefined } : r) : JSON.stringify(entry.raw);
        insert.run(this.sink.name, pos, r?.id ?? null, code, message, json, bytes, now);
      }
    })();
  }

  /** The consumer's health as JSON beside its position, for `trailgate consumers` in another process. */
  reportHealth(health: ConsumerHealth): void {
    if (!this.db.open) return;
    this.db
      .prepare('INSERT INTO consumer_health (consumer, health, updated_at) VALUES (?, ?, ?) ON CONFLICT (consumer) DO UPDATE SET health = excluded.health, updated_at = excluded.updated_at')
      .run(this.sink.name, JSON.stringify(health), new Date().toISOString());
  }

  async lag(): Promise<LagReport> {
    if (!this.db.open) return { consumer: this.sink.name, parts: [], total: 0 };
    const committed = this.position;
    const streams = this.sink.streams;
    const row = this.db.prepare(`SELECT COUNT(*) AS n, MAX(pos) AS end FROM records WHERE pos > ? AND stream IN (${streams.map(() => '?').join(', ')})`).get(committed, ...streams) as { n: number; end: number | null };
    const end = row.end ?? committed;
    return { consumer: this.sink.name, parts: [{ part: streams.join('+'), committed: String(committed), end: String(end), lag: row.n }], total: row.n };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}

/** Positions, dead-letter counts and last reported health of every consumer of an embedded log (status output). */
export function embeddedConsumerPositions(file: string): { consumer: string; pos: number; updatedAt: string; deadLetters: number; health: ConsumerHealth | null }[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name));
    if (!tables.has('consumer_positions')) return [];
    // A consumer that failed before its first commit has health but no position yet.
    const health = tables.has('consumer_health') ? 'SELECT consumer, health FROM consumer_health' : 'SELECT NULL AS consumer, NULL AS health WHERE 0';
    const rows = db
      .prepare(
        `WITH h AS (${health}), names AS (SELECT consumer FROM consumer_positions UNION SELECT consumer FROM h)
         SELECT n.consumer, COALESCE(p.pos, 0) AS pos, COALESCE(p.updated_at, '-') AS updatedAt,
                (SELECT COUNT(*) FROM dead_letters d WHERE d.consumer = n.consumer) AS deadLetters, h.health AS health
           FROM names n LEFT JOIN consumer_positions p ON p.consumer = n.consumer LEFT JOIN h ON h.consumer = n.consumer ORDER BY n.consumer`,
      )
      .all() as { consumer: string; pos: number; updatedAt: string; deadLetters: number; health: string | null }[];
    return rows.map((r) => ({ ...r, health: r.health === null ? null : (JSON.parse(r.health) as ConsumerHealth) }));
  } finally {
    db.close();
  }
}

function toEntry(row: Row, contexts: SessionContexts): SourceEntry {
  const origin = `pos ${row.pos}`;
  try {
    let ctx = contexts.get(row.session_id);
    if (!ctx) {
      if (row.context === null) throw new Error(`session ${row.session_id} has no sessions row`);
      ctx = JSON.parse(row.context) as SessionContext;
      contexts.set(row.session_id, ctx);
    }
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) if (!KNOWN_COLUMNS.has(k) && v !== null) extra[k] = v;
    const envelope = { v: SCHEMA_VERSION, id: recordId(row.session_id, row.seq), sessionId: row.session_id, seq: row.seq, ts: row.ts, instance: ctx.instance, target: ctx.target, identity: ctx.identity, client: ctx.client, ...extra };
    let record: AuditRecord;
    if (row.stream === 'bytes') {
      record = { ...envelope, stream: 'bytes', type: 'bytes', direction: row.direction, ...(row.channel === null ? {} : { channel: row.channel }), offset: row.byte_offset ?? 0, data: (row.bytes as Buffer | null) ?? Buffer.alloc(0) } as AuditRecord;
    } else {
      record = { ...envelope, stream: 'events', type: row.type, data: JSON.parse((row.data as string | null) ?? 'null') } as AuditRecord;
      // Nothing of the session follows its final signed checkpoint.
      if (row.type === 'checkpoint.signed' && (record.data as { final?: boolean } | null)?.final === true) contexts.delete(row.session_id);
    }
    return { record, origin, raw: row };
  } catch (err) {
    return { record: null, error: { code: 'TG_RECORD_UNDECODABLE', message: (err as Error).message }, origin, raw: { ...row, bytes: undefined } };
  }
}
