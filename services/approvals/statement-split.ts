import { parseSync } from 'libpg-query';
import { normalisedStatement } from './statement-text.js';

/**
 * A file's statements as PostgreSQL's own parser splits them (so semicolons inside literals, dollar-quoted
 * bodies and comments do not split). Throws with the parser's message when the file does not parse.
 */
export function splitStatements(sql: string): string[] {
  let parsed: { stmts?: { stmt_location?: number; stmt_len?: number }[] };
  try {
    parsed = parseSync(sql) as typeof parsed;
  } catch (err) {
    const e = err as { message?: string; sqlDetails?: { cursorPosition?: number } };
    const at = e.sqlDetails?.cursorPosition;
    throw Object.assign(new Error(`the statements do not parse: ${e.message ?? String(err)}${at === undefined ? '' : ` (at offset ${at})`}`), { code: 'TG_APPROVAL_SQL' });
  }
  // Locations are byte offsets into the UTF-8 text.
  const bytes = Buffer.from(sql, 'utf8');
  const out: string[] = [];
  for (const s of parsed.stmts ?? []) {
    const from = s.stmt_location ?? 0;
    const to = s.stmt_len ? from + s.stmt_len : bytes.length;
    const text = bytes.subarray(from, to).toString('utf8').trim();
    if (normalisedStatement(text)) out.push(text);
  }
  return out;
}
