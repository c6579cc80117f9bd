// Views, domain checks, policies and defaults that call built-ins with side effects (nextval, set_config, ...):
// pg_depend does not record calls of built-ins, so the catalogue query finds them in the stored expressions.
// Found by the differential check (tests/differential): `select * from v` stepped a sequence with only 'read'.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { CATALOGUE_QUERY } from '../../services/gateway/policy/catalogue-query.js';
import { classifyStatement, loadClassifier } from '../../services/gateway/policy/statement-classifier.js';
import { TargetCatalogue } from '../../services/gateway/policy/target-catalogue.js';

describe('target catalogue: built-ins with side effects behind names', () => {
  const client = new pg.Client({ host: process.env.TG_PG_HOST, port: Number(process.env.TG_PG_PORT), user: process.env.TG_PG_SUPERUSER, password: process.env.TG_PG_SUPERPASSWORD, database: 'postgres' });
  const catalogue = new TargetCatalogue();

  before(async () => {
    await loadClassifier();
    await client.connect();
    await client.query('begin');
    await client.query(`
      create sequence se_s;
      create view se_steps as select nextval('se_s') as n;
      create view se_over as select * from se_steps;
      create view se_random as select random() as r, now() as t;
      create domain se_d as int check (nextval('se_s') > 0);
      create table se_serial (id serial, v text default 'x');
      create table se_setting (v text default set_config('datestyle', 'German', false));
      create table se_policed (id int);
      create policy se_p on se_policed using (set_config('application_name', 'x', false) is not null)`);
    catalogue.load((await client.query<string[]>({ text: CATALOGUE_QUERY, rowMode: 'array' })).rows);
  });

  after(async () => {
    await client.query('rollback').catch(() => undefined);
    await client.end();
  });

  const hits = (sql: string) => classifyStatement(sql).statements.flatMap((s) => catalogue.userCode(s.references));

  it('names views, domains and policies whose reading acts', () => {
    assert.deepEqual(hits('select * from se_steps'), ['relation se_steps']);
    assert.deepEqual(hits('select * from se_over'), ['relation se_over']);
    assert.deepEqual(hits('select 1::se_d'), ['type se_d']);
    assert.deepEqual(hits('select * from se_policed'), ['relation se_policed']);
    assert.deepEqual(hits("insert into se_setting values ('y')"), ['relation se_setting']);
  });

  it('leaves alone what only reads, and serial columns (a write steps its sequence anyway)', () => {
    assert.deepEqual(hits('select * from se_random'), []);
    assert.deepEqual(hits("insert into se_serial (v) values ('y')"), []);
  });
});
