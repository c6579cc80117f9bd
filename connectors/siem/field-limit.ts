import { createHash } from 'node:crypto';

/** A value cut to a SIEM's field limit; the digest lets an analyst match it to the full value in the log. */
export interface LimitedField {
  value: string;
  truncated: boolean;
  sha256?: string;
}

/** Cuts `value` to at most `maxBytes` UTF-8 bytes without splitting a character; sha256 (hex) of the full value when cut. */
export function limitField(value: string, maxBytes: number): LimitedField {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length <= maxBytes) return { value, truncated: false };
  let end = Math.max(0, maxBytes);
  // Step back over continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return { value: bytes.subarray(0, end).toString('utf8'), truncated: true, sha256: createHash('sha256').update(bytes).digest('hex') };
}
