import type { ParameterValue } from '../../../events/index.js';
import { BufferReader } from './buffer-reader.js';
import { ProtocolError } from './protocol.js';

export interface ParseMessage {
  name: string;
  text: string;
  parameterTypes: number[];
}

export interface BindMessage {
  portal: string;
  statement: string;
  parameters: ParameterValue[];
}

export interface ExecuteMessage {
  portal: string;
  maxRows: number;
}

export interface DescribeOrClose {
  kind: 'S' | 'P';
  name: string;
}

export function decodeQuery(body: Buffer): string {
  return new BufferReader(body).cstring();
}

export function decodeParse(body: Buffer): ParseMessage {
  const r = new BufferReader(body);
  const name = r.cstring();
  const text = r.cstring();
  const count = r.int16();
  const parameterTypes: number[] = [];
  for (let i = 0; i < count; i++) parameterTypes.push(r.int32() >>> 0);
  return { name, text, parameterTypes };
}

export function decodeBind(body: Buffer): BindMessage {
  const r = new BufferReader(body);
  const portal = r.cstring();
  const statement = r.cstring();
  const formatCount = r.int16();
  const formats: number[] = [];
  for (let i = 0; i < formatCount; i++) formats.push(r.int16());
  const count = r.int16();
  if (count < 0 || (formatCount > 1 && formatCount !== count)) throw new ProtocolError('TG_PG_MALFORMED', 'Bind has inconsistent parameter format codes');
  const parameters: ParameterValue[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.int32();
    if (len === -1) {
      parameters.push(null);
      continue;
    }
    const value = r.bytes(len);
    const format = formatCount === 0 ? 0 : formatCount === 1 ? formats[0] : formats[i];
    // Binary parameters are recorded verbatim, base64-encoded, as they cannot be shown as text.
    parameters.push(format === 1 ? { base64: value.toString('base64') } : value.toString('utf8'));
  }
  return { portal, statement, parameters };
}

export function decodeExecute(body: Buffer): ExecuteMessage {
  const r = new BufferReader(body);
  return { portal: r.cstring(), maxRows: r.int32() };
}

export function decodeDescribeOrClose(body: Buffer): DescribeOrClose {
  const r = new BufferReader(body);
  const kind = String.fromCharCode(r.byte());
  if (kind !== 'S' && kind !== 'P') throw new ProtocolError('TG_PG_MALFORMED', `Describe/Close target must be 'S' or 'P', got '${kind}'`);
  return { kind, name: r.cstring() };
}

export function decodeFunctionCall(body: Buffer): { oid: number } {
  return { oid: new BufferReader(body).int32() >>> 0 };
}

export function decodePassword(body: Buffer): string {
  return new BufferReader(body).cstring();
}

/** Startup parameters: pairs of C strings ended by an empty name. */
export function decodeStartupParameters(body: Buffer): Record<string, string> {
  const r = new BufferReader(body);
  const params: Record<string, string> = {};
  for (;;) {
    const key = r.cstring();
    if (key === '') break;
    params[key] = r.cstring();
  }
  return params;
}

export function decodeCancelRequest(body: Buffer): { processId: number; secretKey: number } {
  const r = new BufferReader(body);
  return { processId: r.int32(), secretKey: r.int32() };
}
