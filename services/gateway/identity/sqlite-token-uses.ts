import Database from 'better-sqlite3';
import type { TokenUse, TokenUseStore } from './token-uses.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS token_uses (
  key TEXT PRIMARY KEY,
  token_id TEXT NOT NULL,
  client TEXT NOT NULL,
  issuer TEXT NOT NULL,
  exp INTEGER NOT NULL,
  session_id TEXT NOT NULL,
  instance TEXT NOT NULL,
  at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS token_uses_exp ON token_uses (exp);
`;

interface Row {
  token_id: string;
  client: string;
  issuer: string;
  exp: number;
  session_id: string;
  instance: string;
  at: string;
}

/**
 * First uses of tokens in a table of the embedded log's SQLite file, so a restarted gateway still knows
 * them. The insert is one statement: two sessions racing for the first use get one answer.
 */
export class SqliteTokenUses implements TokenUseStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;
  private readonly expire: Database.Statement;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.insert = this.db.prepare('INSERT OR IGNORE INTO token_uses (key, token_id, client, issuer, exp, session_id, instance, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.select = this.db.prepare('SELECT token_id, client, issuer, exp, session_id, instance, at FROM token_uses WHERE key = ?');
    this.expire = this.db.prepare('DELETE FROM token_uses WHERE exp < ?');
  }

  claim(key: string, use: TokenUse): Promise<TokenUse> {
    this.insert.run(key, use.tokenId, use.client, use.issuer, use.exp, use.sessionId, use.instance, use.at);
    const row = this.select.get(key) as Row;
    return Promise.resolve({ tokenId: row.token_id, client: row.client, issuer: row.issuer, exp: row.exp, sessionId: row.session_id, instance: row.instance, at: row.at });
  }

  prune(nowSeconds: number): void {
    this.expire.run(nowSeconds);
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}
