import type { FileOperationData, StatementDecision } from '../../../../events/index.js';
import type { SshRight } from '../../../config/schema.js';
import { Fxp, MAX_PACKET, Status, WRITING_OPEN_FLAGS, decodeRequest, decodeResponse, openFlagNames, statusName, statusPacket, type SftpRequest, type SftpResponse } from './sftp-codec.js';

export type FileOperation = Omit<FileOperationData, 'protocol' | 'channel'>;

export interface SftpRelayOptions {
  /** Whether the session may use a right (the policy's answer for this session). */
  check(rights: readonly SshRight[]): StatementDecision;
  record(op: FileOperation): void;
}

/** What one client chunk turns into: packets for the target, and answers the gateway gives itself. */
export interface ClientOutput {
  forward: Buffer[];
  /** Denials to send to the client now; null entries are queued until the target's stream is between packets. */
  reply: Buffer[];
}

interface OpenHandle {
  path: string;
  dir: boolean;
  read: { bytes: number; count: number; error?: SftpResponse };
  write: { bytes: number; count: number; error?: SftpResponse };
  entries: number;
}

/** How much of each response is read: every field the record needs sits in its first bytes. */
const HEAD_BYTES = 4 + 1024;

/** Requests that change nothing and serve readers and writers alike (clients stat and realpath before either). */
const ANY: readonly SshRight[] = ['sftp-read', 'sftp-write'];
const READ: readonly SshRight[] = ['sftp-read'];
const WRITE: readonly SshRight[] = ['sftp-write'];

const EXTENDED_READING = new Set(['statvfs@openssh.com', 'fstatvfs@openssh.com', 'limits@openssh.com', 'expand-path@openssh.com', 'home-directory', 'users-groups-by-id@openssh.com']);

/** Which rights a request needs; unknown extensions count as writing. */
function rightsFor(req: SftpRequest): readonly SshRight[] {
  switch (req.type) {
    case Fxp.INIT:
    case Fxp.CLOSE:
    case Fxp.FSTAT:
    case Fxp.LSTAT:
    case Fxp.STAT:
    case Fxp.REALPATH:
    case Fxp.OPENDIR:
    case Fxp.READDIR:
    case Fxp.READLINK:
      return ANY;
    case Fxp.OPEN:
      return (req.pflags ?? 0) & WRITING_OPEN_FLAGS ? WRITE : READ;
    case Fxp.READ:
      return READ;
    case Fxp.EXTENDED:
      return EXTENDED_READING.has(req.extended ?? '') ? ANY : WRITE;
    default:
      return WRITE;
  }
}

/**
 * Relays one SFTP subsystem channel without terminating it: the client's requests are framed, checked
 * against the session's rights and forwarded or answered with PERMISSION_DENIED by the gateway; the
 * target's responses pass through unchanged while their first bytes are read to match them to requests.
 * So the client talks to the real sftp-server (every extension, every version it speaks), and the
 * record holds each operation with its outcome.
 */
export class SftpRelay {
  private clientBuf: Buffer | null = null;
  private readonly pending = new Map<number, SftpRequest>();
  private readonly handles = new Map<string, OpenHandle>();
  // The target's stream: bytes left of the current packet, and its first bytes while they are collected.
  private left = 0;
  private head: Buffer[] = [];
  private headSize = 0;
  private headWant = 0;
  private readonly queued: Buffer[] = [];

  constructor(private readonly o: SftpRelayOptions) {}

  fromClient(chunk: Buffer): ClientOutput {
    const buf = this.clientBuf ? Buffer.concat([this.clientBuf, chunk]) : chunk;
    this.clientBuf = null;
    const out: ClientOutput = { forward: [], reply: [] };
    let at = 0;
    let runStart = 0;
    while (buf.length - at >= 4) {
      const len = buf.readUInt32BE(at);
      if (len < 5 || len > MAX_PACKET) throw new Error(`SFTP packet of ${len} bytes from the client`);
      if (buf.length - at < 4 + len) break;
      const packet = buf.subarray(at, at + 4 + len);
      const denial = this.request(packet);
      if (denial) {
        if (at > runStart) out.forward.push(buf.subarray(runStart, at));
        runStart = at + 4 + len;
        if (this.atBoundary()) out.reply.push(denial);
        else this.queued.push(denial);
      }
      at += 4 + len;
    }
    if (at > runStart) out.forward.push(buf.subarray(runStart, at));
    if (at < buf.length) this.clientBuf = Buffer.from(buf.subarray(at));
    return out;
  }

  /** Target bytes to send on to the client, with any queued denials put in between packets. */
  fromTarget(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    let sliceStart = 0;
    while (at < chunk.length) {
      if (this.left === 0) {
        // A new packet: its 4-byte length first, which may straddle chunks.
        const take = Math.min(4 - this.headSize, chunk.length - at);
        this.collect(chunk.subarray(at, at + take));
        at += take;
        if (this.headSize < 4) break;
        const total = 4 + Buffer.concat(this.head, this.headSize).readUInt32BE(0);
        this.left = total - 4;
        this.headWant = Math.min(total, HEAD_BYTES);
        if (this.left > 0) continue;
      } else {
        const take = Math.min(this.left, chunk.length - at);
        if (this.headSize < this.headWant) this.collect(chunk.subarray(at, at + Math.min(take, this.headWant - this.headSize)));
        at += take;
        this.left -= take;
        if (this.left > 0) break;
      }
      this.response(Buffer.concat(this.head, this.headSize));
      this.head = [];
      this.headSize = 0;
      if (this.queued.length) {
        out.push(chunk.subarray(sliceStart, at), ...this.queued.splice(0));
        sliceStart = at;
      }
    }
    if (sliceStart < chunk.length) out.push(sliceStart === 0 ? chunk : chunk.subarray(sliceStart));
    return out;
  }

  /** Records what never got an answer: the channel closed with files open. */
  end(reason: string): void {
    for (const [, h] of this.handles) this.closed(h, 'error', reason);
    this.handles.clear();
    for (const [, req] of this.pending) {
      if (req.type === Fxp.OPEN) this.o.record({ op: 'open', ...pathsOf(req), outcome: 'error', error: reason });
    }
    this.pending.clear();
  }

  private atBoundary(): boolean {
    return this.left === 0 && this.headSize === 0;
  }

  private collect(part: Buffer): void {
    // Copied: the chunk's memory is handed on to the client channel.
    this.head.push(Buffer.from(part));
    this.headSize += part.length;
  }

  /** Checks one client packet; returns the gateway's own answer when it is denied. */
  private request(packet: Buffer): Buffer | null {
    let req: SftpRequest;
    try {
      req = decodeRequest(packet);
    } catch {
      const id = packet.length >= 9 ? packet.readUInt32BE(5) : 0;
      return statusPacket(id, Status.BAD_MESSAGE, 'trailgate: malformed request');
    }
    const decision = this.o.check(rightsFor(req));
    if (decision.outcome === 'denied') {
      this.o.record({ ...describe(req, this.handles), outcome: 'denied', status: 'PERMISSION_DENIED', needs: decision.needs });
      return statusPacket(req.id, Status.PERMISSION_DENIED, `trailgate: needs the ${decision.needs.join(' or ')} right, which no rule grants [TG_POLICY_DENIED]`);
    }
    if (req.type === Fxp.INIT) return null;
    this.pending.set(req.id, req);
    return null;
  }

  private response(prefix: Buffer): void {
    let res: SftpResponse;
    try {
      res = decodeResponse(prefix);
    } catch {
      return;
    }
    const req = this.pending.get(res.id);
    if (!req) return;
    this.pending.delete(res.id);
    // Looked up now: a client may pipeline requests on a handle behind the open that returns it.
    const handle = req.handle !== undefined ? this.handles.get(req.handle) : undefined;
    const ok = res.type !== Fxp.STATUS || res.status === Status.OK;
    const outcome = ok ? 'ok' : 'error';
    const failure = ok ? {} : failureOf(res);
    switch (req.type) {
      case Fxp.OPEN:
      case Fxp.OPENDIR: {
        const dir = req.type === Fxp.OPENDIR;
        if (res.type === Fxp.HANDLE && res.handle !== undefined) {
          this.handles.set(res.handle, { path: req.path ?? '', dir, read: { bytes: 0, count: 0 }, write: { bytes: 0, count: 0 }, entries: 0 });
          if (!dir) this.o.record({ op: 'open', path: req.path ?? '', flags: openFlagNames(req.pflags ?? 0), outcome: 'ok' });
        } else {
          this.o.record({ op: dir ? 'list' : 'open', path: req.path ?? '', ...(dir ? {} : { flags: openFlagNames(req.pflags ?? 0) }), outcome: 'error', ...failure });
        }
        return;
      }
      case Fxp.READ:
        if (!handle) return;
        handle.read.count++;
        if (res.type === Fxp.DATA) handle.read.bytes += res.length ?? 0;
        else if (res.status !== Status.EOF) handle.read.error ??= res;
        return;
      case Fxp.WRITE:
        if (!handle) return;
        handle.write.count++;
        if (ok) handle.write.bytes += req.length ?? 0;
        else handle.write.error ??= res;
        return;
      case Fxp.READDIR:
        if (!handle) return;
        if (res.type === Fxp.NAME) handle.entries += res.length ?? 0;
        return;
      case Fxp.CLOSE:
        if (!handle || req.handle === undefined) return;
        this.handles.delete(req.handle);
        this.closed(handle, outcome, failure.error, failure.status);
        return;
      case Fxp.STAT:
      case Fxp.LSTAT:
        this.o.record({ op: 'stat', path: req.path ?? '', ...(res.type === Fxp.ATTRS && res.length !== undefined ? { bytes: res.length } : {}), outcome, ...failure });
        return;
      case Fxp.FSTAT:
      case Fxp.REALPATH:
      case Fxp.READLINK:
        return;
      default:
        this.o.record({ ...describe(req, this.handles), outcome, ...failure });
    }
  }

  /** A handle's summary: reads and writes first, then the close, so a reader sees the totals before the end. */
  private closed(h: OpenHandle, outcome: 'ok' | 'error', error?: string, status?: string): void {
    if (h.dir) {
      this.o.record({ op: 'list', path: h.path, count: h.entries, outcome, ...(error ? { error } : {}), ...(status ? { status } : {}) });
      return;
    }
    for (const op of ['read', 'write'] as const) {
      const t = h[op];
      if (t.count === 0) continue;
      this.o.record({ op, path: h.path, bytes: t.bytes, count: t.count, outcome: t.error ? 'error' : 'ok', ...(t.error ? failureOf(t.error) : {}) });
    }
    this.o.record({ op: 'close', path: h.path, outcome, ...(error ? { error } : {}), ...(status ? { status } : {}) });
  }
}

function failureOf(res: SftpResponse): { status?: string; error?: string } {
  if (res.type !== Fxp.STATUS) return { error: `unexpected response type ${res.type}` };
  return { status: statusName(res.status ?? -1), ...(res.message ? { error: res.message } : {}) };
}

function pathsOf(req: SftpRequest): { path?: string; toPath?: string } {
  return { ...(req.path !== undefined ? { path: req.path } : {}), ...(req.toPath !== undefined ? { toPath: req.toPath } : {}) };
}

/** The record of a request that needs no answer to describe. */
function describe(req: SftpRequest, handles: ReadonlyMap<string, OpenHandle>): Omit<FileOperation, 'outcome'> {
  const onHandle = req.handle !== undefined ? handles.get(req.handle)?.path : undefined;
  const path = req.path ?? onHandle;
  const base = { ...(path !== undefined ? { path } : {}), ...(req.toPath !== undefined ? { toPath: req.toPath } : {}) };
  switch (req.type) {
    case Fxp.OPEN:
      return { op: 'open', ...base, flags: openFlagNames(req.pflags ?? 0) };
    case Fxp.READ:
      return { op: 'read', ...base };
    case Fxp.WRITE:
      return { op: 'write', ...base, ...(req.length !== undefined ? { bytes: req.length } : {}) };
    case Fxp.SETSTAT:
    case Fxp.FSETSTAT:
      return { op: 'setstat', ...base };
    case Fxp.REMOVE:
      return { op: 'remove', ...base };
    case Fxp.MKDIR:
      return { op: 'mkdir', ...base };
    case Fxp.RMDIR:
      return { op: 'rmdir', ...base };
    case Fxp.RENAME:
      return { op: 'rename', ...base };
    case Fxp.SYMLINK:
      return { op: 'symlink', ...base };
    case Fxp.OPENDIR:
    case Fxp.READDIR:
      return { op: 'list', ...base };
    case Fxp.STAT:
    case Fxp.LSTAT:
    case Fxp.FSTAT:
      return { op: 'stat', ...base };
    case Fxp.READLINK:
      return { op: 'readlink', ...base };
    case Fxp.EXTENDED:
      if (req.extended === 'posix-rename@openssh.com') return { op: 'rename', ...base, request: req.extended };
      if (req.extended === 'hardlink@openssh.com') return { op: 'link', ...base, request: req.extended };
      return { op: 'extended', ...base, request: req.extended ?? '' };
    default:
      return { op: 'extended', ...base, request: `type ${req.type}` };
  }
}
