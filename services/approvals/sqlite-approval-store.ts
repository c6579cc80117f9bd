import { EventEmitter } from 'node:events';
import Database from 'better-sqlite3';
import type { Approval, ApprovalState, Review } from './approval.js';
import type { ApprovalStore } from './approval-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS approvals (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  instance TEXT NOT NULL,
  created_at TEXT NOT NULL,
  body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS approvals_state ON approvals (state, created_at);
CREATE TABLE IF NOT EXISTS approval_reviews (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  approval_id TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS approval_reviews_id ON approval_reviews (approval_id, n);
`;

/**
 * Approvals in tables of the embedded log's SQLite file, shared by the gateway and a reviewer in another
 * process (WAL); the gateway reads reviews while it holds something. A review is stored only while its
 * approval is pending, in one statement, so a late review never races the decision.
 */
export class SqliteApprovalStore implements ApprovalStore {
  private readonly db: Database.Database;
  private readonly events = new EventEmitter();
  private readonly q: Record<'insert' | 'update' | 'get' | 'review' | 'reviews' | 'pendingOf' | 'listAll' | 'listState' | 'granted', Database.Statement>;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.q = {
      insert: this.db.prepare('INSERT INTO approvals (id, state, instance, created_at, body) VALUES (?, ?, ?, ?, ?)'),
      update: this.db.prepare("UPDATE approvals SET state = ?, body = ? WHERE id = ? AND state = 'pending'"),
      get: this.db.prepare('SELECT body FROM approvals WHERE id = ?'),
      review: this.db.prepare("INSERT INTO approval_reviews (approval_id, body) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM approvals WHERE id = ? AND state = 'pending')"),
      reviews: this.db.prepare('SELECT body FROM approval_reviews WHERE approval_id = ? ORDER BY n'),
      pendingOf: this.db.prepare("SELECT body FROM approvals WHERE instance = ? AND state = 'pending'"),
      listAll: this.db.prepare('SELECT body FROM approvals ORDER BY created_at DESC LIMIT ?'),
      listState: this.db.prepare('SELECT body FROM approvals WHERE state = ? ORDER BY created_at DESC LIMIT ?'),
      granted: this.db.prepare(
        "SELECT body FROM approvals WHERE state = 'approved' AND json_extract(body, '$.kind') IN ('statement-set', 'window') AND json_extract(body, '$.target') = ? AND json_extract(body, '$.run.runId') = ? ORDER BY created_at DESC LIMIT 100",
      ),
    };
  }

  open(a: Approval): Promise<void> {
    this.q.insert.run(a.id, a.state, a.instance, a.createdAt, JSON.stringify(a));
    return Promise.resolve();
  }

  settle(id: string, state: Exclude<ApprovalState, 'pending'>, deciders: string[], reason?: string): Promise<void> {
    const a = this.read(id);
    if (a && a.state === 'pending') {
      const settled: Approval = { ...a, state, deciders, decidedAt: new Date().toISOString(), ...(reason ? { reason } : {}) };
      this.q.update.run(state, JSON.stringify(settled), id);
    }
    return Promise.resolve();
  }

  review(r: Review): Promise<'ok' | 'decided' | 'unknown'> {
    const stored = this.q.review.run(r.approvalId, JSON.stringify(r), r.approvalId).changes === 1;
    if (stored) this.events.emit('change', r.approvalId);
    return Promise.resolve(stored ? 'ok' : this.read(r.approvalId) ? 'decided' : 'unknown');
  }

  reviews(id: string): Promise<Review[]> {
    return Promise.resolve((this.q.reviews.all(id) as { body: string }[]).map((row) => JSON.parse(row.body) as Review));
  }

  get(id: string): Promise<Approval | null> {
    return Promise.resolve(this.read(id));
  }

  list(o: { state?: ApprovalState; limit?: number } = {}): Promise<Approval[]> {
    const limit = o.limit ?? 200;
    const rows = (o.state ? this.q.listState.all(o.state, limit) : this.q.listAll.all(limit)) as { body: string }[];
    return Promise.resolve(rows.map((row) => JSON.parse(row.body) as Approval));
  }

  granted(target: string, runId: string): Promise<Approval[]> {
    return Promise.resolve((this.q.granted.all(target, runId) as { body: string }[]).map((row) => JSON.parse(row.body) as Approval));
  }

  async abandonInstance(instance: string): Promise<string[]> {
    const ids = (this.q.pendingOf.all(instance) as { body: string }[]).map((row) => (JSON.parse(row.body) as Approval).id);
    for (const id of ids) await this.settle(id, 'abandoned', [], 'the gateway restarted while it was held');
    return ids;
  }

  onChange(listener: (approvalId: string) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  close(): Promise<void> {
    this.events.removeAllListeners();
    this.db.close();
    return Promise.resolve();
  }

  private read(id: string): Approval | null {
    const row = this.q.get.get(id) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as Approval) : null;
  }
}
