import type { CommandStartedData, ParameterValue } from '../../../events/index.js';
import { findSensitive, maskMarker, redactSensitive } from './index.js';
import type { DetectorName } from './names.js';
import { TRAIL_SCAN_DEFAULT, type TrailScanConfig } from './trail-config.js';

export type DetectorHits = Partial<Record<DetectorName, number>>;

/**
 * What the trail records of the client's side, with detector hits replaced by markers: statement text and parameters
 * in events, raw bytes in chunks. Only the record changes; what is forwarded to the target never does.
 */
export class TrailRedactor {
  constructor(readonly detectors: readonly DetectorName[]) {}

  /** The redactor a target's `masking.trail` asks for, or null when the trail is recorded as sent. */
  static of(config: TrailScanConfig | undefined): TrailRedactor | null {
    const c = config ?? TRAIL_SCAN_DEFAULT;
    return c.scan && c.detectors.length > 0 ? new TrailRedactor(c.detectors) : null;
  }

  /** Text with each hit replaced by `[masked:<detector>]`. */
  text(text: string, hits: DetectorHits): string {
    const out = redactSensitive(text, this.detectors);
    addHits(hits, out.hits);
    return out.text;
  }

  /** Bound parameters: text through `text`, binary values masked in place (same length) and re-encoded. */
  parameters(values: readonly ParameterValue[], hits: DetectorHits): ParameterValue[] {
    return values.map((v) => {
      if (v === null) return v;
      if (typeof v === 'string') return this.text(v, hits);
      const raw = Buffer.from(v.base64, 'base64');
      const masked = this.bytes(raw, raw.toString('latin1'), hits);
      return masked === raw ? v : { base64: masked.toString('base64') };
    });
  }

  /**
   * Raw bytes with each hit overwritten by a marker of the same length, so recorded protocol framing and offsets
   * stay exact. `view` is the bytes as latin1 (one character per byte), with protocol structure blanked by the
   * caller so length fields do not glue to values. Returns `raw` itself when nothing was found.
   */
  bytes(raw: Buffer, view: string, hits?: DetectorHits): Buffer {
    const found = findSensitive(view, this.detectors);
    if (found.length === 0) return raw;
    const out = Buffer.from(raw);
    for (const hit of found) {
      out.write(sameLengthMarker(hit.detector, hit.end - hit.start), hit.start, 'latin1');
      if (hits) hits[hit.detector] = (hits[hit.detector] ?? 0) + 1;
    }
    return out;
  }
}

/** The trail scan every target gets unless its config says otherwise (SSH targets: always, for now). */
export const DEFAULT_TRAIL = new TrailRedactor(TRAIL_SCAN_DEFAULT.detectors);

/** `[masked:card]` padded with '*' to `length`; shorter values get '[masked]' or stars. Hits are ASCII, so UTF-8 stays valid. */
export function sameLengthMarker(detector: DetectorName, length: number): string {
  const marker = maskMarker(detector);
  if (length >= marker.length) return marker + '*'.repeat(length - marker.length);
  if (length >= 8) return '[masked' + '*'.repeat(length - 8) + ']';
  return '*'.repeat(length);
}

export function addHits(into: DetectorHits, from: DetectorHits): void {
  for (const [d, n] of Object.entries(from) as [DetectorName, number][]) into[d] = (into[d] ?? 0) + n;
}

/** A command.started record with its text and parameters redacted and `detectorHits` set when anything was found. */
export function redactedCommand(data: CommandStartedData, trail: TrailRedactor): CommandStartedData {
  const hits: DetectorHits = {};
  const text = trail.text(data.text, hits);
  const parameters = data.parameters ? trail.parameters(data.parameters, hits) : undefined;
  if (Object.keys(hits).length === 0) return data;
  return { ...data, text, ...(parameters ? { parameters } : {}), detectorHits: hits };
}
