import { getCountrySpecifications, validateIBAN, ValidationErrorsIBAN } from 'ibantools';
import { isAlnum, isDigit, scanWork, type Span } from './span.js';

// IBANs in electronic form (DE89370400440532013000) or print form (DE89 3704 0044 0532 0130 00), either case.
// Validation is ibantools' validateIBAN (per-country length, BBAN format and ISO 7064 mod-97-10): a maintained table
// of ~120 country formats is exactly what a hand-written copy would let go stale. A failed national account check
// digit alone is still masked: mod-97 already makes a random match 1 in 97, and recall matters more in a trail.
// A candidate starts only at a word start ('CCdd' of a known country) and reads at most its country's length (34 at
// most) plus one space per four characters; after a candidate, the scan moves past the word it started, so every
// word is a candidate at most once and a cell costs O(length) with a small constant, whatever its shape.
const MAX_IBAN = 34;

/** IBAN length per country code, indexed by the two upper-case letters; 0 where the country has no IBAN. */
const LENGTHS = new Uint8Array(26 * 26);
for (const [country, spec] of Object.entries(getCountrySpecifications())) {
  if (/^[A-Z]{2}$/.test(country) && spec.chars && spec.chars <= MAX_IBAN) LENGTHS[(country.charCodeAt(0) - 65) * 26 + country.charCodeAt(1) - 65] = spec.chars;
}

/** A letter's index 0-25, either case; -1 for anything else. */
function letter(code: number): number {
  if (code >= 65 && code <= 90) return code - 65;
  if (code >= 97 && code <= 122) return code - 97;
  return -1;
}

/** IBANs. Cost: one pass; a candidate per word that starts with 'CCdd', reading at most 42 characters. */
export function findIbans(text: string): Span[] {
  const out: Span[] = [];
  const n = text.length;
  let i = 0;
  while (i + 4 <= n) {
    const c = text.charCodeAt(i);
    if (!isAlnum(c) && c !== 95) {
      i++;
      continue;
    }
    // A word (letters, digits, '_') starts here: only its first character can start an IBAN.
    const wordStart = i;
    const l0 = letter(c);
    const l1 = l0 < 0 ? -1 : letter(text.charCodeAt(i + 1));
    const want = l1 < 0 || !isDigit(text.charCodeAt(i + 2)) || !isDigit(text.charCodeAt(i + 3)) ? 0 : LENGTHS[l0 * 26 + l1]!;
    if (want > 0) {
      scanWork.candidates++;
      const end = candidateEnd(text, i, want);
      if (end !== -1 && mod97IsOne(text, i, end) && ibanChecksOut(compact(text.slice(i, end)))) {
        out.push({ start: i, end });
        i = end;
        continue;
      }
    }
    // No IBAN starts inside this word: skip to its end.
    i = wordStart + 1;
    while (i < n && (isAlnum(text.charCodeAt(i)) || text.charCodeAt(i) === 95)) i++;
  }
  return out;
}

/** End of `want` alphanumerics from `start`, allowing one space between groups of four (print form); -1 if none. */
function candidateEnd(text: string, start: number, want: number): number {
  let count = 0;
  let i = start;
  while (count < want && i < text.length) {
    const c = text.charCodeAt(i);
    if (isAlnum(c)) {
      count++;
      i++;
    } else if (c === 32 && count % 4 === 0 && count > 0 && isAlnum(text.charCodeAt(i + 1))) {
      i++;
    } else {
      scanWork.reads += i - start + 1;
      return -1;
    }
  }
  scanWork.reads += i - start + 1;
  if (count < want) return -1;
  const after = text.charCodeAt(i);
  if (isAlnum(after) || after === 95) return -1;
  return i;
}

function compact(value: string): string {
  return value.replace(/ /g, '').toUpperCase();
}

function ibanChecksOut(iban: string): boolean {
  scanWork.reads += iban.length;
  return validateIBAN(iban).errorCodes.every((code) => code === ValidationErrorsIBAN.WrongAccountBankBranchChecksum);
}

/**
 * ISO 7064 mod-97-10 over text[start, end) rearranged (country and check digits moved to the end), spaces skipped,
 * without allocating: a cheap first filter that rejects 96 of 97 candidates before ibantools validates the rest.
 */
function mod97IsOne(text: string, start: number, end: number): boolean {
  scanWork.reads += end - start;
  let skipped = 0;
  let i = start;
  for (; i < end && skipped < 4; i++) if (text.charCodeAt(i) !== 32) skipped++;
  let rem = 0;
  for (let j = i; j < end; j++) rem = mod97Add(rem, text.charCodeAt(j));
  for (let j = start; j < i; j++) rem = mod97Add(rem, text.charCodeAt(j));
  return rem === 1;
}

/** The remainder after appending one character (a letter counts as two digits, A = 10; spaces add nothing). */
function mod97Add(rem: number, c: number): number {
  if (c === 32) return rem;
  if (c >= 97) c -= 32; // lower case
  return c >= 65 ? (rem * 100 + (c - 55)) % 97 : (rem * 10 + (c - 48)) % 97;
}
