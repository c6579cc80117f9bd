import { StreamProtocolError } from './stream-protocol-error.js';

/**
 * WebSocket frames (RFC 6455) of one direction of an exec or attach, read as they pass: the pieces of each
 * binary message with the channel its first byte names (the remotecommand channel protocol, channel-protocol.ts).
 * Nothing is held but a frame header: a message's data is passed on as it arrives, unmasked when the client
 * sent it. Control frames (close, ping, pong) and text messages pass unread. No I/O here.
 */
export interface WsChannelData {
  channel: number;
  data: Buffer;
  /** The last piece of its message. */
  end: boolean;
}

export class WsProtocolError extends StreamProtocolError {
  constructor(message: string) {
    super('TG_KUBE_WEBSOCKET_MALFORMED', message);
  }
}

const CONTINUATION = 0;
const TEXT = 1;
const BINARY = 2;

export class WsFrameReader {
  private readonly header = Buffer.alloc(14);
  private have = 0;
  private remaining = 0;
  private inFrame = false;
  private fin = false;
  private control = false;
  private readonly mask = Buffer.alloc(4);
  private maskAt = 0;
  /** A data message is open (its first frame came, its FIN frame not yet). */
  private inMessage = false;
  private binary = false;
  /** The open binary message's channel; -1 until its first payload byte. */
  private channel = -1;
  /** The open message's end was passed on. */
  private ended = false;

  /** `masked`: the client's frames are masked, the server's are not (RFC 6455 5.1); anything else is refused. */
  constructor(private readonly masked: boolean) {}

  get atFrameBoundary(): boolean {
    return !this.inFrame && this.have === 0;
  }

  push(chunk: Buffer): WsChannelData[] {
    const out: WsChannelData[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (!this.inFrame) {
        while (i < chunk.length && this.have < this.headerLength()) this.header[this.have++] = chunk[i++]!;
        if (this.have < this.headerLength()) break;
        this.startFrame(out);
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - i);
      let piece = chunk.subarray(i, i + n);
      i += n;
      this.remaining -= n;
      if (!this.control && this.binary) {
        if (this.masked) piece = this.unmask(piece);
        this.data(piece, out);
      }
      if (this.remaining === 0) this.endFrame(out);
    }
    return out;
  }

  private headerLength(): number {
    if (this.have < 2) return 2;
    const len = this.header[1]! & 0x7f;
    return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (this.header[1]! & 0x80 ? 4 : 0);
  }

  private startFrame(out: WsChannelData[]): void {
    const h = this.header;
    if (h[0]! & 0x70) throw new WsProtocolError('a frame with reserved bits set (no extension was agreed)');
    const opcode = h[0]! & 0x0f;
    this.fin = (h[0]! & 0x80) !== 0;
    this.control = opcode >= 8;
    if ((h[1]! & 0x80) !== 0 !== this.masked) throw new WsProtocolError(this.masked ? 'an unmasked frame from the client' : 'a masked frame from the server');
    const len7 = h[1]! & 0x7f;
    let at = 2;
    if (len7 === 126) {
      this.remaining = h.readUInt16BE(2);
      at = 4;
    } else if (len7 === 127) {
      const big = h.readBigUInt64BE(2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new WsProtocolError(`a frame of ${big} bytes`);
      this.remaining = Number(big);
      at = 10;
    } else this.remaining = len7;
    if (this.masked) h.copy(this.mask, 0, at, at + 4);
    this.maskAt = 0;
    this.have = 0;
    if (this.control) {
      if (opcode > 10) throw new WsProtocolError(`a frame of unknown opcode ${opcode}`);
      if (!this.fin || this.remaining > 125) throw new WsProtocolError('a fragmented or oversized control frame');
    } else if (opcode === CONTINUATION) {
      if (!this.inMessage) throw new WsProtocolError('a continuation frame outside a message');
    } else if (opcode === TEXT || opcode === BINARY) {
      if (this.inMessage) throw new WsProtocolError('a new message inside an unfinished one');
      this.inMessage = true;
      this.binary = opcode === BINARY;
      this.channel = -1;
      this.ended = false;
    } else throw new WsProtocolError(`a frame of unknown opcode ${opcode}`);
    this.inFrame = true;
    if (this.remaining === 0) this.endFrame(out);
  }

  private data(piece: Buffer, out: WsChannelData[]): void {
    if (this.channel < 0) {
      if (piece.length === 0) return;
      this.channel = piece[0]!;
      piece = piece.subarray(1);
    }
    const end = this.fin && this.remaining === 0;
    if (end) this.ended = true;
    if (piece.length > 0 || end) out.push({ channel: this.channel, data: piece, end });
  }

  private endFrame(out: WsChannelData[]): void {
    this.inFrame = false;
    if (this.control) return;
    if (!this.fin) return;
    // a binary message whose last frame was empty still ends its channel's message
    if (this.binary && this.channel >= 0 && !this.ended) out.push({ channel: this.channel, data: Buffer.alloc(0), end: true });
    this.inMessage = false;
    this.binary = false;
    this.channel = -1;
  }

  private unmask(piece: Buffer): Buffer {
    const out = Buffer.allocUnsafe(piece.length);
    for (let k = 0; k < piece.length; k++) out[k] = piece[k]! ^ this.mask[(this.maskAt + k) & 3]!;
    this.maskAt = (this.maskAt + piece.length) & 3;
    return out;
  }
}

/** A binary message from the server: FIN, opcode 2, unmasked, the payload. */
export function serverMessage(payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x82, len]) : len < 65536 ? Buffer.from([0x82, 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([0x82, 127]), bigLength(len)]);
  return Buffer.concat([head, payload]);
}

/** A close frame from the server with its status code. */
export function serverClose(code: number): Buffer {
  return Buffer.from([0x88, 2, code >> 8, code & 0xff]);
}

function bigLength(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}
