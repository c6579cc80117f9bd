// The one query that reads, from the target's own catalogue, every name that can bind a statement to user
// code. Names are listed in every schema, not along a search_path: a session can change its search_path (even
// from inside a function) where the gateway cannot see it, so a name that is user code anywhere counts.
// Objects of the system (oid below FirstNormalObjectId, 16384) are built-ins; everything else is user code.

/** Row kinds the query returns, with schema and name. */
export type CatalogueRowKind = 'function' | 'attribute' | 'operator' | 'type' | 'read' | 'write';

const USER = 16384;

/**
 * Volatile built-ins that only read: every other volatile built-in (nextval, setval, set_config, pg_notify, advisory
 * locks, large objects, ...) acts when a view, domain check, policy or default calls it, and pg_depend does not record
 * calls of built-ins (they are pinned), so their calls are found by oid in the stored expression trees.
 */
const HARMLESS_VOLATILE = ['random', 'random_normal', 'clock_timestamp', 'timeofday', 'gen_random_uuid'];
/** What a statement with `write` may do anyway: a default or check that steps a sequence (serial columns) is plain writing. */
const SEQUENCE_STEPS = ['nextval', 'setval'];
const sqlList = (names: string[]) => names.map((n) => `'${n}'`).join(', ');

export const CATALOGUE_QUERY = `
with recursive
side_effect(calls, write_calls) as (
  select ':funcid (' || pg_catalog.string_agg(p.oid::text, '|') || ') ',
         ':funcid (' || pg_catalog.string_agg(p.oid::text, '|') filter (where p.proname not in (${sqlList(SEQUENCE_STEPS)})) || ') '
  from pg_catalog.pg_proc p
  where p.oid < ${USER} and p.provolatile = 'v' and p.proname not in (${sqlList(HARMLESS_VOLATILE)})
),
code_dep as (
  select d.classid, d.objid from pg_catalog.pg_depend d
  where d.refclassid in ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_operator'::pg_catalog.regclass) and d.refobjid >= ${USER}
),
type_edge(inner_type, outer_type) as (
  select t.typbasetype, t.oid from pg_catalog.pg_type t where t.typbasetype >= ${USER}
  union all select t.typelem, t.oid from pg_catalog.pg_type t where t.typelem >= ${USER}
  union all select a.atttypid, c.reltype from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid
    where a.atttypid >= ${USER} and not a.attisdropped
),
unsafe_type(oid) as (
  select c.contypid from pg_catalog.pg_constraint c join code_dep d on d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass and d.objid = c.oid
  where c.contypid <> 0
  union
  select x.t from pg_catalog.pg_cast k, lateral (values (k.castsource), (k.casttarget)) as x(t) where k.castfunc >= ${USER} and x.t >= ${USER}
  union
  select c.contypid from pg_catalog.pg_constraint c, side_effect s where c.contypid <> 0 and c.conbin::text ~ s.calls
  union
  select e.outer_type from unsafe_type u join type_edge e on e.inner_type = u.oid
),
view_edge(used, viewer) as (
  select d.refobjid, r.ev_class from pg_catalog.pg_depend d join pg_catalog.pg_rewrite r on r.oid = d.objid
  where d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass and d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass and d.refobjid <> r.ev_class
),
unsafe_read(oid) as (
  select r.ev_class from pg_catalog.pg_rewrite r
  where exists (select 1 from code_dep d where d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass and d.objid = r.oid)
     or exists (select 1 from pg_catalog.pg_depend d where d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass and d.objid = r.oid
                and d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass and d.refobjid in (select oid from unsafe_type))
  union
  -- a value of a type with a cast through a user function may be cast wherever it is read
  select a.attrelid from pg_catalog.pg_attribute a join pg_catalog.pg_cast k on k.castsource = a.atttypid
  where k.castfunc >= ${USER} and not a.attisdropped and a.attnum > 0
  union
  select c.oid from pg_catalog.pg_class c join pg_catalog.pg_cast k on k.castsource = c.reltype where k.castfunc >= ${USER}
  union
  select p.polrelid from pg_catalog.pg_policy p
  where exists (select 1 from code_dep d where d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass and d.objid = p.oid)
  union
  select r.ev_class from pg_catalog.pg_rewrite r, side_effect s where r.oid >= ${USER} and r.ev_action::text ~ s.calls
  union
  select p.polrelid from pg_catalog.pg_policy p, side_effect s
  where coalesce(p.polqual::text, '') ~ s.calls or coalesce(p.polwithcheck::text, '') ~ s.calls
  union
  select e.viewer from unsafe_read u join view_edge e on e.used = u.oid
),
write_edge(changed, via) as (
  select used, viewer from view_edge
  union all select c.conrelid, c.confrelid from pg_catalog.pg_constraint c where c.contype = 'f'
  union all select i.inhrelid, i.inhparent from pg_catalog.pg_inherits i
),
unsafe_write(oid) as (
  select oid from unsafe_read
  union select t.tgrelid from pg_catalog.pg_trigger t where not t.tgisinternal
  union select r.ev_class from pg_catalog.pg_rewrite r where r.ev_type <> '1'
  union select a.attrelid from pg_catalog.pg_attribute a where not a.attisdropped and a.atttypid in (select oid from unsafe_type)
  union select ad.adrelid from pg_catalog.pg_attrdef ad
    where exists (select 1 from code_dep d where d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass and d.objid = ad.oid)
  union select ad.adrelid from pg_catalog.pg_attrdef ad, side_effect s where ad.adbin::text ~ s.write_calls
  union select c.conrelid from pg_catalog.pg_constraint c, side_effect s where c.conrelid <> 0 and c.conbin::text ~ s.write_calls
  union select c.conrelid from pg_catalog.pg_constraint c
    where c.conrelid <> 0 and exists (select 1 from code_dep d where d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass and d.objid = c.oid)
  union select i.indrelid from pg_catalog.pg_index i
    where exists (select 1 from code_dep d where d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass and d.objid = i.indexrelid)
  union
  select e.via from unsafe_write u join write_edge e on e.changed = u.oid
)
select 'function', n.nspname, p.proname from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace where p.oid >= ${USER}
union select 'attribute', n.nspname, p.proname from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  where p.oid >= ${USER} and p.pronargs >= 1 and p.pronargs - p.pronargdefaults <= 1
union select 'operator', n.nspname, o.oprname from pg_catalog.pg_operator o join pg_catalog.pg_namespace n on n.oid = o.oprnamespace where o.oid >= ${USER}
union select 'type', n.nspname, t.typname from unsafe_type u join pg_catalog.pg_type t on t.oid = u.oid join pg_catalog.pg_namespace n on n.oid = t.typnamespace
union select 'read', n.nspname, c.relname from unsafe_read u join pg_catalog.pg_class c on c.oid = u.oid join pg_catalog.pg_namespace n on n.oid = c.relnamespace
union select 'write', n.nspname, c.relname from unsafe_write u join pg_catalog.pg_class c on c.oid = u.oid join pg_catalog.pg_namespace n on n.oid = c.relnamespace
`;
