import { Deflate, Z_SYNC_FLUSH } from 'pako';
import { SPDY3_DICTIONARY } from '../../services/gateway/kubernetes/spdy-dictionary.js';

/** SPDY/3.1 frames as one endpoint writes them (one header compression context per writer), for tests. */
export class SpdyWriter {
  private readonly deflate = new Deflate({ dictionary: SPDY3_DICTIONARY });

  /** A compressed name/value block in this writer's context. */
  headerBlock(headers: Record<string, string>): Buffer {
    const parts: Buffer[] = [u32(Object.keys(headers).length)];
    for (const [k, v] of Object.entries(headers)) parts.push(u32(k.length), Buffer.from(k), u32(Buffer.byteLength(v)), Buffer.from(v));
    return this.compress(Buffer.concat(parts));
  }

  compress(raw: Buffer): Buffer {
    const out: Uint8Array[] = [];
    this.deflate.onData = (c: Uint8Array) => out.push(c);
    this.deflate.push(raw, Z_SYNC_FLUSH);
    return Buffer.concat(out);
  }

  synStream(id: number, headers: Record<string, string>, fin = false): Buffer {
    const body = Buffer.concat([u32(id), u32(0), Buffer.from([0, 0]), this.headerBlock(headers)]);
    return control(1, fin ? 1 : 0, body);
  }

  synReply(id: number, headers: Record<string, string>): Buffer {
    return control(2, 0, Buffer.concat([u32(id), this.headerBlock(headers)]));
  }
}

export function control(type: number, flags: number, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8003, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE(((flags & 0xff) << 24) | body.length, 4);
  return Buffer.concat([h, body]);
}

export function data(id: number, payload: Buffer | string, fin = false): Buffer {
  const body = Buffer.from(payload);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(id & 0x7fffffff, 0);
  h.writeUInt32BE(((fin ? 1 : 0) << 24) | body.length, 4);
  return Buffer.concat([h, body]);
}

export function rstStream(id: number, status = 5): Buffer {
  return control(3, 0, Buffer.concat([u32(id), u32(status)]));
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
