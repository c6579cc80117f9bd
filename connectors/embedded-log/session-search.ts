import Database from 'better-sqlite3';
import type { SessionContext } from '../../events/index.js';

export interface SessionQuery {
  repository?: string;
  run?: string;
  actor?: string;
  target?: string;
  protocol?: string;
  from?: string;
  to?: string;
  q?: string;
  limit?: number;
}

export interface SessionRow {
  sessionId: string;
  context: SessionContext;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  commands: number;
  records: number;
}

const COLUMNS = `s.session_id, s.context, s.started_at, s.ended_at, s.end_reason,
  (SELECT COUNT(*) FROM records r WHERE r.session_id = s.session_id AND r.type = 'command.started') AS commands,
  (SELECT COUNT(*) FROM records r WHERE r.session_id = s.session_id) AS records`;

/** `*` in a filter value matches any run of characters; everything else is literal. */
function like(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}

/**
 * Read-only queries over the embedded log for people looking for sessions: filters on the run's
 * identity and text search over command text. Its own connection, so readers never block the writer.
 */
export class SessionSearch {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file, { readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 5000');
  }

  find(q: SessionQuery): SessionRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const claim = (path: string, value: string | undefined) => {
      if (!value) return;
      where.push(`json_extract(s.context, '${path}') LIKE ? ESCAPE '\\'`);
      args.push(like(value));
    };
    claim('$.identity.ci.repository', q.repository);
    claim('$.identity.ci.actor', q.actor);
    claim('$.target.name', q.target);
    claim('$.protocol', q.protocol);
    if (q.run) {
      const [run, attempt] = q.run.split('/');
      claim('$.identity.ci.runId', run);
      claim('$.identity.ci.runAttempt', attempt);
    }
    if (q.from) {
      where.push('s.started_at >= ?');
      args.push(q.from);
    }
    if (q.to) {
      where.push('s.started_at <= ?');
      args.push(q.to);
    }
    if (q.q) {
      where.push(`EXISTS (SELECT 1 FROM records c WHERE c.session_id = s.session_id AND c.type = 'command.started' AND json_extract(c.data, '$.text') LIKE ? ESCAPE '\\')`);
      args.push(`%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    const sql = `SELECT ${COLUMNS} FROM sessions s ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.started_at DESC, s.session_id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit ?? 100) as RawRow[]).map(toRow);
  }

  get(sessionId: string): SessionRow | null {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM sessions s WHERE s.session_id = ?`).get(sessionId) as RawRow | undefined;
    return row ? toRow(row) : null;
  }

  close(): void {
    this.db.close();
  }
}

interface RawRow {
  session_id: string;
  context: string;
  started_at: string;
  ended_at: string | null;
  end_reason: string | null;
  commands: number;
  records: number;
}

function toRow(r: RawRow): SessionRow {
  return { sessionId: r.session_id, context: JSON.parse(r.context) as SessionContext, startedAt: r.started_at, endedAt: r.ended_at, endReason: r.end_reason, commands: r.commands, records: r.records };
}
