import { scanWork, type Span } from './span.js';

// Vendor tokens have one shape: a literal prefix, a run of one character class with length bounds, and characters
// that may not touch it on either side. Matched by hand, exactly as the regular expression
// (?<!notBefore)literal head body{min,max} tail (?!notAfter) would match (greedy, then backtracking), but with every
// read counted. A candidate is an occurrence of the literal whose left neighbour is allowed; since that neighbour
// is never a body character, candidates' runs do not overlap, and a cell costs O(length).

export interface TokenFormat {
  /** Found with indexOf; the match starts `lead` characters before it. */
  literal: string;
  lead: number;
  /** The body's start for the occurrence of the literal at `at` (checking the lead and anything between), or -1. */
  head: (text: string, at: number) => number;
  /** A character that may not precede the match (it would be part of a longer word); null when none is. */
  notBefore: ((c: number) => boolean) | null;
  body: (c: number) => boolean;
  min: number;
  max: number;
  /** Fixed text right after the body (the "==" of an Azure key). */
  tail?: string;
  /** A character that may not follow the match; null when none is. */
  notAfter: ((c: number) => boolean) | null;
  /** The reported span is the body (and tail) only: the secret inside a longer text such as `sig=`. */
  bodyOnly?: boolean;
  /** A last check of the reported value. */
  accept?: (value: string) => boolean;
}

/** Every match of `format` in `text`, left to right, none overlapping (a match resumes the search after its end). */
export function findTokens(text: string, format: TokenFormat): Span[] {
  const out: Span[] = [];
  const { literal, lead, notBefore, body, min, max, tail, notAfter } = format;
  const n = text.length;
  let from = 0;
  for (let at = text.indexOf(literal, from); at !== -1; at = text.indexOf(literal, from)) {
    from = at + 1;
    const start = at - lead;
    if (start < 0 || (notBefore !== null && notBefore(text.charCodeAt(start - 1)))) continue;
    const b = format.head(text, at);
    if (b === -1) continue;
    scanWork.candidates++;
    let run = 0;
    while (run <= max && b + run < n && body(text.charCodeAt(b + run))) run++;
    scanWork.reads += b - start + run + 1;
    let matchEnd = -1;
    for (let e = Math.min(run, max); e >= min; e--) {
      scanWork.reads++;
      let end = b + e;
      if (tail !== undefined) {
        if (!text.startsWith(tail, end)) continue;
        end += tail.length;
      }
      if (notAfter !== null && notAfter(text.charCodeAt(end))) continue;
      matchEnd = end;
      break;
    }
    if (matchEnd === -1) continue;
    from = matchEnd;
    const s = format.bodyOnly ? b : start;
    if (format.accept === undefined || format.accept(text.slice(s, matchEnd))) out.push({ start: s, end: matchEnd });
  }
  return out;
}

/** The body starts right after the literal. */
export const afterLiteral = (literal: string) => (_text: string, at: number): number => at + literal.length;

/** Every token of any of `formats`: one indexOf pass per format (most texts hold no literal), a bounded run per candidate. */
export function findTokensOfFormats(text: string, formats: readonly TokenFormat[]): Span[] {
  let out: Span[] | null = null;
  for (const format of formats) {
    if (!text.includes(format.literal)) continue;
    const found = findTokens(text, format);
    if (found.length) out = out ? out.concat(found) : found;
  }
  return out ?? [];
}
