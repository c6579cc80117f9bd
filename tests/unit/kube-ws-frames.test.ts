/**
 * The WebSocket frame reader under the exec relay: channel data of binary messages however frames and chunks are
 * cut, the client's masked frames unmasked, and hostile frames (reserved bits, wrong masking, huge lengths, broken
 * fragmentation) refused with TG_KUBE_WEBSOCKET_MALFORMED.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { serverClose, serverMessage, WsFrameReader, WsProtocolError, type WsChannelData } from '../../services/gateway/kubernetes/ws-frames.js';

/** A frame as a peer writes it: FIN, opcode, optional mask. */
function frame(opcode: number, payload: Buffer, o: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer {
  const fin = o.fin ?? true;
  const len = payload.length;
  const b0 = (fin ? 0x80 : 0) | (o.rsv ?? 0) | opcode;
  const maskBit = o.mask ? 0x80 : 0;
  const head = len < 126 ? Buffer.from([b0, maskBit | len]) : len < 65536 ? Buffer.from([b0, maskBit | 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([b0, maskBit | 127]), (() => { const x = Buffer.alloc(8); x.writeBigUInt64BE(BigInt(len)); return x; })()]);
  if (!o.mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload.map((v, i) => v ^ key[i & 3]!));
  return Buffer.concat([head, key, masked]);
}

function readAll(reader: WsFrameReader, bytes: Buffer, step: number): WsChannelData[] {
  const out: WsChannelData[] = [];
  for (let i = 0; i < bytes.length; i += step) out.push(...reader.push(bytes.subarray(i, i + step)));
  return out;
}

/** Data per channel, and the number of message ends seen per channel. */
function joined(events: WsChannelData[]): Record<number, { data: string; ends: number }> {
  const out: Record<number, { data: string; ends: number }> = {};
  for (const e of events) {
    const c = (out[e.channel] ??= { data: '', ends: 0 });
    c.data += e.data.toString('latin1');
    if (e.end) c.ends++;
  }
  return out;
}

describe('WebSocket frame reader', () => {
  it('reads channel data from server frames, fragmented messages and control frames between them, however cut', () => {
    const big = randomBytes(70_000).toString('latin1');
    const bytes = Buffer.concat([
      serverMessage(Buffer.from('\x01hello ')),
      frame(2, Buffer.from('\x01wor'), { fin: false }),
      frame(9, Buffer.from('ping')),
      frame(0, Buffer.from('ld'), { fin: false }),
      frame(0, Buffer.alloc(0)),
      serverMessage(Buffer.concat([Buffer.from([2]), Buffer.from(big, 'latin1')])),
      frame(1, Buffer.from('text is not a channel')),
      serverMessage(Buffer.from('\x03{"status":"Success"}')),
      serverClose(1000),
    ]);
    for (const step of [bytes.length, 1000, 7, 1]) {
      const r = new WsFrameReader(false);
      const got = joined(readAll(r, bytes, step));
      assert.deepEqual(got[1], { data: 'hello world', ends: 2 });
      assert.equal(got[2]!.data, big);
      assert.equal(got[2]!.ends, 1);
      assert.deepEqual(got[3], { data: '{"status":"Success"}', ends: 1 });
      assert.equal(Object.keys(got).length, 3);
      assert.equal(r.atFrameBoundary, true);
    }
  });

  it("unmasks the client's frames, cut anywhere (the mask continues across chunks)", () => {
    const stdin = randomBytes(5000);
    const bytes = Buffer.concat([frame(2, Buffer.concat([Buffer.from([0]), stdin]), { mask: true }), frame(2, Buffer.from('\x04{"Width":80,"Height":24}'), { mask: true }), frame(8, Buffer.from([3, 232]), { mask: true })]);
    for (const step of [bytes.length, 13, 3, 1]) {
      const got = joined(readAll(new WsFrameReader(true), bytes, step));
      assert.equal(got[0]!.data, stdin.toString('latin1'));
      assert.equal(got[4]!.data, '{"Width":80,"Height":24}');
    }
  });

  it('hostile frames are refused: reserved bits, wrong masking, huge lengths, broken fragmentation, unknown opcodes', () => {
    const bad = (reader: WsFrameReader, bytes: Buffer, pattern: RegExp) =>
      assert.throws(
        () => reader.push(bytes),
        (e: unknown) => e instanceof WsProtocolError && e.code === 'TG_KUBE_WEBSOCKET_MALFORMED' && pattern.test(e.message),
      );
    bad(new WsFrameReader(false), frame(2, Buffer.from('\x01x'), { rsv: 0x40 }), /reserved bits/);
    bad(new WsFrameReader(true), frame(2, Buffer.from('\x00x')), /unmasked frame from the client/);
    bad(new WsFrameReader(false), frame(2, Buffer.from('\x01x'), { mask: true }), /masked frame from the server/);
    const huge = Buffer.from([0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    bad(new WsFrameReader(false), huge, /a frame of 18446744073709551615 bytes/);
    bad(new WsFrameReader(false), frame(0, Buffer.from('x')), /continuation frame outside a message/);
    bad(new WsFrameReader(false), Buffer.concat([frame(2, Buffer.from('\x01a'), { fin: false }), frame(2, Buffer.from('\x01b'))]), /new message inside an unfinished one/);
    bad(new WsFrameReader(false), frame(9, Buffer.alloc(126)), /oversized control frame/);
    bad(new WsFrameReader(false), frame(5, Buffer.from('x')), /unknown opcode 5/);
    bad(new WsFrameReader(false), frame(12, Buffer.from('x')), /unknown opcode 12/);
  });

  it('a frame cut short is not at a frame boundary; a frame header alone is not either', () => {
    const r = new WsFrameReader(false);
    r.push(serverMessage(Buffer.from('\x01twelve bytes')).subarray(0, 6));
    assert.equal(r.atFrameBoundary, false);
    const r2 = new WsFrameReader(false);
    r2.push(Buffer.from([0x82]));
    assert.equal(r2.atFrameBoundary, false);
  });

  it('random bytes never crash the reader: channel data or TG_KUBE_WEBSOCKET_MALFORMED', () => {
    for (let i = 0; i < 500; i++) {
      try {
        readAll(new WsFrameReader(i % 2 === 0), randomBytes(1 + (i % 300)), 1 + (i % 11));
      } catch (e) {
        assert.ok(e instanceof WsProtocolError, String(e));
      }
    }
  });
});
