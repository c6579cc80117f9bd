// What a statement really did on the scratch database, read from PostgreSQL itself: rows written
// (pg_stat_xact_user_tables), user functions run (pg_stat_xact_user_functions, track_functions = all),
// sequences advanced, catalog rows written (xmin of this statement's subtransaction, shared catalogs too),
// DDL seen by event triggers, settings and the current role.
import type pg from 'pg';

/** The observer's own objects live here; their rows and calls are never counted. */
export const OBSERVER_SCHEMA = 'tg_observe';

/**
 * Catalogs a change lands in: every DDL touches pg_class, pg_proc, pg_type or pg_namespace (or is seen by the
 * event triggers); the shared ones (roles, memberships, databases) and large objects are seen by no trigger.
 * pg_depend and pg_attribute are left out: they change only with one of these, and scanning them is slow.
 */
const CATALOGS = [
  'pg_class', 'pg_proc', 'pg_type', 'pg_namespace', 'pg_authid', 'pg_auth_members', 'pg_database', 'pg_db_role_setting',
  'pg_largeobject_metadata', 'pg_default_acl', 'pg_description', 'pg_sequence', 'pg_extension', 'pg_event_trigger',
  'pg_policy', 'pg_trigger', 'pg_rewrite', 'pg_constraint', 'pg_foreign_server', 'pg_user_mapping', 'pg_publication',
];

/** Run once as a superuser in the scratch database: the event triggers and the functions the probe calls. */
export const OBSERVER_SETUP = `
create schema ${OBSERVER_SCHEMA};
create table ${OBSERVER_SCHEMA}.ddl_log (tag text, object_type text, identity text);
create table ${OBSERVER_SCHEMA}.marks (at timestamptz default now());
-- Gives the statement's savepoint its transaction id now: every catalog row the statement writes has this xmin or a later one.
create function ${OBSERVER_SCHEMA}.mark() returns text language sql security definer as
  $$ insert into ${OBSERVER_SCHEMA}.marks default values returning xmin::text $$;
create function ${OBSERVER_SCHEMA}.on_ddl() returns event_trigger language plpgsql security definer as $$
begin
  insert into ${OBSERVER_SCHEMA}.ddl_log select command_tag, object_type, object_identity from pg_event_trigger_ddl_commands();
end $$;
create function ${OBSERVER_SCHEMA}.on_drop() returns event_trigger language plpgsql security definer as $$
begin
  insert into ${OBSERVER_SCHEMA}.ddl_log select 'DROP', object_type, object_identity from pg_event_trigger_dropped_objects();
end $$;
create event trigger tg_observe_ddl on ddl_command_end execute function ${OBSERVER_SCHEMA}.on_ddl();
create event trigger tg_observe_drop on sql_drop execute function ${OBSERVER_SCHEMA}.on_drop();
-- Catalog rows this statement wrote: their xmin is at least the first transaction id it could have been given.
create function ${OBSERVER_SCHEMA}.catalog_writes(since bigint) returns text[] language plpgsql security definer
set search_path = pg_catalog as $$
declare c text; n bigint; out text[] := '{}';
begin
  foreach c in array array['${CATALOGS.join("','")}'] loop
    execute format('select count(*) from pg_catalog.%I where xmin::text::bigint >= $1', c) into n using since % 4294967296;
    if n > 0 then out := out || (c || ' ' || n); end if;
  end loop;
  return out;
end $$;
create function ${OBSERVER_SCHEMA}.ddl_seen() returns text[] language plpgsql security definer as $$
declare out text[];
begin
  select coalesce(array_agg(tag || ' ' || coalesce(object_type, '') || ' ' || coalesce(identity, '')), '{}') into out from ${OBSERVER_SCHEMA}.ddl_log;
  delete from ${OBSERVER_SCHEMA}.ddl_log;
  return out;
end $$;
revoke all on schema ${OBSERVER_SCHEMA} from public;
`;

/** Grants the statements' role what the probe needs, nothing more. */
export const observerGrants = (role: string) => `
grant usage on schema ${OBSERVER_SCHEMA} to ${role};
grant execute on all functions in schema ${OBSERVER_SCHEMA} to ${role};
truncate ${OBSERVER_SCHEMA}.ddl_log; -- what the triggers saw of this setup is not a statement's doing
`;

export interface Snapshot {
  /** relation oid -> inserted + updated + deleted tuples so far in this transaction. */
  rows: Record<string, number>;
  /** function oid -> calls so far in this transaction. */
  calls: Record<string, number>;
  /** sequence oid -> last value. */
  sequences: Record<string, string | null>;
  /** Settings not at their built-in default (a RESET makes one disappear). */
  settings: Record<string, string>;
  role: string;
  /** The transaction id of the statement's savepoint: what it writes has this xmin or a later one. */
  nextXid: string;
}

const SNAPSHOT = `
select
  (select coalesce(json_object_agg(relid, n_tup_ins + n_tup_upd + n_tup_del), '{}') from pg_stat_xact_user_tables where schemaname <> '${OBSERVER_SCHEMA}') as rows,
  -- track_functions = all also counts built-in SQL functions (obj_description, bit_length, ...): only user ones matter
  (select coalesce(json_object_agg(funcid, calls), '{}') from pg_stat_xact_user_functions where schemaname <> '${OBSERVER_SCHEMA}' and funcid >= 16384) as calls,
  (select coalesce(json_object_agg(c.oid, case when c.relkind = 'S' and not pg_is_other_temp_schema(c.relnamespace)
     then case when has_sequence_privilege(c.oid, 'select') then pg_sequence_last_value(c.oid) end end), '{}')
     from pg_class c where c.relkind = 'S') as sequences,
  (select coalesce(json_object_agg(name, setting) filter (where source <> 'default'), '{}') from pg_settings) as settings,
  current_user || '/' || session_user as role,
  ${OBSERVER_SCHEMA}.mark() as "nextXid"`;

/**
 * One round trip: `before` runs first (a savepoint, or a rollback to it), then the snapshot, then `after`.
 * With `since` (the nextXid of the snapshot before a statement) it also reads what changed in the catalog since.
 */
export async function snapshot(client: pg.Client, since?: string, before = '', after = ''): Promise<{ snapshot: Snapshot; catalog: string[] }> {
  const writes = since === undefined ? '' : `, ${OBSERVER_SCHEMA}.catalog_writes(${BigInt(since)}) as writes`;
  const changes = `${writes}, ${OBSERVER_SCHEMA}.ddl_seen() as ddl`;
  const results = (await client.query(`${before}${SNAPSHOT}${changes};${after}`)) as unknown as pg.QueryResult | pg.QueryResult[];
  const result = Array.isArray(results) ? results.find((r) => r.command === 'SELECT')! : results;
  const row = result.rows[0] as Snapshot & { writes?: string[]; ddl?: string[] };
  const catalog = since === undefined ? [] : [...(row.ddl ?? []).map((d) => `ddl: ${d.trim()}`), ...(row.writes ?? []).map((w) => `catalog rows: ${w}`)];
  return { snapshot: row, catalog };
}
