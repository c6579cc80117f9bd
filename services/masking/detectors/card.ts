import { knownIssuer } from './card-issuers.js';
import { isAlnum, isDigit, scanWork, type Span } from './span.js';

// Payment card numbers: 13-19 digits, either unbroken or in groups of 3-6 digits joined by one space or one dash
// (4-4-4-4, 4-6-5, 4-4-4-4-3; never a longer group, so "41234-1764606000000", a pid and a timestamp, is none), Luhn-valid and under a known issuer prefix. An unbroken run of digits is a card
// only when the whole run is: a 25-digit integer holds no card. Each character is read O(1) times per run and a
// grouped run tries at most 19 digits from each group start, without allocating, so a cell costs O(length).
// Luhn (ISO/IEC 7812-1 annex B) is inlined over the text, separators skipped: ten lines, smaller than any library.
const MIN = 13;
const MAX = 19;
const MIN_GROUP = 3;
const MAX_GROUP = 6;

interface Group {
  start: number;
  end: number;
}

/** Card numbers. Cost: one pass over the text, at most 19 digits re-read per group start. */
export function findCards(text: string): Span[] {
  const out: Span[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const runStart = i;
    const groups: Group[] = [];
    let sep = -1;
    for (;;) {
      const gs = i;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      groups.push({ start: gs, end: i });
      const c = text.charCodeAt(i);
      if ((c === 32 || c === 45) && (sep === -1 || sep === c) && i + 1 < n && isDigit(text.charCodeAt(i + 1))) {
        sep = c;
        i++;
        continue;
      }
      break;
    }
    if (bounded(text, runStart, i)) out.push(...cardsInRun(text, groups));
  }
  return out;
}

/** Not glued to letters, underscores or a decimal point on either side. */
function bounded(text: string, start: number, end: number): boolean {
  const before = text.charCodeAt(start - 1);
  if (isAlnum(before) || before === 95) return false;
  if ((before === 46 || before === 44) && isDigit(text.charCodeAt(start - 2))) return false;
  const after = text.charCodeAt(end);
  if (isAlnum(after) || after === 95) return false;
  if ((after === 46 || after === 44) && isDigit(text.charCodeAt(end + 1))) return false;
  return true;
}

function cardsInRun(text: string, groups: Group[]): Span[] {
  if (groups.length === 1) {
    const g = groups[0]!;
    return isCard(text, g.start, g.end, g.end - g.start) ? [{ start: g.start, end: g.end }] : [];
  }
  // A grouped run may be a card followed or preceded by other numbers ("4111 1111 1111 1111 2030").
  const out: Span[] = [];
  let k = 0;
  while (k < groups.length) {
    let count = 0;
    let found = -1;
    for (let j = k; j < groups.length; j++) {
      const g = groups[j]!;
      if (g.end - g.start < MIN_GROUP || g.end - g.start > MAX_GROUP) break;
      count += g.end - g.start;
      if (count > MAX) break;
      if (count >= MIN && isCard(text, groups[k]!.start, g.end, count)) found = j;
    }
    if (found >= k) {
      out.push({ start: groups[k]!.start, end: groups[found]!.end });
      k = found + 1;
    } else {
      k++;
    }
  }
  return out;
}

/** The `count` digits in text[start, end) (separators skipped) form a card number: known issuer, Luhn-valid. */
function isCard(text: string, start: number, end: number, count: number): boolean {
  if (count < MIN || count > MAX) return false;
  scanWork.candidates++;
  scanWork.reads += end - start;
  let firstFour = 0;
  let seen = 0;
  for (let i = start; i < end && seen < 4; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) {
      firstFour = firstFour * 10 + (c - 48);
      seen++;
    }
  }
  if (!knownIssuer(firstFour)) return false;
  let sum = 0;
  let double = false;
  for (let i = end - 1; i >= start; i--) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) continue;
    let d = c - 48;
    if (double && (d *= 2) > 9) d -= 9;
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}
