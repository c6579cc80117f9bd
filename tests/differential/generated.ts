// Generated statements: every way we know to wrap a write, a sequence step or a setting change in a shape
// that looks like something else, and objects (views, domains, policies) that run built-ins with side effects.
import type { CorpusEntry } from './runner.js';

const FIXTURE = [
  'create table gen_t (id int primary key, v text)',
  "insert into gen_t select g, 'v' || g from generate_series(1, 5) g",
  'create table gen_u (id int, v text)',
  "insert into gen_u select g, 'u' || g from generate_series(1, 5) g",
  'create sequence gen_s',
];

/** Statements that change something, each wrapped below in shapes that hide it. */
const ACTIONS = [
  "update gen_t set v = 'x' where id = 1 returning id",
  'delete from gen_t where id = 2 returning id',
  "insert into gen_u values (9, 'n') returning id",
  "merge into gen_u u using gen_t t on u.id = t.id when matched then update set v = 'm'",
];
const WRAPPERS = [
  (a: string) => `with x as (${a}) select * from x`,
  (a: string) => `select * from (with x as (${a}) select 1 from x) s`,
  (a: string) => `select exists (with x as (${a}) select 1 from x)`,
  (a: string) => `explain analyze ${a}`,
  (a: string) => `explain (analyze, costs off) ${a}`,
  (a: string) => `explain (analyze false) ${a}`,
  (a: string) => `prepare gen_p as ${a}; execute gen_p; deallocate gen_p`,
  (a: string) => `select 1; ${a}`,
  (a: string) => `/* select */ ${a}`,
  (a: string) => `create temp table gen_tmp as with x as (${a}) select * from x`,
  (a: string) => `declare gen_c cursor for with x as (${a}) select * from x`,
];
const WRAPPED: string[] = ACTIONS.flatMap((a) => WRAPPERS.filter((_, i) => i < 3 || !a.startsWith('merge') || i > 6).map((w) => w(a)));

/** Built-ins with side effects, called directly and through objects the catalogue may not see through. */
const SIDE_EFFECTS = [
  "nextval('gen_s')",
  "setval('gen_s', 100)",
  "set_config('datestyle', 'German', false)",
  "set_config('application_name', 'x', false)",
  "set_config('work_mem', '8MB', true)",
  "pg_advisory_xact_lock(42)",
];
const SELECTS = [
  'select * from gen_t for update',
  'select * from gen_t for share',
  'select * from gen_t for no key update skip locked',
  'select 1 from gen_t, lateral (select * from gen_u for key share) u',
  'select * into temp gen_into from gen_t',
  'lock table gen_t in access share mode',
  'truncate gen_u',
  'refresh materialized view gen_mv',
  "comment on table gen_t is 'x'",
  'analyze gen_t',
  'reset all',
  'discard temp',
  'set local work_mem = 4096',
  'set search_path = public, pg_catalog',
  "select set_config(current_setting('application_name'), 'x', false)",
  "select current_setting('search_path')",
  'show all',
  'table gen_t',
  'values ((select count(*) from gen_t))',
];

export const GENERATED: CorpusEntry[] = [
  ...[...FIXTURE, 'create materialized view gen_mv as select * from gen_t', ...WRAPPED, ...SELECTS].map((sql) => ({ source: 'generated/wrappers', sql })),
  ...[
    ...FIXTURE,
    ...SIDE_EFFECTS.flatMap((e, i) => [
      `select ${e}`,
      `select * from gen_t where id = 1 and (${e}) is not null`,
      `create view gen_v${i} as select ${e} as r`,
      `select * from gen_v${i}`,
      `create view gen_w${i} as select * from gen_v${i}`,
      `select * from gen_w${i}`,
      `create domain gen_d${i} as int check ((${e}) is not null)`,
      `select 1::gen_d${i}`,
      `select cast('2' as gen_d${i})`,
      `create table gen_def${i} (id int, d text default (${e})::text)`,
      `insert into gen_def${i} (id) values (1)`,
      `create table gen_pol${i} (id int)`,
      `insert into gen_pol${i} values (1)`,
      `alter table gen_pol${i} enable row level security, force row level security`,
      `create policy gen_pol${i} on gen_pol${i} using ((${e}) is not null)`,
      `select * from gen_pol${i}`,
    ]),
  ].map((sql) => ({ source: 'generated/side-effects-through-objects', sql })),
];
