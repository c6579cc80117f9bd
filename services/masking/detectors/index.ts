import { findCards } from './card.js';
import { findCloudTokens } from './cloud-token.js';
import { findEmails } from './email.js';
import { findIbans } from './iban.js';
import { findJwts } from './jwt.js';
import { findPrivateKeys } from './private-key.js';
import type { Span } from './span.js';
import { findVcsTokens } from './vcs-token.js';

// Content detectors for sensitive values inside free text (result cells whose column is unknown, statement text,
// bind parameters, typed SSH input). Every detector is linear in the text: see each file for its cost per cell.
import type { DetectorName } from './names.js';

export { ALL_DETECTORS, HIGH_PRECISION_DETECTORS, type DetectorName } from './names.js';

export interface DetectorHit {
  detector: DetectorName;
  /** UTF-16 offsets in the scanned text, [start, end). */
  start: number;
  end: number;
}

const FINDERS: Record<DetectorName, (text: string) => Span[]> = {
  email: findEmails,
  card: findCards,
  iban: findIbans,
  jwt: findJwts,
  'cloud-token': findCloudTokens,
  'vcs-token': findVcsTokens,
  'private-key': findPrivateKeys,
};

/** Non-overlapping hits in text order; where two detectors claim overlapping text the earlier, then longer, hit wins. */
export function findSensitive(text: string, detectors: readonly DetectorName[]): DetectorHit[] {
  const all: DetectorHit[] = [];
  for (const detector of detectors) {
    for (const span of FINDERS[detector](text)) all.push({ detector, start: span.start, end: span.end });
  }
  if (all.length < 2) return all;
  all.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: DetectorHit[] = [];
  let reached = -1;
  for (const hit of all) {
    if (hit.start < reached) continue;
    out.push(hit);
    reached = hit.end;
  }
  return out;
}

/** The marker that replaces a hit: names the detector, never the value or its length. */
export function maskMarker(detector: DetectorName): string {
  return `[masked:${detector}]`;
}

/** `text` with every hit replaced by its marker, and the number of hits per detector. */
export function redactSensitive(text: string, detectors: readonly DetectorName[]): { text: string; hits: Partial<Record<DetectorName, number>> } {
  const found = findSensitive(text, detectors);
  if (found.length === 0) return { text, hits: {} };
  const hits: Partial<Record<DetectorName, number>> = {};
  let out = '';
  let last = 0;
  for (const hit of found) {
    out += text.slice(last, hit.start) + maskMarker(hit.detector);
    last = hit.end;
    hits[hit.detector] = (hits[hit.detector] ?? 0) + 1;
  }
  return { text: out + text.slice(last), hits };
}
