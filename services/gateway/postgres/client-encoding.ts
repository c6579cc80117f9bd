/** PostgreSQL refuses encoding names this long (NAMEDATALEN) before it looks them up. */
const MAX_NAME_BYTES = 63;

/** PostgreSQL's own names for UTF8 (src/common/encnames.c, pg_encname_tbl), after its cleaning. */
const UTF8_NAMES = new Set(['utf8', 'unicode']);

/**
 * True when PostgreSQL would read `name` as UTF8. It compares encoding names after dropping every
 * character that is not an ASCII letter or digit and lowering the case, so 'utf-8', 'UTF_8' and
 * 'Unicode' all name UTF8; the gateway must accept exactly what the server accepts.
 */
export function isUtf8EncodingName(name: string): boolean {
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return false;
  return UTF8_NAMES.has(name.replace(/[^A-Za-z0-9]/g, '').toLowerCase());
}
