/**
 * Port-forward byte counts from the tunnel's WebSocket stream: SPDY data frames inside masked WebSocket frames,
 * split anywhere, count their payload exactly; control frames and framing do not count.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { TunnelCounter } from '../../services/gateway/kubernetes/tunnel-counter.js';

function spdyFrame(control: boolean, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  if (control) h.writeUInt32BE(0x80030001, 0); // version 3, SYN_STREAM
  else h.writeUInt32BE(1, 0); // stream 1
  h.writeUIntBE(payload.length, 5, 3);
  return Buffer.concat([h, payload]);
}

function wsFrame(payload: Buffer, masked: boolean, opcode = 2): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff]) : (() => {
    const b = Buffer.alloc(10);
    b[0] = 0x80 | opcode;
    b[1] = 127;
    b.writeBigUInt64BE(BigInt(len), 2);
    return b;
  })();
  if (!masked) return Buffer.concat([head, payload]);
  head[1]! |= 0x80;
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((v, i) => v ^ mask[i & 3]!));
  return Buffer.concat([head, mask, body]);
}

describe('tunnel byte counts', () => {
  for (const masked of [true, false]) {
    it(`SPDY data frames across ${masked ? 'masked' : 'unmasked'} WebSocket frames, fed in pieces, count their payload only`, () => {
      const spdy = Buffer.concat([spdyFrame(true, randomBytes(40)), spdyFrame(false, randomBytes(70_000)), spdyFrame(false, Buffer.alloc(0)), spdyFrame(true, randomBytes(12)), spdyFrame(false, randomBytes(300))]);
      // the SPDY stream cut into WebSocket messages at odd places, with a ping between them
      const cuts = [5, 9, 1000, 70_030, spdy.length];
      const frames: Buffer[] = [];
      let at = 0;
      for (const c of cuts) {
        frames.push(wsFrame(spdy.subarray(at, c), masked));
        if (at === 5) frames.push(wsFrame(Buffer.from('ping'), masked, 9));
        at = c;
      }
      const stream = Buffer.concat(frames);
      for (const piece of [1, 3, 7, 4096]) {
        const counter = new TunnelCounter(true);
        for (let i = 0; i < stream.length; i += piece) counter.push(stream.subarray(i, i + piece));
        assert.equal(counter.forwarded, 70_300);
        assert.equal(counter.payload, spdy.length);
      }
    });
  }

  it('a tunnel that is not SPDY counts WebSocket payload', () => {
    const counter = new TunnelCounter(false);
    counter.push(Buffer.concat([wsFrame(randomBytes(200), true), wsFrame(Buffer.alloc(2), true, 8)]));
    assert.equal(counter.forwarded, null);
    assert.equal(counter.payload, 200);
  });
});
