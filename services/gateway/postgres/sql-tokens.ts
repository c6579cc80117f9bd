/** One lexical token of a statement, as byte offsets into its UTF-8 text. Comments and spaces are not tokens. */
export interface SqlToken {
  start: number;
  end: number;
  /** `(`, `)`, `,` and other punctuation are single-byte tokens named by their character. */
  kind: 'string' | 'ident' | 'word' | 'param' | 'punct';
  /** The token's first byte: for punctuation, the whole token. */
  first: number;
}

const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isIdentStart = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80;
const isIdentChar = (c: number) => isIdentStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x24;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/**
 * Splits SQL into tokens the way PostgreSQL's scanner draws their boundaries (with
 * standard_conforming_strings on): quoted strings and identifiers, dollar quotes, nested comments.
 * Enough to find where an argument or a call ends; the parser, not this, says what the tokens mean.
 */
export function sqlTokens(sql: Buffer): SqlToken[] {
  const tokens: SqlToken[] = [];
  const n = sql.length;
  let i = 0;
  const push = (start: number, end: number, kind: SqlToken['kind']) => tokens.push({ start, end, kind, first: sql[start]! });
  const quoted = (from: number, quote: number, backslash: boolean): number => {
    let j = from + 1;
    while (j < n) {
      const c = sql[j]!;
      if (backslash && c === 0x5c) j += 2;
      else if (c === quote) {
        if (sql[j + 1] === quote) j += 2;
        else return j + 1;
      } else j++;
    }
    return n;
  };
  while (i < n) {
    const c = sql[i]!;
    if (isSpace(c)) {
      i++;
    } else if (c === 0x2d && sql[i + 1] === 0x2d) {
      while (i < n && sql[i] !== 0x0a && sql[i] !== 0x0d) i++;
    } else if (c === 0x2f && sql[i + 1] === 0x2a) {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === 0x2f && sql[i + 1] === 0x2a) {
          depth++;
          i += 2;
        } else if (sql[i] === 0x2a && sql[i + 1] === 0x2f) {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === 0x27) {
      push(i, (i = quoted(i, 0x27, false)), 'string');
    } else if (c === 0x22) {
      push(i, (i = quoted(i, 0x22, false)), 'ident');
    } else if ((c === 0x45 || c === 0x65) && sql[i + 1] === 0x27) {
      push(i, (i = quoted(i + 1, 0x27, true)), 'string');
    } else if ((c === 0x55 || c === 0x75) && sql[i + 1] === 0x26 && (sql[i + 2] === 0x27 || sql[i + 2] === 0x22)) {
      const q = sql[i + 2]!;
      push(i, (i = quoted(i + 2, q, false)), q === 0x27 ? 'string' : 'ident');
    } else if ((c === 0x42 || c === 0x62 || c === 0x58 || c === 0x78 || c === 0x4e || c === 0x6e) && sql[i + 1] === 0x27) {
      push(i, (i = quoted(i + 1, 0x27, false)), 'string');
    } else if (c === 0x24) {
      const start = i;
      if (isDigit(sql[i + 1] ?? 0)) {
        i++;
        while (i < n && isDigit(sql[i]!)) i++;
        push(start, i, 'param');
        continue;
      }
      let j = i + 1;
      while (j < n && isIdentChar(sql[j]!) && sql[j] !== 0x24) j++;
      if (sql[j] === 0x24 && (j === i + 1 || isIdentStart(sql[i + 1]!))) {
        const tag = sql.subarray(i, j + 1);
        const close = sql.indexOf(tag, j + 1);
        i = close < 0 ? n : close + tag.length;
        push(start, i, 'string');
      } else {
        push(start, ++i, 'punct');
      }
    } else if (isIdentStart(c)) {
      const start = i;
      while (i < n && isIdentChar(sql[i]!)) i++;
      push(start, i, 'word');
    } else if (isDigit(c)) {
      const start = i;
      while (i < n && (isIdentChar(sql[i]!) || sql[i] === 0x2e)) i++;
      push(start, i, 'word');
    } else {
      push(i, ++i, 'punct');
    }
  }
  return tokens;
}
