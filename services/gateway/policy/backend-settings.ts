// What the gateway sets on a session's backend at startup, from the rights the policy granted: the database
// itself then holds the session to them, whatever code the statements reach.
import type { PostgresTargetRole } from '../../config/schema.js';

/** Rights that let a session change data or schema; a session with none of them is read-only in the database. */
const WRITE_RIGHTS = new Set(['write', 'ddl', 'admin', 'all']);
const POSTGRES_CLASSES = new Set(['read', 'write', 'ddl', 'admin', 'function', 'code', 'transaction', 'session', 'all']);

export interface BackendSettings {
  /** default_transaction_read_only is on for the session's backend. */
  readOnly: boolean;
  /** The database role the backend runs as (targets.<name>.roles), when one is configured for these rights. */
  role?: string;
  /** The startup `options` parameter that applies both; absent when there is nothing to set. */
  options?: string;
}

export function backendSettings(rights: readonly string[], roles: readonly PostgresTargetRole[]): BackendSettings {
  const held = rights.filter((r) => POSTGRES_CLASSES.has(r));
  const readOnly = !held.some((r) => WRITE_RIGHTS.has(r));
  const role = roles.find((r) => held.every((h) => r.rights.includes(h as PostgresTargetRole['rights'][number])))?.role;
  const settings = [...(readOnly ? ['default_transaction_read_only=on'] : []), ...(role ? [`role=${role}`] : [])];
  return {
    readOnly,
    ...(role ? { role } : {}),
    ...(settings.length ? { options: settings.map((s) => `-c ${escapeOption(s)}`).join(' ') } : {}),
  };
}

/** The server splits `options` at spaces; a backslash keeps a space or backslash in a value. */
function escapeOption(value: string): string {
  return value.replace(/[\\ ]/g, (c) => `\\${c}`);
}
