import { createHash } from 'node:crypto';

/** A value as a SIEM field takes it: cut to the field limit, with the digest of what was cut. */
export interface LimitedField {
  value: string;
  truncated: boolean;
  sha256?: string;
}

/**
 * Cuts a value to at most maxBytes of UTF-8 without splitting a character; when it had to cut,
 * `sha256` is the hex SHA-256 of the full value, so the original can still be matched against the log.
 */
export function limitField(value: string, maxBytes: number): LimitedField {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length <= maxBytes) return { value, truncated: false };
  let end = Math.max(0, maxBytes);
  // Step back over continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return { value: bytes.subarray(0, end).toString('utf8'), truncated: true, sha256: createHash('sha256').update(bytes).digest('hex') };
}
