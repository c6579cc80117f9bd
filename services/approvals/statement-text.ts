const SPACE = new Set([' ', '\t', '\n', '\r', '\f', '\v']);

/**
 * A statement as an approval binds it: comments dropped, each run of whitespace outside literals and quoted names
 * made one space, surrounding space and a final semicolon dropped. Literals, quoted names and dollar-quoted bodies
 * are kept byte for byte, so one changed literal is another statement; psql may send a file's statements with or
 * without their comments and line breaks, and they still match.
 */
export function normalisedStatement(sql: string): string {
  let out = '';
  let space = false;
  const emit = (s: string) => {
    if (space && out.length > 0) out += ' ';
    space = false;
    out += s;
  };
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (SPACE.has(c)) {
      space = true;
      i++;
    } else if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      space = true;
    } else if (c === '/' && next === '*') {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      space = true;
    } else if (c === "'" || c === '"') {
      // E'...' strings take backslash escapes; the E itself was emitted as a word character.
      const backslash = c === "'" && /[eE]$/.test(out) && !space && !/[A-Za-z0-9_$][eE]$/.test(out);
      const end = quotedEnd(sql, i, c, backslash);
      emit(sql.slice(i, end));
      i = end;
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66));
      if (tag && !/[A-Za-z0-9_]$/.test(space ? '' : out)) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        const end = close < 0 ? n : close + tag[0].length;
        emit(sql.slice(i, end));
        i = end;
      } else {
        emit(c);
        i++;
      }
    } else {
      emit(c);
      i++;
    }
  }
  return out.replace(/;+$/, '').trimEnd();
}

function quotedEnd(sql: string, start: number, quote: string, backslash: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i]!;
    if (backslash && c === '\\') i += 2;
    else if (c === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}
