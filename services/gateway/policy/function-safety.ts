// Which right a function call or a run-time setting needs. Kept apart from the AST walk so the
// lists can be reviewed on their own: an unknown function always costs 'function', never less.
import type { StatementClass } from './statement-classifier.js';

/**
 * Built-ins with no side effects, callable unqualified or as `pg_catalog.name`. Everything else is 'function'.
 * Only names that exist in pg_catalog belong here: any other name would resolve to a user's function.
 */
const SIDE_EFFECT_FREE = new Set([
  // aggregates
  'count', 'sum', 'avg', 'min', 'max', 'bool_and', 'bool_or', 'every', 'bit_and', 'bit_or',
  'array_agg', 'string_agg', 'json_agg', 'jsonb_agg', 'json_object_agg', 'jsonb_object_agg',
  'stddev', 'stddev_pop', 'stddev_samp', 'variance', 'var_pop', 'var_samp', 'percentile_cont', 'percentile_disc', 'mode',
  // window functions
  'row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead',
  'first_value', 'last_value', 'nth_value',
  // date and time
  'now', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp', 'timeofday', 'date_trunc', 'date_part',
  'date_bin', 'extract', 'age', 'to_char', 'to_date', 'to_timestamp', 'to_number', 'make_date', 'make_time',
  'make_timestamp', 'make_timestamptz', 'make_interval', 'justify_days', 'justify_hours', 'justify_interval', 'isfinite',
  // strings
  'lower', 'upper', 'initcap', 'length', 'char_length', 'character_length', 'octet_length', 'bit_length',
  'substring', 'substr', 'btrim', 'ltrim', 'rtrim', 'lpad', 'rpad', 'left', 'right', 'position', 'strpos',
  'replace', 'translate', 'overlay', 'concat', 'concat_ws', 'format', 'repeat', 'reverse', 'split_part', 'starts_with',
  'regexp_replace', 'regexp_match', 'regexp_matches', 'regexp_like', 'regexp_count', 'regexp_substr',
  'regexp_split_to_array', 'regexp_split_to_table', 'string_to_array', 'array_to_string', 'quote_ident',
  'quote_literal', 'quote_nullable', 'ascii', 'chr', 'to_hex', 'md5', 'sha224', 'sha256', 'sha384', 'sha512',
  'encode', 'decode', 'normalize',
  // numbers
  'abs', 'round', 'floor', 'ceil', 'ceiling', 'trunc', 'mod', 'power', 'sqrt', 'cbrt', 'exp', 'ln', 'log', 'log10',
  'sign', 'div', 'width_bucket', 'random', 'gen_random_uuid',
  // json and arrays
  'to_json', 'to_jsonb', 'row_to_json', 'array_to_json', 'json_build_object', 'jsonb_build_object',
  'json_build_array', 'jsonb_build_array', 'json_object', 'jsonb_object', 'jsonb_set', 'jsonb_insert',
  'jsonb_pretty', 'jsonb_strip_nulls', 'json_strip_nulls', 'json_typeof', 'jsonb_typeof', 'json_array_length',
  'jsonb_array_length', 'json_array_elements', 'jsonb_array_elements', 'json_array_elements_text',
  'jsonb_array_elements_text', 'json_each', 'jsonb_each', 'json_each_text', 'jsonb_each_text', 'json_object_keys',
  'jsonb_object_keys', 'json_extract_path', 'jsonb_extract_path', 'json_extract_path_text', 'jsonb_extract_path_text',
  'jsonb_path_query', 'jsonb_path_query_array', 'jsonb_path_query_first', 'jsonb_path_exists', 'jsonb_path_match',
  'array_length', 'array_lower', 'array_upper', 'array_ndims', 'array_dims', 'cardinality', 'unnest',
  'array_position', 'array_positions', 'array_append', 'array_prepend', 'array_cat', 'array_remove', 'array_replace',
  'generate_series', 'generate_subscripts',
  // session and catalog information
  'version', 'current_setting', 'current_database', 'current_schema', 'current_schemas', 'current_user',
  'session_user', 'pg_backend_pid', 'pg_postmaster_start_time', 'pg_is_in_recovery', 'pg_typeof', 'format_type',
  'pg_get_viewdef', 'pg_get_indexdef', 'pg_get_constraintdef', 'pg_get_functiondef', 'pg_get_expr',
  'pg_get_userbyid', 'pg_get_serial_sequence', 'pg_relation_size', 'pg_table_size', 'pg_indexes_size',
  'pg_total_relation_size', 'pg_database_size', 'pg_size_pretty', 'pg_table_is_visible', 'obj_description',
  'col_description', 'has_table_privilege', 'has_schema_privilege', 'has_database_privilege',
  'has_column_privilege', 'has_function_privilege', 'pg_has_role', 'currval', 'lastval',
]);

/** Lower-cased names (any schema) that act on the server, its files or other sessions. */
const ADMIN_FUNCTIONS = new Set([
  'pg_terminate_backend', 'pg_cancel_backend', 'pg_reload_conf', 'pg_rotate_logfile', 'pg_promote', 'pg_switch_wal',
  'pg_create_restore_point', 'pg_start_backup', 'pg_stop_backup', 'pg_read_file', 'pg_read_binary_file', 'pg_stat_file',
  'pg_log_backend_memory_contexts', 'pg_import_system_collations', 'pg_drop_replication_slot', 'loread', 'lowrite',
]);
const ADMIN_PREFIXES = [
  'lo_', 'dblink', 'pg_ls_', 'pg_file_', 'pg_backup_', 'pg_wal_replay_', 'pg_stat_reset', 'pg_replication_',
  'pg_create_', 'pg_logical_', 'pg_copy_', 'pg_replication_slot_advance',
];
/** Side effects on data, visible to others. */
const WRITE_FUNCTIONS = new Set(['nextval', 'setval', 'pg_notify']);
/** Run SQL text given as an argument: as open-ended as a DO block. */
const CODE_FUNCTIONS = new Set(['query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema', 'ts_stat']);

/** Settings that change who we are, or how the server lexes what the gateway parsed. */
const ADMIN_SETTINGS = new Set([
  'role', 'session_authorization', 'standard_conforming_strings', 'client_encoding', 'session_replication_role',
  'session_preload_libraries', 'local_preload_libraries', 'dynamic_library_path', 'allow_system_table_mods',
  'zero_damaged_pages', 'ignore_system_indexes', 'lc_messages',
]);
const ADMIN_SETTING_PREFIXES = ['log_', 'debug_', 'trace_'];

/** Settings that decide whether a transaction may write: the gateway holds read-only sessions to them. */
const READ_ONLY_SETTINGS = new Set(['default_transaction_read_only', 'transaction_read_only']);
/** Every spelling PostgreSQL reads as boolean true (unique prefixes of on/true/yes, and 1). */
const TRUE_WORDS = new Set(['on', 't', 'tr', 'tru', 'true', 'y', 'ye', 'yes', '1']);

/** Whether a value given to a read-only setting keeps it on; an unknown value (RESET, DEFAULT, an expression) does not. */
export function keepsReadOnly(value: string | undefined): boolean {
  return value !== undefined && TRUE_WORDS.has(value.trim().toLowerCase());
}

/**
 * Classes for SET / RESET / set_config of one setting. Names compare case-insensitively, as PostgreSQL does.
 * `value` is the literal value when there is one; turning read-only off in any way needs 'write'.
 */
export function settingClasses(name: string, value?: string): StatementClass[] {
  const lower = name.toLowerCase();
  if (READ_ONLY_SETTINGS.has(lower)) return keepsReadOnly(value) ? ['session'] : ['session', 'write'];
  const admin = ADMIN_SETTINGS.has(lower) || ADMIN_SETTING_PREFIXES.some((p) => lower.startsWith(p));
  return admin ? ['session', 'admin'] : ['session'];
}

/**
 * Classes for one call. `names` is the (possibly schema-qualified) function name; `sqlSyntax` is true for calls the
 * parser itself generated from SQL syntax (TRIM, EXTRACT, POSITION ...), which are always pg_catalog built-ins.
 */
export function functionCallClasses(names: string[], args: unknown[], sqlSyntax: boolean): StatementClass[] {
  const name = names[names.length - 1] ?? '';
  const lower = name.toLowerCase();
  if (lower === 'set_config') return setConfigClasses(args);
  if (ADMIN_FUNCTIONS.has(lower) || ADMIN_PREFIXES.some((p) => lower.startsWith(p))) return ['admin'];
  if (WRITE_FUNCTIONS.has(lower)) return ['write'];
  if (CODE_FUNCTIONS.has(lower)) return ['code'];
  const builtin = names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog');
  if (builtin && (sqlSyntax || SIDE_EFFECT_FREE.has(name))) return [];
  return ['function'];
}

/** set_config(name, value, is_local): only a literal first argument can be judged; anything else may be 'role'. */
function setConfigClasses(args: unknown[]): StatementClass[] {
  const literal = (arg: unknown) => (arg as { A_Const?: { sval?: { sval?: string } } } | undefined)?.A_Const?.sval?.sval;
  const name = literal(args[0]);
  return name === undefined ? ['session', 'admin', 'write'] : settingClasses(name, literal(args[1]));
}
