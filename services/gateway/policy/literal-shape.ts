// A statement's shape: its text with the literals compared in its conditions replaced by placeholders, so that
// statements that differ only in those values (`... WHERE aid = 12345`) share one classification
// (classification-cache.ts) instead of a parse each.
//
// Two texts with the same shape must give PostgreSQL's scanner (libpg-query, standard_conforming_strings on) the
// same tokens but for the replaced literals' values, and the grammar must build the same tree around them:
//  - the shape is null (the caller parses) for any text with a backslash, a `$` (parameters, dollar quotes), a
//    comment opener (`--`, `/*`), a NUL, `&` before a quote (U&'' and U&"" with UESCAPE), a quote glued to a word
//    (E'', X'', B'', N''), an unterminated quote, or nothing to replace;
//  - only a literal whose nearest non-blank character before it is `=`, `<` or `>` is replaced: the right side of a
//    comparison (an expression constant), or a `name = value` option or setting. No grammar rule looks at the value
//    there (unlike e.g. `float(p)`, whose p picks float4 or float8); the classifier itself reads such values only
//    for settings, set_config and EXPLAIN options, and then says so (classification-cache.ts keeps those apart);
//  - a run of 1 to 9 digits with no letter, digit, `_`, `$`, `.` or non-ASCII character on either side is always
//    an int4 ICONST (10 digits may overflow into a numeric FCONST) and becomes `0`; a single-quoted string (quotes
//    doubled inside) is always one SCONST whatever it holds and becomes `''`.
// Everything else, double-quoted identifiers included, stays as written.

const QUOTE = 0x27;
const DQUOTE = 0x22;
const MAX_DIGITS = 9;

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
/** Characters that glue to a digit or a quote and make another token of it (identifiers, decimals, prefixes). */
const glues = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || isDigit(c) || c === 0x5f || c === 0x24 || c === 0x2e || c >= 0x80;
const isBlank = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const compares = (c: number) => c === 0x3d || c === 0x3c || c === 0x3e;

export function literalShape(sql: string): string | null {
  if (sql.includes('\\') || sql.includes('$') || sql.includes('\0') || sql.includes('--') || sql.includes('/*') || sql.includes("&'") || sql.includes('&"')) return null;
  const n = sql.length;
  let out = '';
  let from = 0;
  let replaced = 0;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === DQUOTE) {
      i = closing(sql, i, '"');
      if (i < 0) return null;
    } else if (c === QUOTE) {
      if (i > 0 && glues(sql.charCodeAt(i - 1))) return null;
      const end = closing(sql, i, "'");
      if (end < 0) return null;
      if (afterComparison(sql, i)) {
        out += sql.slice(from, i) + "''";
        from = end;
        replaced++;
      }
      i = end;
    } else if (isDigit(c)) {
      let end = i + 1;
      while (end < n && isDigit(sql.charCodeAt(end))) end++;
      const free = (i === 0 || !glues(sql.charCodeAt(i - 1))) && (end === n || !glues(sql.charCodeAt(end)));
      if (free && end - i <= MAX_DIGITS && afterComparison(sql, i)) {
        out += sql.slice(from, i) + '0';
        from = end;
        replaced++;
      }
      i = end;
    } else if (glues(c) && c !== 0x2e) {
      // A word: digits inside it (t1, a1b) are part of it.
      while (i < n && glues(sql.charCodeAt(i)) && sql.charCodeAt(i) !== 0x2e) i++;
    } else i++;
  }
  return replaced === 0 ? null : out + sql.slice(from);
}

/** The nearest non-blank character before `at` is `=`, `<` or `>`. */
function afterComparison(sql: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && isBlank(sql.charCodeAt(i))) i--;
  return i >= 0 && compares(sql.charCodeAt(i));
}

/** Index after the quote closing the one at `at` (a doubled quote stays inside); -1 when it never closes. */
function closing(sql: string, at: number, quote: string): number {
  let i = at + 1;
  for (;;) {
    const q = sql.indexOf(quote, i);
    if (q < 0) return -1;
    if (sql[q + 1] === quote) i = q + 2;
    else return q + 1;
  }
}
