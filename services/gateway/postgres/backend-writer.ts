import { Be } from './protocol.js';

/** Serializes the few server messages the gateway itself sends to clients. */

/** One backend message: its type byte, its length and the body. */
export function message(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type;
  out.writeInt32BE(body.length + 4, 1);
  body.copy(out, 5);
  return out;
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n, 0);
  return b;
}

function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

export interface ErrorFields {
  severity: 'ERROR' | 'FATAL';
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** ErrorResponse with severity, SQLSTATE, message, detail, hint. */
export function errorResponse(fields: ErrorFields): Buffer {
  const parts: Buffer[] = [];
  const add = (code: string, value: string | undefined) => {
    if (value !== undefined) parts.push(Buffer.from(code, 'ascii'), cstr(value));
  };
  add('S', fields.severity);
  add('V', fields.severity);
  add('C', fields.sqlstate);
  add('M', fields.message);
  add('D', fields.detail);
  add('H', fields.hint);
  parts.push(Buffer.from([0]));
  return message(Be.ErrorResponse, Buffer.concat(parts));
}

/** NoticeResponse: a line the client shows at once, even while its statement waits. */
export function noticeResponse(text: string): Buffer {
  const body = Buffer.concat([Buffer.from('S', 'ascii'), cstr('NOTICE'), Buffer.from('V', 'ascii'), cstr('NOTICE'), Buffer.from('C', 'ascii'), cstr('00000'), Buffer.from('M', 'ascii'), cstr(text), Buffer.from([0])]);
  return message(Be.NoticeResponse, body);
}

export function authenticationCleartextPassword(): Buffer {
  return message(Be.Authentication, int32(3));
}

export function authenticationOk(): Buffer {
  return message(Be.Authentication, int32(0));
}

export function backendKeyData(processId: number, secretKey: number): Buffer {
  return message(Be.BackendKeyData, Buffer.concat([int32(processId), int32(secretKey)]));
}

export function parameterStatus(name: string, value: string): Buffer {
  return message(Be.ParameterStatus, Buffer.concat([cstr(name), cstr(value)]));
}

export function readyForQuery(status: 'I' | 'T' | 'E'): Buffer {
  return message(Be.ReadyForQuery, Buffer.from(status, 'ascii'));
}

/** Tells a client asking for protocol 3.x (x > 0) or `_pq_` options what this gateway speaks. */
export function negotiateProtocolVersion(minor: number, unsupported: string[]): Buffer {
  return message(Be.NegotiateProtocolVersion, Buffer.concat([int32(minor), int32(unsupported.length), ...unsupported.map(cstr)]));
}
