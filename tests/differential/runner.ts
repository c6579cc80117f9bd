// Runs each statement of a corpus on the scratch database the way the gateway would judge it, then asks
// PostgreSQL what it really did. Statements of one source share a transaction (later ones need the tables
// earlier ones made); each runs in its own savepoint, and the whole is rolled back at the end of the source.
import pg from 'pg';
import type { JobIdentity } from '../../events/index.js';
import { PolicyGate } from '../../services/gateway/policy/policy-gate.js';
import { SessionPolicy } from '../../services/gateway/policy/session-policy.js';
import { classifyStatement, type StatementClass } from '../../services/gateway/policy/statement-classifier.js';
import { effects, excess } from './judge.js';
import { snapshot } from './observer.js';

export interface CorpusEntry {
  source: string;
  sql: string;
}

export interface Finding {
  source: string;
  sql: string;
  needs: StatementClass[];
  excess: string[];
  error?: string;
}

export interface Report {
  /** Statements run on PostgreSQL and judged (including those PostgreSQL refused with an error). */
  judged: number;
  /** Of those, refused by PostgreSQL (what they began still counts: counters survive the rollback). */
  refused: number;
  skipped: Record<string, number>;
  /** Statements needing each class (a statement counts once for every class it needs). */
  byClass: Record<string, number>;
  findings: Finding[];
  seconds: number;
}

export interface RunOptions {
  statementTimeoutMs?: number;
  /** Called every 500 statements with how many are done. */
  progress?: (done: number) => void;
  /** Replaces the gateway's judgement (to show that each kind of effect is caught). */
  needsOf?: (sql: string) => StatementClass[] | undefined;
}

/** Every right but the two that let a statement run code the gateway cannot see: the catalogue then judges names. */
const GRANT = { rights: ['read', 'write', 'ddl', 'admin', 'transaction', 'session'], matched: [{ rule: 'differential', rights: ['read', 'write', 'ddl', 'admin', 'transaction', 'session'] }] };
const IDENTITY = { issuer: 'differential', subject: 'differential', ci: {} } as unknown as JobIdentity;

/** Classes under which a catalog change is within the statement's rights. */
const CATALOG_CLASSES: readonly StatementClass[] = ['ddl', 'admin', 'function', 'code'];

/** Why a statement is not run, decided before it reaches PostgreSQL. */
function skipReason(sql: string): string | undefined {
  const c = classifyStatement(sql);
  if (c.parseError) return 'does not parse';
  for (const s of c.statements) {
    if (s.node === 'TransactionStmt') return 'transaction control (the check runs inside one transaction)';
    if (s.node === 'CopyStmt' && /\b(stdin|stdout)\b/i.test(sql)) return 'COPY through the client';
  }
  return undefined;
}

export async function runCorpus(connection: pg.ClientConfig, corpus: readonly CorpusEntry[], options: RunOptions = {}): Promise<Report> {
  const started = process.hrtime.bigint();
  const run = new Run(connection, options.statementTimeoutMs ?? 1000, options.needsOf);
  const bySource = new Map<string, CorpusEntry[]>();
  for (const e of corpus) bySource.set(e.source, [...(bySource.get(e.source) ?? []), e]);
  let done = 0;
  try {
    await run.open();
    for (const [source, entries] of bySource) {
      await run.startSource();
      for (const { sql } of entries) {
        if (++done % 500 === 0) options.progress?.(done);
        await run.judge(source, sql);
      }
      await run.endSource();
    }
  } finally {
    await run.close();
  }
  run.report.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return run.report;
}

/** One connection, one source at a time: the gate and session policy of a gateway session, and the observer. */
class Run {
  readonly report: Report = { judged: 0, refused: 0, skipped: {}, byClass: {}, findings: [], seconds: 0 };
  private client!: pg.Client;
  private gate = new PolicyGate();
  private session = new SessionPolicy(true);

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly timeout: number,
    private readonly needsOf?: (sql: string) => StatementClass[] | undefined,
  ) {}

  async open(): Promise<void> {
    this.client = await connect(this.connection, this.timeout);
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }

  async startSource(): Promise<void> {
    this.gate = new PolicyGate();
    this.session = new SessionPolicy(true);
    this.session.attach(async (sql) => {
      // In its own savepoint, so that a catalogue read that fails (a timeout) leaves the transaction usable.
      await this.client.query('savepoint catalogue');
      try {
        const { rows } = await this.client.query<string[]>({ text: sql, rowMode: 'array' });
        await this.client.query('release savepoint catalogue');
        return rows;
      } catch {
        await this.client.query('rollback to savepoint catalogue');
        return null;
      }
    });
    await this.client.query('begin');
  }

  async endSource(): Promise<void> {
    await this.client.query('rollback');
  }

  private skip(reason: string): void {
    this.report.skipped[reason] = (this.report.skipped[reason] ?? 0) + 1;
  }

  async judge(source: string, sql: string): Promise<void> {
    const reason = skipReason(sql);
    if (reason) return this.skip(reason);
    try {
      await this.judgeRun(source, sql);
    } catch (err) {
      // The harness's own query failed (a timeout on a loaded machine): not judged, and counted as such.
      this.skip(`harness query failed (${(err as { code?: string }).code ?? 'no code'})`);
      await this.client.query('rollback to savepoint differential').catch(() => undefined);
    }
  }

  private async judgeRun(source: string, sql: string): Promise<void> {
    const client = this.client;
    await client.query('savepoint differential'); // the gate may read the catalogue first: a failure stays inside
    const context = { sessionId: 'differential', target: 'scratch', identity: IDENTITY, grant: GRANT, session: this.session };
    const verdict = await this.gate.check({ protocol: 'simple', text: sql }, context);
    const needs = this.needsOf?.(sql) ?? ((verdict.decision?.needs ?? ['admin']) as StatementClass[]);
    if (verdict.action === 'deny') this.session.forwarded(needs); // the gateway would refuse it; here it runs all the same
    const { snapshot: before } = await snapshot(client);
    let error: string | undefined;
    let code: string | undefined;
    try {
      await client.query(sql);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      error = `${e.code ?? ''} ${e.message ?? String(err)}`;
      code = e.code;
    }
    if (code === '57P01' || !isAlive(client)) {
      // The connection ended (a terminated backend): the source goes on in a new transaction on a new one.
      this.skip('ended the connection');
      await this.close();
      await this.open();
      await this.client.query('begin');
      this.session.catalogue.invalidate();
      return;
    }
    if (code === '25001') {
      // cannot run inside a transaction block: VACUUM, CREATE DATABASE, CREATE INDEX CONCURRENTLY ...
      await client.query('rollback to savepoint differential');
      return this.skip('cannot run inside a transaction block');
    }
    // Catalog rows are read only where a change would be over the statement's rights (the scan is the slow part).
    const since = needs.some((c) => CATALOG_CLASSES.includes(c)) ? undefined : before.nextXid;
    const observed = error === undefined
      ? await snapshot(client, since, '', 'release savepoint differential')
      : await snapshot(client, since, 'rollback to savepoint differential;');
    await restoreHarnessSettings(client, observed.snapshot.settings, this.timeout);
    this.report.judged++;
    if (error !== undefined) this.report.refused++;
    for (const c of needs) this.report.byClass[c] = (this.report.byClass[c] ?? 0) + 1;
    const over = excess(needs, effects(before, observed.snapshot, observed.catalog));
    if (over.length) this.report.findings.push({ source, sql, needs, excess: over, ...(error ? { error } : {}) });
  }
}

async function connect(connection: pg.ClientConfig, timeout: number): Promise<pg.Client> {
  const client = new pg.Client({ ...connection, statement_timeout: timeout, lock_timeout: Math.ceil(timeout / 2) });
  client.on('error', () => undefined); // a terminated backend is handled where the query fails
  await client.connect();
  return client;
}

function isAlive(client: pg.Client): boolean {
  return !(client as unknown as { _ending?: boolean; _queryable?: boolean })._ending && (client as unknown as { _queryable?: boolean })._queryable !== false;
}

/** A statement may RESET ALL or change the encoding; the harness needs its timeouts and UTF-8 back. */
async function restoreHarnessSettings(client: pg.Client, settings: Record<string, string>, timeout: number): Promise<void> {
  if (settings.statement_timeout !== String(timeout) || settings.client_encoding !== 'UTF8' || settings.lock_timeout !== String(Math.ceil(timeout / 2))) {
    await client.query(`set statement_timeout = ${timeout}; set lock_timeout = ${Math.ceil(timeout / 2)}; set client_encoding = 'UTF8'`);
  }
}
