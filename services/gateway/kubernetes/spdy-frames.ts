import { Inflate, Z_SYNC_FLUSH } from 'pako';
import { SPDY3_DICTIONARY } from './spdy-dictionary.js';
import { StreamProtocolError } from './stream-protocol-error.js';

/**
 * SPDY/3.1 frames of one direction of a connection, read as they pass (Kubernetes' exec, attach and
 * port-forward before WebSocket; k8s.io/apimachinery/pkg/util/httpstream/spdy over moby/spdystream).
 * Only what a recording needs: which stream is which (SYN_STREAM headers), the bytes of DATA frames,
 * and stream resets. The header blocks of a direction share one zlib context with the SPDY/3
 * dictionary, so every header block (SYN_STREAM, SYN_REPLY, HEADERS) of the direction is inflated in
 * order. No I/O here: the relay pushes the bytes it relays and reads the events.
 */
export type SpdyEvent =
  | { kind: 'stream'; id: number; headers: Map<string, string[]>; fin: boolean }
  | { kind: 'data'; id: number; data: Buffer; fin: boolean }
  | { kind: 'reset'; id: number };

/** A byte stream that is not SPDY/3.1 as Kubernetes speaks it; the session ends with this reason. */
export class SpdyProtocolError extends StreamProtocolError {
  constructor(message: string) {
    super('TG_KUBE_SPDY_MALFORMED', message);
  }
}

export interface SpdyLimits {
  /** Largest control frame payload held whole (header blocks are small: a few hundred bytes). */
  controlFrameBytes: number;
  /** Largest inflated header block (a zlib bomb stops here). */
  headerBlockBytes: number;
  /** Most name/value pairs in one header block. */
  headerPairs: number;
}

export const DEFAULT_SPDY_LIMITS: SpdyLimits = { controlFrameBytes: 64 * 1024, headerBlockBytes: 256 * 1024, headerPairs: 256 };

const SYN_STREAM = 1;
const SYN_REPLY = 2;
const RST_STREAM = 3;
const SETTINGS = 4;
const PING = 6;
const GOAWAY = 7;
const HEADERS = 8;
const WINDOW_UPDATE = 9;
const KNOWN = new Set([SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE]);
const FLAG_FIN = 0x01;

export class SpdyFrameReader {
  private readonly head = Buffer.alloc(8);
  private have = 0;
  /** Payload bytes of the current frame still to come. */
  private remaining = 0;
  private control = false;
  private type = 0;
  private flags = 0;
  private streamId = 0;
  private body: Buffer[] = [];
  private inflater: Inflate | null = null;
  private failed: SpdyProtocolError | null = null;

  constructor(private readonly limits: SpdyLimits = DEFAULT_SPDY_LIMITS) {}

  /** Events of the frames `chunk` completes or continues; throws SpdyProtocolError for bytes that are not SPDY/3.1 (and ever after). */
  push(chunk: Buffer): SpdyEvent[] {
    if (this.failed) throw this.failed;
    try {
      return this.read(chunk);
    } catch (err) {
      this.failed = err instanceof SpdyProtocolError ? err : new SpdyProtocolError(`unreadable SPDY frame: ${(err as Error).message}`);
      throw this.failed;
    }
  }

  /** Whether the stream stopped between frames (a close in the middle of a frame is a truncated frame). */
  get atFrameBoundary(): boolean {
    return this.have === 0 && this.remaining === 0 && !this.failed;
  }

  private read(chunk: Buffer): SpdyEvent[] {
    const out: SpdyEvent[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.have < 8) {
        const n = Math.min(8 - this.have, chunk.length - i);
        chunk.copy(this.head, this.have, i, i + n);
        this.have += n;
        i += n;
        if (this.have < 8) break;
        this.startFrame(out);
        if (this.remaining === 0) this.endFrame(out);
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - i);
      const piece = chunk.subarray(i, i + n);
      this.remaining -= n;
      i += n;
      if (this.control) this.body.push(piece);
      else if (piece.length > 0) out.push({ kind: 'data', id: this.streamId, data: piece, fin: this.remaining === 0 && (this.flags & FLAG_FIN) !== 0 });
      if (this.remaining === 0) this.endFrame(out);
    }
    return out;
  }

  private startFrame(out: SpdyEvent[]): void {
    const h = this.head;
    this.control = (h[0]! & 0x80) !== 0;
    this.flags = h[4]!;
    this.remaining = h.readUIntBE(5, 3);
    if (!this.control) {
      this.streamId = h.readUInt32BE(0) & 0x7fffffff;
      if (this.streamId === 0) throw new SpdyProtocolError('a DATA frame on stream 0');
      // an empty frame that only ends its stream
      if (this.remaining === 0) out.push({ kind: 'data', id: this.streamId, data: Buffer.alloc(0), fin: (this.flags & FLAG_FIN) !== 0 });
      return;
    }
    const version = h.readUInt16BE(0) & 0x7fff;
    this.type = h.readUInt16BE(2);
    if (version !== 3) throw new SpdyProtocolError(`a control frame of SPDY version ${version}, not 3`);
    if (this.remaining > this.limits.controlFrameBytes) throw new SpdyProtocolError(`a control frame of ${this.remaining} bytes (more than ${this.limits.controlFrameBytes})`);
    if (!KNOWN.has(this.type)) throw new SpdyProtocolError(`an unknown control frame type ${this.type}`);
    this.body = [];
  }

  private endFrame(out: SpdyEvent[]): void {
    this.have = 0;
    if (!this.control) return;
    const body = this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body);
    this.body = [];
    const need = (n: number) => {
      if (body.length < n) throw new SpdyProtocolError(`a control frame of type ${this.type} with ${body.length} bytes (at least ${n})`);
    };
    switch (this.type) {
      case SYN_STREAM: {
        need(10);
        const id = body.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) throw new SpdyProtocolError('a SYN_STREAM for stream 0');
        out.push({ kind: 'stream', id, headers: this.headerBlock(body.subarray(10)), fin: (this.flags & FLAG_FIN) !== 0 });
        return;
      }
      case SYN_REPLY:
      case HEADERS:
        need(4);
        // not needed for the recording, but inflated so the direction's zlib context stays in step
        this.headerBlock(body.subarray(4));
        return;
      case RST_STREAM:
        need(8);
        out.push({ kind: 'reset', id: body.readUInt32BE(0) & 0x7fffffff });
        return;
      case WINDOW_UPDATE:
      case GOAWAY:
      case PING:
        need(fixedPayload(this.type));
        return;
      default:
        return;
    }
  }

  /** An SPDY/3 name/value block: inflated in this direction's context, then count, (length, name, length, value)*. */
  private headerBlock(compressed: Buffer): Map<string, string[]> {
    const block = this.inflate(compressed);
    const at = { i: 0 };
    const u32 = (what: string): number => {
      if (at.i + 4 > block.length) throw new SpdyProtocolError(`a header block ends inside ${what}`);
      const v = block.readUInt32BE(at.i);
      at.i += 4;
      return v;
    };
    const bytes = (n: number, what: string): string => {
      if (n > block.length - at.i) throw new SpdyProtocolError(`a header ${what} of ${n} bytes past the block's end`);
      const s = block.toString('latin1', at.i, at.i + n);
      at.i += n;
      return s;
    };
    const count = u32('its count');
    if (count > this.limits.headerPairs) throw new SpdyProtocolError(`a header block of ${count} pairs (more than ${this.limits.headerPairs})`);
    const headers = new Map<string, string[]>();
    for (let k = 0; k < count; k++) {
      const name = bytes(u32('a name length'), 'name').toLowerCase();
      const value = bytes(u32('a value length'), 'value');
      headers.set(name, [...(headers.get(name) ?? []), ...value.split('\0')]);
    }
    return headers;
  }

  private inflate(compressed: Buffer): Buffer {
    if (!this.inflater) this.inflater = new Inflate({ dictionary: SPDY3_DICTIONARY });
    const inf = this.inflater;
    const parts: Uint8Array[] = [];
    let size = 0;
    inf.onData = (c: Uint8Array) => {
      size += c.length;
      if (size > this.limits.headerBlockBytes) throw new SpdyProtocolError(`a header block inflating past ${this.limits.headerBlockBytes} bytes`);
      parts.push(c);
    };
    const ok = inf.push(compressed, Z_SYNC_FLUSH);
    if (!ok || inf.err) throw new SpdyProtocolError(`a header block that does not inflate (${inf.msg || `zlib error ${inf.err}`})`);
    if (inf.ended) throw new SpdyProtocolError('a header block that ends the header compression stream');
    return Buffer.concat(parts);
  }
}

/** Fixed payload sizes of the control frames read only for their length. */
function fixedPayload(type: number): number {
  return type === PING ? 4 : 8;
}
