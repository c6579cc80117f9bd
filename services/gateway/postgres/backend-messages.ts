import { BufferReader } from './buffer-reader.js';

/** Decoders for the few target messages the relay looks into; rows and copy data are never decoded. */

export interface ServerError {
  severity: string;
  sqlstate: string;
  message: string;
}

export function decodeErrorFields(body: Buffer): ServerError {
  const out: ServerError = { severity: '', sqlstate: '', message: '' };
  const r = new BufferReader(body);
  while (r.remaining > 0) {
    const code = r.byte();
    if (code === 0) break;
    const value = r.cstring();
    if (code === 0x56 /* V */ || (code === 0x53 /* S */ && !out.severity)) out.severity = value;
    else if (code === 0x43 /* C */) out.sqlstate = value;
    else if (code === 0x4d /* M */) out.message = value;
  }
  return out;
}

export function decodeCommandTag(body: Buffer): string {
  return new BufferReader(body).cstring();
}

/** Rows affected or returned, from a tag such as `INSERT 0 5`, `SELECT 3` or `COPY 10`. */
export function rowsFromTag(tag: string): number {
  const last = tag.slice(tag.lastIndexOf(' ') + 1);
  const n = Number(last);
  return Number.isSafeInteger(n) ? n : 0;
}

export function decodeNotification(body: Buffer): { processId: number; channel: string; payload: string } {
  const r = new BufferReader(body);
  return { processId: r.int32(), channel: r.cstring(), payload: r.cstring() };
}
