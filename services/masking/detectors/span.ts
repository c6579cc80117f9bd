/** A found value as UTF-16 offsets [start, end) in the scanned text. */
export interface Span {
  start: number;
  end: number;
}

/** ASCII letter or digit: the characters that glue a value to its neighbours. */
export function isAlnum(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

export function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** Base64url alphabet (RFC 4648 §5), the alphabet of JWT parts and most vendor tokens. */
export function isBase64Url(code: number): boolean {
  return isAlnum(code) || code === 45 /* - */ || code === 95 /* _ */;
}

/**
 * Every match (or capture `group`, which needs the regex's d flag) of a global regex whose only quantifiers are bounded and which starts with a literal prefix:
 * such a pattern does O(prefix + max length) work per start position, so the scan is linear in the text.
 */
export function spansOf(text: string, pattern: RegExp, accept?: (value: string) => boolean, group = 0): Span[] {
  const out: Span[] = [];
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    const value = m[group];
    const at = group === 0 ? m.index : m.indices?.[group]?.[0];
    if (value !== undefined && at !== undefined && (accept === undefined || accept(value))) out.push({ start: at, end: at + value.length });
    if (m[0].length === 0) pattern.lastIndex++;
  }
  return out;
}
