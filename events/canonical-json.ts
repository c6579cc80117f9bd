/**
 * RFC 8785 (JCS) serialisation, byte for byte what the `canonicalize` package (the reference named in
 * events/CHAIN.md) produces for JSON values, without its per-call allocations: no visited set, no
 * part arrays, keys sorted only when they are not already in order. Like the reference it refuses
 * NaN, Infinity, lone surrogates and cycles; unlike it, it also refuses functions and bigints
 * (the reference would write `undefined` or throw a TypeError) with TG_CHAIN_ENCODING.
 */

/** Deeper than any record the gateway writes; beyond it a value is taken to be circular. */
const MAX_DEPTH = 512;

/** Quoted forms of the keys seen most, so that a record's field names are escaped once per process. */
const quotedKeys = new Map<string, string>();
const QUOTED_KEYS_MAX = 4096;

// Characters JSON.stringify escapes or that need a closer look (surrogates): a string without any is written as it is.
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

export class CanonicalEncodingError extends Error {
  readonly code = 'TG_CHAIN_ENCODING';
}

/** One JSON string as JCS writes it (JSON.stringify's escapes); throws on a lone surrogate as the reference does. */
export function jcsString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) throw new CanonicalEncodingError('TG_CHAIN_ENCODING: Lone surrogate is not allowed; a record holds text that is not valid UTF-16');
  return JSON.stringify(s);
}

/** One number as JCS writes it (ECMAScript Number::toString, -0 as 0). */
export function jcsNumber(n: number): string {
  if (Number.isNaN(n)) throw new CanonicalEncodingError('TG_CHAIN_ENCODING: NaN is not allowed in a record');
  if (!Number.isFinite(n)) throw new CanonicalEncodingError('TG_CHAIN_ENCODING: Infinity is not allowed in a record');
  return JSON.stringify(n);
}

function quotedKey(k: string): string {
  let q = quotedKeys.get(k);
  if (q !== undefined) return q;
  q = jcsString(k);
  if (quotedKeys.size < QUOTED_KEYS_MAX) quotedKeys.set(k, q);
  return q;
}

/** The JCS text of `value`, or undefined where JSON has none (undefined, a symbol), as the reference returns. */
export function jcs(value: unknown): string | undefined {
  return encode(value, 0);
}

function encode(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return jcsString(value);
    case 'number':
      return jcsNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'symbol':
      return undefined;
    case 'object':
      if (value === null) return 'null';
      if (depth > MAX_DEPTH) throw new CanonicalEncodingError('TG_CHAIN_ENCODING: Circular reference detected (or a record nested too deep)');
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return encode((value as { toJSON(): unknown }).toJSON(), depth + 1);
      return Array.isArray(value) ? encodeArray(value, depth + 1) : encodeObject(value as Record<string, unknown>, depth + 1);
    default:
      throw new CanonicalEncodingError(`TG_CHAIN_ENCODING: a ${typeof value} has no JSON form; records hold JSON values only`);
  }
}

function encodeArray(a: unknown[], depth: number): string {
  let out = '[';
  for (let i = 0; i < a.length; i++) {
    if (i > 0) out += ',';
    out += encode(a[i], depth) ?? 'null';
  }
  return `${out}]`;
}

function encodeObject(o: Record<string, unknown>, depth: number): string {
  const keys = Object.keys(o);
  if (!isSorted(keys)) keys.sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const text = encode(o[k], depth);
    if (text === undefined) continue;
    out += first ? `${quotedKey(k)}:${text}` : `,${quotedKey(k)}:${text}`;
    first = false;
  }
  return `${out}}`;
}

/** Default string order is UTF-16 code unit order, the one JCS asks for. */
function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}
