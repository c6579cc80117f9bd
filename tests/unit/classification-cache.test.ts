// Statements that differ only in the literals they compare share one parse; a shared classification must always be
// the one the parser gives each of them, proven here over the differential corpus (PostgreSQL's regression SQL, our
// seeds, the generated statements) with every such literal swapped for values chosen to change a class if any could.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ClassificationCache } from '../../services/gateway/policy/classification-cache.js';
import { literalShape } from '../../services/gateway/policy/literal-shape.js';
import { classifyStatement, loadClassifier } from '../../services/gateway/policy/statement-classifier.js';
import { fullCorpus } from '../differential/corpus.js';

before(loadClassifier);

describe('literalShape', () => {
  it('replaces the integers and strings a statement compares', () => {
    assert.equal(literalShape('SELECT abalance FROM pgbench_accounts WHERE aid = 12345;'), 'SELECT abalance FROM pgbench_accounts WHERE aid = 0;');
    assert.equal(literalShape("select * from t where name='it''s' and n >= 7 and m<>8"), "select * from t where name='' and n >= 0 and m<>0");
    assert.equal(literalShape("update t1 set v = 'x' where id = 3"), "update t1 set v = '' where id = 0");
  });

  it('keeps literals outside comparisons, and those whose token could change', () => {
    for (const sql of [
      'select x::float(10) from t where id = 1', // float(p): p picks float4 or float8
      'select * from t where id in (1, 2) and k = 1',
      'select * from t where a = 1.5 and b = 1e5 and c = 0x1f and d = 1_000 and e = 1234567890 and k = 1',
    ]) {
      const shape = literalShape(sql)!;
      assert.ok(shape.endsWith('= 0'), `${sql} -> ${shape}`);
      assert.equal(shape.replace(/= 0$/, ''), sql.replace(/= 1$/, ''));
    }
    assert.equal(literalShape('select * from t2 where "x = 5" = 1 and t2.c3 = 1'), 'select * from t2 where "x = 5" = 0 and t2.c3 = 0');
  });

  it('gives no shape where its scan could differ from PostgreSQL\'s', () => {
    for (const sql of [
      "select * from t where a = E'\\''",
      "select * from t where a = 'x\\'",
      'select * from t where a = $1',
      'select $$x$$ from t where a = 1',
      'select * from t where a = 1 -- 2',
      'select * from t where a = 1 /* 2 */',
      "select * from t where a = U&'d!0061t' uescape '!'",
      'select * from U&"d!0061t" where a = 1',
      "select * from t where a = x'1f'",
      "select * from t where a = 'open",
      'select * from t where a = 1 and b = "open',
      'select * from t where a = 1\0',
      'select * from t',
      'select 1 limit 10',
    ]) assert.equal(literalShape(sql), null, sql);
  });
});

/** Values that would change a class if a classification depended on them: read-only switches, roles, float bits. */
const NUMBERS = ['0', '1', '54', '999999999'];
const STRINGS = ["''", "'on'", "'off'", "'role'", "'true'", "'0'", "'x''y'", "'pg_catalog.pg_sleep'"];
const COMPARED = /([=<>]\s*)(\d{1,9}(?![\w$.])|'(?:[^']|'')*')/g;

/** The statement with every compared literal swapped for the `k`-th value of its kind. */
function variant(sql: string, k: number): string {
  return sql.replace(COMPARED, (_m, op: string, lit: string) => op + (lit.startsWith("'") ? STRINGS[k % STRINGS.length]! : NUMBERS[k % NUMBERS.length]!));
}

/** Statements whose classes hang on a compared value: the cache must keep each apart. */
const VALUE_SENSITIVE = [
  "set default_transaction_read_only = 'on'",
  'set default_transaction_read_only = 1',
  "set role = 'x'",
  "select set_config('role', 'x', false) where 1 = 1",
  "select * from t where a = set_config('default_transaction_read_only', 'on', false)",
  "begin transaction read only; set transaction_read_only = 'on'",
  "set session characteristics as transaction read only; select 1 where 'a' = 'a'",
  "explain (analyze 'off') delete from t where id = 1",
  'explain (analyze 0) delete from t where id = 1',
  "create table t (x float(10)) with (fillfactor = 10); select * from t where x = 1",
  "select * from t where a = 'x' for update",
  "alter system set work_mem = '4MB'",
];

describe('ClassificationCache', () => {
  it('classifies every statement as the parser does, whatever the compared literals hold', () => {
    const corpus = [...fullCorpus().map((e) => e.sql), ...VALUE_SENSITIVE];
    let shared = 0;
    let shaped = 0;
    const cache = new ClassificationCache();
    for (const sql of corpus) {
      const shape = literalShape(sql);
      if (shape === null) continue;
      shaped++;
      assert.deepEqual(cache.classify(sql), classifyStatement(sql), sql);
      for (let k = 0; k < Math.max(NUMBERS.length, STRINGS.length); k++) {
        const other = variant(sql, k);
        if (other === sql || literalShape(other) !== shape) continue;
        shared++;
        assert.deepEqual(cache.classify(other), classifyStatement(other), `${other}\n(shares its shape with: ${sql})`);
      }
    }
    // The proof covers a real share of the corpus, not a handful of statements.
    assert.ok(shaped >= 500 && shared >= 2000, `only ${shaped} statements with a shape and ${shared} variants checked`);
  });

  it('parses a statement with new literals once per shape', () => {
    const cache = new ClassificationCache();
    const first = cache.classify('SELECT abalance FROM pgbench_accounts WHERE aid = 1;');
    assert.equal(cache.classify('SELECT abalance FROM pgbench_accounts WHERE aid = 2;'), first);
    assert.deepEqual(first.classes, ['read']);
  });

  it('keeps a classification that read a value to its exact text', () => {
    const cache = new ClassificationCache();
    assert.deepEqual(cache.classify("set default_transaction_read_only = 'on'").classes, ['session']);
    assert.deepEqual(cache.classify("set default_transaction_read_only = 'off'").classes, ['write', 'session']);
    assert.deepEqual(cache.classify("explain (analyze 'off') delete from t where id = 1").classes, ['read']);
    assert.deepEqual(cache.classify("explain (analyze 'on') delete from t where id = 1").classes, ['read', 'write']);
  });
});
