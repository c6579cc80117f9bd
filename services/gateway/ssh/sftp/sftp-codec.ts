/**
 * SFTP version 3 (draft-ietf-secsh-filexfer-02, what OpenSSH speaks): packet types and the fields the
 * gateway reads. No I/O here; the relay frames the stream and asks these functions what a packet says.
 */

export const Fxp = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

export const Status = { OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, BAD_MESSAGE: 5, NO_CONNECTION: 6, CONNECTION_LOST: 7, OP_UNSUPPORTED: 8 } as const;
const STATUS_NAMES = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v, k])) as Record<number, string>;

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? `STATUS_${code}`;
}

/** SSH_FXF_* open flags, by the names events use. */
const OPEN_FLAGS: [number, string][] = [
  [0x01, 'read'],
  [0x02, 'write'],
  [0x04, 'append'],
  [0x08, 'create'],
  [0x10, 'truncate'],
  [0x20, 'exclusive'],
];
/** Flags that change the file: opening with any of them needs the right to write. */
export const WRITING_OPEN_FLAGS = 0x02 | 0x04 | 0x08 | 0x10 | 0x20;

export function openFlagNames(pflags: number): string[] {
  return OPEN_FLAGS.filter(([bit]) => pflags & bit).map(([, name]) => name);
}

/** Largest packet accepted from either side; OpenSSH's sftp-server allows 256 KiB. */
export const MAX_PACKET = 1024 * 1024;

/** Reads SFTP's big-endian fields from one packet body; throws RangeError past the end. */
export class FieldReader {
  private at: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
  ) {
    this.at = start;
  }

  byte(): number {
    if (this.at + 1 > this.buf.length) throw new RangeError('short packet');
    return this.buf[this.at++]!;
  }

  uint32(): number {
    if (this.at + 4 > this.buf.length) throw new RangeError('short packet');
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }

  uint64(): number {
    if (this.at + 8 > this.buf.length) throw new RangeError('short packet');
    const v = Number(this.buf.readBigUInt64BE(this.at));
    this.at += 8;
    return v;
  }

  bytes(): Buffer {
    const len = this.uint32();
    if (this.at + len > this.buf.length) throw new RangeError('short packet');
    const v = this.buf.subarray(this.at, this.at + len);
    this.at += len;
    return v;
  }

  /** A length-prefixed field whose declared length may run past what was read (the rest of a large packet). */
  length(): number {
    return this.uint32();
  }

  string(): string {
    return this.bytes().toString('utf8');
  }
}

/** What a client request asks for, as far as policy and the record need it. */
export interface SftpRequest {
  type: number;
  id: number;
  path?: string;
  toPath?: string;
  handle?: string;
  pflags?: number;
  /** WRITE: data bytes carried. */
  length?: number;
  /** EXTENDED: the request name. */
  extended?: string;
}

/** Decodes a complete request packet (4-byte length included). INIT carries a version, not an id. */
export function decodeRequest(packet: Buffer): SftpRequest {
  const r = new FieldReader(packet, 4);
  const type = r.byte();
  if (type === Fxp.INIT) return { type, id: r.uint32() };
  const id = r.uint32();
  switch (type) {
    case Fxp.OPEN: {
      const path = r.string();
      return { type, id, path, pflags: r.uint32() };
    }
    case Fxp.CLOSE:
    case Fxp.FSTAT:
    case Fxp.FSETSTAT:
    case Fxp.READDIR:
      return { type, id, handle: r.bytes().toString('hex') };
    case Fxp.READ: {
      const handle = r.bytes().toString('hex');
      r.uint64();
      return { type, id, handle, length: r.uint32() };
    }
    case Fxp.WRITE: {
      const handle = r.bytes().toString('hex');
      r.uint64();
      return { type, id, handle, length: r.length() };
    }
    case Fxp.LSTAT:
    case Fxp.STAT:
    case Fxp.SETSTAT:
    case Fxp.OPENDIR:
    case Fxp.REMOVE:
    case Fxp.MKDIR:
    case Fxp.RMDIR:
    case Fxp.REALPATH:
    case Fxp.READLINK:
      return { type, id, path: r.string() };
    case Fxp.RENAME:
    case Fxp.SYMLINK: {
      const path = r.string();
      return { type, id, path, toPath: r.string() };
    }
    case Fxp.EXTENDED: {
      const extended = r.string();
      const req: SftpRequest = { type, id, extended };
      if (extended === 'posix-rename@openssh.com' || extended === 'hardlink@openssh.com') {
        req.path = r.string();
        req.toPath = r.string();
      } else if (extended === 'statvfs@openssh.com' || extended === 'lsetstat@openssh.com' || extended === 'expand-path@openssh.com') {
        req.path = r.string();
      } else if (extended === 'fstatvfs@openssh.com' || extended === 'fsync@openssh.com') {
        req.handle = r.bytes().toString('hex');
      }
      return req;
    }
    default:
      return { type, id };
  }
}

/** What a server response says, read from its first bytes (large DATA and NAME bodies are not needed). */
export interface SftpResponse {
  type: number;
  id: number;
  status?: number;
  message?: string;
  handle?: string;
  /** DATA: bytes carried; NAME: entries; ATTRS: file size when present. */
  length?: number;
}

/** Decodes a response from a prefix of its packet (4-byte length included); fields past the prefix stay unset. */
export function decodeResponse(prefix: Buffer): SftpResponse {
  const r = new FieldReader(prefix, 4);
  const type = r.byte();
  if (type === Fxp.VERSION) return { type, id: -1 };
  const res: SftpResponse = { type, id: r.uint32() };
  try {
    switch (type) {
      case Fxp.STATUS:
        res.status = r.uint32();
        res.message = r.string();
        break;
      case Fxp.HANDLE:
        res.handle = r.bytes().toString('hex');
        break;
      case Fxp.DATA:
      case Fxp.NAME:
        res.length = r.length();
        break;
      case Fxp.ATTRS:
        if (r.uint32() & 0x1) res.length = r.uint64();
        break;
    }
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
  }
  return res;
}

/** A STATUS response the gateway sends in the target's place. */
export function statusPacket(id: number, code: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const body = Buffer.alloc(1 + 4 + 4 + 4 + msg.length + 4);
  let at = body.writeUInt8(Fxp.STATUS, 0);
  at = body.writeUInt32BE(id, at);
  at = body.writeUInt32BE(code, at);
  at = body.writeUInt32BE(msg.length, at);
  at += msg.copy(body, at);
  body.writeUInt32BE(0, at);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length, 0);
  return Buffer.concat([len, body]);
}
