// Splits a psql script into statements the way psql sends them: a `;` ends a statement only outside quotes,
// dollar quotes, comments and parentheses; backslash meta-commands are psql's, not SQL, and are dropped.
// BEGIN ATOMIC bodies are not tracked here: the extractor joins pieces until the parser accepts them.

/** Statements of one script, each trimmed, without its terminating `;`. */
export function splitSql(script: string): string[] {
  const out: string[] = [];
  let start = 0;
  let depth = 0;
  let i = 0;
  const n = script.length;
  const flush = (end: number) => {
    const text = script.slice(start, end).trim();
    if (text.split('\n').some((line) => line.trim() && !line.trim().startsWith('--'))) out.push(text);
  };
  while (i < n) {
    const c = script[i]!;
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      const eol = script.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      // Comments nest in PostgreSQL.
      let level = 1;
      i += 2;
      while (i < n && level > 0) {
        if (script[i] === '/' && script[i + 1] === '*') {
          level++;
          i += 2;
        } else if (script[i] === '*' && script[i + 1] === '/') {
          level--;
          i += 2;
        } else i++;
      }
    } else if (c === "'") {
      // E'...' strings take backslash escapes; standard strings double the quote.
      const escapes = i > 0 && /[eE]/.test(script[i - 1]!) && (i < 2 || !/[\w$]/.test(script[i - 2]!));
      i++;
      while (i < n) {
        if (escapes && script[i] === '\\') i += 2;
        else if (script[i] === "'" && script[i + 1] === "'") i += 2;
        else if (script[i] === "'") break;
        else i++;
      }
      i++;
    } else if (c === '"') {
      const end = script.indexOf('"', i + 1);
      i = end < 0 ? n : end + 1;
    } else if (c === '$' && (i === 0 || !/[\w$]/.test(script[i - 1]!))) {
      const tag = /^\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(script.slice(i, i + 64));
      if (tag) {
        const end = script.indexOf(tag[0], i + tag[0].length);
        i = end < 0 ? n : end + tag[0].length;
      } else i++;
    } else if (c === '(' || c === ')') {
      depth = c === '(' ? depth + 1 : Math.max(0, depth - 1);
      i++;
    } else if (c === ';' && depth === 0) {
      flush(i);
      start = ++i;
    } else if (c === '\\' && /^[a-zA-Z!?]/.test(script[i + 1] ?? '')) {
      // A meta-command runs to the end of its line; `\g`/`\gset` after a statement also sends it.
      if (script.slice(start, i).trim()) flush(i);
      const eol = script.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      start = i;
    } else i++;
  }
  flush(n);
  return out;
}

