/** A found value as UTF-16 offsets [start, end) in the scanned text. */
export interface Span {
  start: number;
  end: number;
}

/**
 * Characters the detectors read while checking candidates, beyond their one pass over the text (a unit test counts it
 * to prove every detector linear on hostile input: work is counted, never timed). One add per candidate, not per read.
 */
export const scanWork = { candidates: 0, reads: 0 };

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
