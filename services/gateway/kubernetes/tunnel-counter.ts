/**
 * Byte counts of a port-forward tunnel, read from its WebSocket byte stream without relaying through a parser:
 * the payload of data frames (headers, masks and control frames left out), and, when the tunnel carries SPDY
 * (kubectl 1.31+'s `SPDY/3.1+portforward.k8s.io`), the payload of SPDY data frames inside it: the bytes the
 * forwarded connections carried, exactly.
 */
export class TunnelCounter {
  /** WebSocket payload bytes of data frames. */
  payload = 0;
  private header = Buffer.alloc(0);
  /** Payload bytes of the current WebSocket frame still to come, and where in its mask the next one is. */
  private remaining = 0;
  private counting = false;
  private mask: Buffer | null = null;
  private maskAt = 0;
  private readonly spdy: SpdyDataCounter | null;

  constructor(spdy: boolean) {
    this.spdy = spdy ? new SpdyDataCounter() : null;
  }

  /** SPDY data frame payload bytes, or null when the tunnel is not SPDY. */
  get forwarded(): number | null {
    return this.spdy ? this.spdy.data : null;
  }

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        if (this.counting) {
          this.payload += n;
          if (this.spdy) this.spdy.push(chunk.subarray(i, i + n), this.mask, this.maskAt);
          this.maskAt = (this.maskAt + n) & 3;
        }
        this.remaining -= n;
        i += n;
        continue;
      }
      // collect a whole frame header (2 to 14 bytes)
      while (i < chunk.length && this.header.length < headerLength(this.header)) this.header = Buffer.concat([this.header, chunk.subarray(i, ++i)]);
      if (this.header.length < headerLength(this.header)) return;
      const h = this.header;
      const len7 = h[1]! & 0x7f;
      const at = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
      this.remaining = len7 === 126 ? h.readUInt16BE(2) : len7 === 127 ? Number(h.readBigUInt64BE(2)) : len7;
      this.counting = (h[0]! & 0x0f) < 8; // continuation, text, binary; not close/ping/pong
      this.mask = h[1]! & 0x80 ? Buffer.from(h.subarray(at, at + 4)) : null;
      this.maskAt = 0;
      this.header = Buffer.alloc(0);
    }
  }
}

function headerLength(h: Buffer): number {
  if (h.length < 2) return 2;
  const len = h[1]! & 0x7f;
  return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (h[1]! & 0x80 ? 4 : 0);
}

/** SPDY/3.1 frames in a byte stream: an 8-byte header (control bit, flags, 24-bit length), then the payload. */
class SpdyDataCounter {
  data = 0;
  private remaining = 0;
  private isData = false;

  private readonly header = Buffer.alloc(8);
  private have = 0;

  /** `bytes` as relayed; a client's are masked with `mask`, its byte 0 at `maskAt`: only header bytes are unmasked. */
  push(bytes: Buffer, mask: Buffer | null, maskAt: number): void {
    let i = 0;
    while (i < bytes.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, bytes.length - i);
        if (this.isData) this.data += n;
        this.remaining -= n;
        i += n;
        continue;
      }
      while (this.have < 8 && i < bytes.length) {
        this.header[this.have++] = mask ? bytes[i]! ^ mask[(maskAt + i) & 3]! : bytes[i]!;
        i++;
      }
      if (this.have < 8) return;
      this.have = 0;
      this.isData = (this.header[0]! & 0x80) === 0;
      this.remaining = this.header.readUIntBE(5, 3);
    }
  }
}
