import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { classifyStatement, loadClassifier } from '../../services/gateway/policy/statement-classifier.js';
import { TargetCatalogue } from '../../services/gateway/policy/target-catalogue.js';

before(loadClassifier);

/** What CATALOGUE_QUERY returns for a target with user code of each kind. */
const ROWS = [
  ['function', 'public', 'lower'],
  ['function', 'app', 'purge'],
  ['attribute', 'app', 'purge'],
  ['function', 'app', 'status'],
  ['operator', 'public', '==='],
  ['type', 'public', 'positive'],
  ['read', 'app', 'wiping'],
  ['write', 'app', 'wiping'],
  ['write', 'public', 'audited'],
  ['read', 'pg_temp_3', 'scratch'],
];

function hits(catalogue: TargetCatalogue, sql: string): string[] {
  return classifyStatement(sql).statements.flatMap((s) => catalogue.userCode(s.references));
}

describe('TargetCatalogue', () => {
  const catalogue = new TargetCatalogue();
  before(() => catalogue.load(ROWS));

  it('names user code a statement reaches without calling it by a qualified name', () => {
    assert.deepEqual(hits(catalogue, 'select lower(1)'), ['function lower']);
    assert.deepEqual(hits(catalogue, 'select t.purge from items t'), ['function purge (attribute notation)']);
    assert.deepEqual(hits(catalogue, 'select (t).purge from items t'), ['function purge (attribute notation)']);
    assert.deepEqual(hits(catalogue, 'select 1 === 2'), ['operator ===']);
    assert.deepEqual(hits(catalogue, "select '1'::positive"), ['type positive']);
    assert.deepEqual(hits(catalogue, 'select * from wiping'), ['relation wiping']);
    assert.deepEqual(hits(catalogue, 'select * from app.wiping'), ['relation app.wiping']);
    assert.deepEqual(hits(catalogue, 'select * from pg_temp.scratch'), ['relation pg_temp.scratch']);
  });

  it('judges a relation by how it is used: a table with triggers is user code when written, not when read', () => {
    assert.deepEqual(hits(catalogue, 'select * from audited'), []);
    assert.deepEqual(hits(catalogue, 'insert into audited values (1)'), ['relation audited']);
    assert.deepEqual(hits(catalogue, 'copy audited from stdin'), ['relation audited']);
    assert.deepEqual(hits(catalogue, 'truncate audited'), ['relation audited']);
  });

  it('lets built-ins, names of other schemas and columns named like a function of several arguments pass', () => {
    assert.deepEqual(hits(catalogue, 'select o.status from orders o'), []);
    assert.deepEqual(hits(catalogue, "select upper('x'), pg_catalog.lower('x'), 1 = 2 from items"), []);
    assert.deepEqual(hits(catalogue, 'select * from other.wiping'), []);
  });

  it('is stale until loaded and after an invalidation', () => {
    const fresh = new TargetCatalogue();
    assert.equal(fresh.stale, true);
    fresh.load([]);
    assert.equal(fresh.stale, false);
    assert.equal(fresh.usable, true);
    fresh.invalidate();
    assert.equal(fresh.stale, true);
    assert.equal(fresh.usable, false, 'after DDL in the session it judges nothing until read again');
  });
});
