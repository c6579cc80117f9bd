import { ProtocolError, SqlState } from './protocol.js';

/** One complete client message; `raw` includes the 5-byte header and is what gets forwarded. */
export interface FrontendMessage {
  type: number;
  /** Body without the header. */
  body: Buffer;
  raw: Buffer;
}

/** One startup-phase packet (no type byte): startup, SSL, GSSENC or cancel request. */
export interface StartupPacket {
  code: number;
  body: Buffer;
}

/**
 * Splits the client's byte stream into messages without copying complete ones;
 * a message that spans chunks is assembled once, when its last byte arrives.
 */
export class FrontendFramer {
  private parts: Buffer[] = [];
  private buffered = 0;
  /** Size of the partial message at the head, so a large one is not re-assembled on every chunk. */
  private needed = 0;

  constructor(private readonly maxMessageBytes: number) {}

  push(chunk: Buffer): void {
    this.parts.push(chunk);
    this.buffered += chunk.length;
  }

  get pendingBytes(): number {
    return this.buffered;
  }

  /** Takes everything buffered (after the startup phase hands over to the relay). */
  drain(): Buffer {
    const all = this.buffered ? this.flat() : Buffer.alloc(0);
    this.parts = [];
    this.buffered = 0;
    this.needed = 0;
    return all;
  }

  nextStartupPacket(): StartupPacket | null {
    if (this.buffered < 4) return null;
    const head = this.peek(4);
    const length = head.readInt32BE(0);
    if (length < 8 || length > 10_000) {
      throw new ProtocolError('TG_PG_BAD_STARTUP', `invalid startup packet length ${length}`);
    }
    if (this.buffered < length) return null;
    const packet = this.take(length);
    return { code: packet.readInt32BE(4), body: packet.subarray(8) };
  }

  /** Returns up to `limit` complete messages in order; the remainder stays buffered. */
  messages(limit = Infinity): FrontendMessage[] {
    const out: FrontendMessage[] = [];
    if (this.buffered < 5 || this.buffered < this.needed) return out;
    this.needed = 0;
    const data = this.flat();
    let offset = 0;
    while (data.length - offset >= 5 && out.length < limit) {
      const type = data[offset]!;
      const length = data.readInt32BE(offset + 1);
      if (length < 4) throw new ProtocolError('TG_PG_BAD_LENGTH', `invalid length ${length} in message type '${String.fromCharCode(type)}'`);
      if (length + 1 > this.maxMessageBytes) {
        throw new ProtocolError('TG_PG_MESSAGE_TOO_LARGE', `message of ${length + 1} bytes exceeds the gateway limit of ${this.maxMessageBytes} bytes (postgres.maxMessageBytes)`, SqlState.ProgramLimitExceeded);
      }
      if (data.length - offset < length + 1) {
        this.needed = length + 1;
        break;
      }
      const raw = data.subarray(offset, offset + length + 1);
      out.push({ type, body: raw.subarray(5), raw });
      offset += length + 1;
    }
    const rest = data.subarray(offset);
    this.parts = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  private flat(): Buffer {
    if (this.parts.length === 1) return this.parts[0]!;
    const all = Buffer.concat(this.parts, this.buffered);
    this.parts = [all];
    return all;
  }

  private peek(n: number): Buffer {
    return this.flat().subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.flat();
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.parts = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return taken;
  }
}
