// The statement classifier (and the target catalogue, as the gateway uses them) checked against PostgreSQL itself:
// each statement of the corpus runs on a scratch database in a transaction that is rolled back, and what it really
// did (rows, sequences, catalog, user functions, settings, role) must fit the rights it was judged to need.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadClassifier } from '../../services/gateway/policy/statement-classifier.js';
import { fullCorpus } from '../differential/corpus.js';
import { runCorpus, type CorpusEntry, type Report } from '../differential/runner.js';
import { createScratchDatabase, dropScratchDatabase, type Server } from '../differential/scratch-database.js';

/** Statements per regression script: enough for >= 2,000 judged, few enough for about a minute. */
const PER_SOURCE = Number(process.env.TG_DIFFERENTIAL_PER_SOURCE ?? 7);

describe('classifier against PostgreSQL (differential)', () => {
  const server: Server = { host: process.env.TG_PG_HOST ?? '', port: Number(process.env.TG_PG_PORT), user: process.env.TG_PG_SUPERUSER ?? '', password: process.env.TG_PG_SUPERPASSWORD ?? '' };
  let report: Report;
  let connection: Awaited<ReturnType<typeof createScratchDatabase>>;

  before(async () => {
    assert.ok(server.host, 'TG_PG_* must be set: start tests/services/postgres.sh and load its postgres.env');
    await loadClassifier();
    connection = await createScratchDatabase(server);
    report = await runCorpus(connection, fullCorpus(PER_SOURCE), { statementTimeoutMs: 2000 });
  });

  after(async () => {
    if (server.host) await dropScratchDatabase(server);
  });

  it('judges at least 2,000 statements, skipping only for a named reason', () => {
    assert.ok(report.judged >= 2000, `judged ${report.judged}; skipped ${JSON.stringify(report.skipped)}`);
    const harness = Object.entries(report.skipped).filter(([reason]) => reason.startsWith('harness'));
    assert.ok(harness.reduce((n, [, c]) => n + c, 0) <= report.judged / 100, `the harness itself failed too often: ${JSON.stringify(report.skipped)}`);
  });

  it('finds no statement that did more than the rights it was judged to need', () => {
    const shown = report.findings.slice(0, 10).map((f) => `${f.source}: ${f.sql.slice(0, 200)}\n  needs ${f.needs.join(', ') || 'nothing'}; ${f.excess.join('; ')}`);
    assert.equal(report.findings.length, 0, `under-classified:\n${shown.join('\n')}`);
  });

  it('catches each kind of effect when a statement is judged to need only read', async () => {
    const probe: CorpusEntry[] = [
      'create table probe_t (id int)',
      'create sequence probe_s',
      'create function probe_f() returns int language plpgsql as $$ begin return 1; end $$',
      'insert into probe_t values (1)',
      "select nextval('probe_s')",
      'set work_mem = 12345',
      'create table probe_u (id int)',
      'select probe_f()',
    ].map((sql) => ({ source: 'probe', sql }));
    // Judged to need only 'read' (the setup statements 'ddl'): every effect of the others must be reported.
    const lied = await runCorpus(connection, probe, { needsOf: (sql) => (/^create (table probe_t|sequence|function)/.test(sql) ? ['ddl'] : ['read']) });
    const seen = lied.findings.map((f) => `${f.sql.split(' ')[0]} -> ${f.excess.map((e) => e.replace(/:.*/, '').replace(/ = .* without/, ' without')).join('; ')}`);
    assert.deepEqual(seen, [
      "insert -> wrote rows without 'write'",
      "select -> advanced sequences without 'write'",
      "set -> set work_mem without 'session'",
      "create -> changed the catalog without 'ddl'",
      "select -> ran user functions without 'function'",
    ]);
  });

  it('sees effects: the corpus writes, changes the catalog and runs code under the rights that allow it', () => {
    for (const c of ['read', 'write', 'ddl', 'admin', 'function', 'session']) assert.ok((report.byClass[c] ?? 0) > 0, `no statement needed '${c}'`);
    assert.ok(report.refused < report.judged, 'PostgreSQL refused every statement: the scratch database is not usable');
  });
});
