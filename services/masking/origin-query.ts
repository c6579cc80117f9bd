// The one query that tells, on the target, which columns the masking rules cover: the named tables' and views'
// columns, the partitions and inheritance children under them (pg_inherits), and every view or materialized view
// that reads them (pg_depend through pg_rewrite), with the stored view query whose target list names each view
// column's origin (resorigtbl/resorigcol, exactly what RowDescription reports for a table).

/** Rows: ['c', relOid, attnum, schema, table, column] and ['v', viewOid, null, schema, view, ev_action]. */
export function originQuery(relations: readonly (readonly [string, string])[]): string {
  // Names are validated in config (no quotes, no backslashes); doubled quotes keep them literals regardless.
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const named = relations.length ? relations.map(([s, t]) => `(${lit(s)}, ${lit(t)})`).join(', ') : `(null::pg_catalog.name, null::pg_catalog.name)`;
  return `
with recursive
named(nsp, rel) as (values ${named}),
tree(oid, nsp, rel) as (
  select c.oid, n.nspname::text, c.relname::text from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    join named on named.nsp = n.nspname and named.rel = c.relname
  union
  select i.inhrelid, t.nsp, t.rel from tree t join pg_catalog.pg_inherits i on i.inhparent = t.oid
),
readers(oid) as (
  select r.ev_class from pg_catalog.pg_depend d join pg_catalog.pg_rewrite r on r.oid = d.objid
  where d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass and d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
    and d.refobjid in (select oid from tree) and r.ev_class <> d.refobjid
  union
  select r.ev_class from readers v join pg_catalog.pg_depend d on d.refobjid = v.oid
    and d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass and d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
  join pg_catalog.pg_rewrite r on r.oid = d.objid where r.ev_class <> v.oid
)
select 'c', t.oid::text, a.attnum::text, t.nsp, t.rel, a.attname::text from tree t
  join pg_catalog.pg_attribute a on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
union all
select 'v', c.oid::text, null, n.nspname::text, c.relname::text, r.ev_action::text from (select distinct oid from readers) v
  join pg_catalog.pg_class c on c.oid = v.oid join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  join pg_catalog.pg_rewrite r on r.ev_class = c.oid and r.rulename = '_RETURN'`;
}
