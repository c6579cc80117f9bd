import type { TrailRedactor } from '../../masking/detectors/trail-redactor.js';
import type { FrontendMessage } from './frontend-framer.js';
import { Fe } from './protocol.js';

// Client messages as the trail's byte chunks keep them: values the trail's detectors find are overwritten with a
// marker of the same length, so every recorded length field and offset stays exact. The target gets `raw`.

/** Messages that carry user text: statements, parameters, function arguments, COPY data, a COPY failure reason. */
const CARRIES_TEXT = new Set<number>([Fe.Query, Fe.Parse, Fe.Bind, Fe.FunctionCall, Fe.CopyData, Fe.CopyFail]);

/** The bytes to record for `msg`: `msg.raw` itself when nothing was found. */
export function recordedClientMessage(msg: FrontendMessage, trail: TrailRedactor): Buffer {
  if (!CARRIES_TEXT.has(msg.type)) return msg.raw;
  return trail.bytes(msg.raw, scanView(msg));
}

/** Unframed bytes (a malformed or cut-off message) scanned as they are. */
export function recordedClientBytes(raw: Buffer, trail: TrailRedactor): Buffer {
  return trail.bytes(raw, raw.toString('latin1'));
}

/**
 * The message as latin1 with its header and binary structure (lengths, counts, format codes, OIDs) blanked to spaces,
 * so a length byte that happens to be a digit or letter does not glue itself to the value after it.
 */
function scanView(msg: FrontendMessage): string {
  const v = Buffer.from(msg.raw);
  v.fill(0x20, 0, Math.min(5, v.length));
  try {
    if (msg.type === Fe.Bind) blankBind(v);
    else if (msg.type === Fe.FunctionCall) blankFunctionCall(v);
    else if (msg.type === Fe.Parse) blankParse(v);
  } catch {
    // Malformed structure: the relay refuses the message; the view keeps what it blanked so far.
  }
  return v.toString('latin1');
}

function cstringEnd(v: Buffer, at: number): number {
  const nul = v.indexOf(0, at);
  if (nul === -1) throw new RangeError('unterminated string');
  return nul + 1;
}

function blank(v: Buffer, from: number, length: number): number {
  if (from + length > v.length) throw new RangeError('short message');
  v.fill(0x20, from, from + length);
  return from + length;
}

/** Format codes, then counted length-prefixed values; blanks all but the values. */
function blankValues(v: Buffer, at: number): number {
  const formats = v.readInt16BE(at);
  at = blank(v, at, 2 + 2 * Math.max(0, formats));
  const count = v.readInt16BE(at);
  at = blank(v, at, 2);
  for (let i = 0; i < count; i++) {
    const length = v.readInt32BE(at);
    at = blank(v, at, 4);
    if (length > 0) at += length;
  }
  return at;
}

function blankBind(v: Buffer): void {
  const at = blankValues(v, cstringEnd(v, cstringEnd(v, 5)));
  blank(v, at, v.length - at);
}

function blankFunctionCall(v: Buffer): void {
  const at = blankValues(v, blank(v, 5, 4));
  blank(v, at, v.length - at);
}

function blankParse(v: Buffer): void {
  const at = cstringEnd(v, cstringEnd(v, 5));
  blank(v, at, v.length - at);
}
