import { getCountrySpecifications, validateIBAN, ValidationErrorsIBAN } from 'ibantools';
import { isAlnum, isDigit, type Span } from './span.js';

// IBANs in electronic form (DE89370400440532013000) or print form (DE89 3704 0044 0532 0130 00), either case.
// Validation is ibantools' validateIBAN (per-country length, BBAN format and ISO 7064 mod-97-10): a maintained table
// of ~120 country formats is exactly what a hand-written copy would let go stale. A failed national account check
// digit alone is still masked: mod-97 already makes a random match 1 in 97, and recall matters more in a trail. A candidate starts only at a
// word boundary and reads at most 34 characters plus separators, so a cell costs O(length).
const SPECS = getCountrySpecifications();
const MAX_IBAN = 34;

function isUpperOrLower(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

function ibanLength(country: string): number | undefined {
  return SPECS[country]?.chars ?? undefined;
}

/** IBANs. Cost: one pass; at most 42 characters read per word-initial 'CCdd'. */
export function findIbans(text: string): Span[] {
  const out: Span[] = [];
  const n = text.length;
  let i = 0;
  while (i + 4 <= n) {
    const c0 = text.charCodeAt(i);
    if (!isUpperOrLower(c0) || (i > 0 && (isAlnum(text.charCodeAt(i - 1)) || text.charCodeAt(i - 1) === 95))) {
      i++;
      continue;
    }
    if (!isUpperOrLower(text.charCodeAt(i + 1)) || !isDigit(text.charCodeAt(i + 2)) || !isDigit(text.charCodeAt(i + 3))) {
      i++;
      continue;
    }
    const want = ibanLength(text.slice(i, i + 2).toUpperCase());
    const end = want === undefined ? -1 : candidateEnd(text, i, want);
    if (end !== -1 && mod97IsOne(text, i, end) && ibanChecksOut(compact(text.slice(i, end)))) {
      out.push({ start: i, end });
      i = end;
    } else {
      i++;
    }
  }
  return out;
}

/** End of `want` alphanumerics from `start`, allowing one space between groups of four (print form); -1 if none. */
function candidateEnd(text: string, start: number, want: number): number {
  if (want > MAX_IBAN) return -1;
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
      return -1;
    }
  }
  if (count < want) return -1;
  const after = text.charCodeAt(i);
  if (isAlnum(after) || after === 95) return -1;
  return i;
}

function compact(value: string): string {
  return value.replace(/ /g, '').toUpperCase();
}

function ibanChecksOut(iban: string): boolean {
  return validateIBAN(iban).errorCodes.every((code) => code === ValidationErrorsIBAN.WrongAccountBankBranchChecksum);
}

/**
 * ISO 7064 mod-97-10 over text[start, end) rearranged (country and check digits moved to the end), spaces skipped,
 * without allocating: a cheap first filter that rejects 96 of 97 candidates before ibantools validates the rest.
 */
function mod97IsOne(text: string, start: number, end: number): boolean {
  let rem = 0;
  const add = (c: number): void => {
    if (c >= 97) c -= 32; // lower case
    if (c >= 65) rem = (rem * 100 + (c - 55)) % 97;
    else rem = (rem * 10 + (c - 48)) % 97;
  };
  let skipped = 0;
  let i = start;
  for (; i < end && skipped < 4; i++) if (text.charCodeAt(i) !== 32) skipped++;
  for (let j = i; j < end; j++) if (text.charCodeAt(j) !== 32) add(text.charCodeAt(j));
  for (let j = start; j < i; j++) if (text.charCodeAt(j) !== 32) add(text.charCodeAt(j));
  return rem === 1;
}
