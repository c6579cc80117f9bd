/** Deterministic building blocks for wire-level unit tests: a seeded PRNG, backend messages, stream splitters. */

/** mulberry32: small, fast, seeded; good enough to pick split points and garbage bytes reproducibly. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
}

/** One message: type byte, int32 length (itself included), body. */
export function msg(type: string | number, body: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = typeof type === 'number' ? type : type.charCodeAt(0);
  out.writeInt32BE(body.length + 4, 1);
  body.copy(out, 5);
  return out;
}

export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n, 0);
  return b;
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

/** Backend messages, built by hand as the server would send them. */
export const be = {
  rowDescription(columns: string[]): Buffer {
    const fields = columns.map((name, i) =>
      Buffer.concat([cstr(name), int32(16384), int16(i + 1), int32(25), int16(-1), int32(-1), int16(0)]),
    );
    return msg('T', Buffer.concat([int16(columns.length), ...fields]));
  },
  /** A DataRow; a `Buffer` column is sent as is, `null` as SQL NULL. */
  dataRow(values: (string | Buffer | null)[]): Buffer {
    const parts: Buffer[] = [int16(values.length)];
    for (const v of values) {
      if (v === null) parts.push(int32(-1));
      else {
        const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
        parts.push(int32(b.length), b);
      }
    }
    return msg('D', Buffer.concat(parts));
  },
  commandComplete(tag: string): Buffer {
    return msg('C', cstr(tag));
  },
  readyForQuery(status: 'I' | 'T' | 'E' = 'I'): Buffer {
    return msg('Z', Buffer.from(status, 'ascii'));
  },
  /** ErrorResponse ('E') or NoticeResponse ('N'). */
  error(sqlstate: string, message: string, type: 'E' | 'N' = 'E', severity = type === 'E' ? 'ERROR' : 'NOTICE'): Buffer {
    const fields = Buffer.concat([
      Buffer.from('S'), cstr(severity),
      Buffer.from('V'), cstr(severity),
      Buffer.from('C'), cstr(sqlstate),
      Buffer.from('M'), cstr(message),
      Buffer.from([0]),
    ]);
    return msg(type, fields);
  },
  notice(message: string): Buffer {
    return be.error('00000', message, 'N');
  },
  notification(processId: number, channel: string, payload: string): Buffer {
    return msg('A', Buffer.concat([int32(processId), cstr(channel), cstr(payload)]));
  },
  copyOutResponse(columns: number): Buffer {
    return msg('H', Buffer.concat([Buffer.from([0]), int16(columns), ...Array.from({ length: columns }, () => int16(0))]));
  },
  copyInResponse(columns: number): Buffer {
    return msg('G', Buffer.concat([Buffer.from([0]), int16(columns), ...Array.from({ length: columns }, () => int16(0))]));
  },
  copyData(data: Buffer | string): Buffer {
    return msg('d', typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  },
  copyDone(): Buffer {
    return msg('c');
  },
  parseComplete: (): Buffer => msg('1'),
  bindComplete: (): Buffer => msg('2'),
  closeComplete: (): Buffer => msg('3'),
  noData: (): Buffer => msg('n'),
  portalSuspended: (): Buffer => msg('s'),
  emptyQuery: (): Buffer => msg('I'),
  parameterDescription(oids: number[]): Buffer {
    return msg('t', Buffer.concat([int16(oids.length), ...oids.map(int32)]));
  },
  parameterStatus(name: string, value: string): Buffer {
    return msg('S', Buffer.concat([cstr(name), cstr(value)]));
  },
};

/** Cuts `data` into consecutive chunks whose sizes are drawn from [min, max]. */
export function randomSplit(data: Buffer, rng: Prng, min: number, max: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; ) {
    const n = Math.min(rng.int(min, max), data.length - offset);
    // Copies, so that no chunk shares memory with the original or with its neighbours.
    chunks.push(Buffer.from(data.subarray(offset, offset + n)));
    offset += n;
  }
  return chunks;
}

/** Cuts `data` at the given offsets (sorted, inside the buffer). */
export function splitAt(data: Buffer, cuts: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, data.length]) {
    chunks.push(Buffer.from(data.subarray(prev, c)));
    prev = c;
  }
  return chunks;
}
