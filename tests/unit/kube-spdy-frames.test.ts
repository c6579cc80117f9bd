/**
 * The SPDY/3.1 frame reader the gateway runs over kubectl 1.29's exec and 1.30's port-forward: header blocks in one
 * zlib context per direction, data frames by stream, and hostile input (truncated frames, bad zlib, huge lengths,
 * zlib bombs) refused with TG_KUBE_SPDY_MALFORMED, never a crash or an unbounded buffer.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Deflate, Z_SYNC_FLUSH } from 'pako';
import { SpdyFrameReader, SpdyProtocolError, type SpdyEvent } from '../../services/gateway/kubernetes/spdy-frames.js';
import { ExecStreams, ForwardStreams } from '../../services/gateway/kubernetes/spdy-streams.js';
import type { ExecRecording } from '../../services/gateway/kubernetes/exec-recording.js';
import { control, data, rstStream, SpdyWriter } from '../support/spdy-writer.js';

/** Every event of `bytes` pushed in pieces of `step` bytes (1: byte by byte). */
function readAll(bytes: Buffer, step = bytes.length, reader = new SpdyFrameReader()): SpdyEvent[] {
  const out: SpdyEvent[] = [];
  for (let i = 0; i < bytes.length; i += step) out.push(...reader.push(bytes.subarray(i, i + step)));
  return out;
}

function malformed(bytes: Buffer, pattern: RegExp, reader = new SpdyFrameReader()): void {
  assert.throws(
    () => readAll(bytes, bytes.length, reader),
    (e: unknown) => e instanceof SpdyProtocolError && e.code === 'TG_KUBE_SPDY_MALFORMED' && pattern.test(e.message),
  );
}

/** Data events joined per stream. */
function byStream(events: SpdyEvent[]): Map<number, string> {
  const m = new Map<number, string>();
  for (const e of events) if (e.kind === 'data') m.set(e.id, (m.get(e.id) ?? '') + e.data.toString());
  return m;
}

describe('SPDY frame reader', () => {
  it("reads an exec's streams as kubectl opens them: header blocks in one zlib context, data by stream, however the bytes are cut", () => {
    const w = new SpdyWriter();
    const bytes = Buffer.concat([
      w.synStream(1, { streamtype: 'error' }),
      w.synStream(3, { streamtype: 'stdin' }),
      w.synStream(5, { streamtype: 'stdout' }),
      w.synStream(7, { streamtype: 'stderr' }),
      data(3, 'hello\n'),
      data(3, '', true),
      control(9, 0, Buffer.alloc(8)), // WINDOW_UPDATE
      control(6, 0, Buffer.alloc(4)), // PING
      data(5, 'out'),
      data(5, 'put\n', true),
      rstStream(7),
    ]);
    for (const step of [bytes.length, 7, 1]) {
      const events = readAll(bytes, step);
      const streams = events.filter((e) => e.kind === 'stream');
      // the later header blocks only inflate in the context the first one left: a reader that reset it would fail here
      assert.deepEqual(
        streams.map((e) => [e.id, e.headers.get('streamtype')]),
        [
          [1, ['error']],
          [3, ['stdin']],
          [5, ['stdout']],
          [7, ['stderr']],
        ],
      );
      assert.deepEqual([...byStream(events)], [
        [3, 'hello\n'],
        [5, 'output\n'],
      ]);
      assert.ok(events.some((e) => e.kind === 'data' && e.id === 3 && e.fin && e.data.length === 0), 'the empty FIN frame that closes stdin');
      assert.ok(events.some((e) => e.kind === 'reset' && e.id === 7));
    }
  });

  it('a data frame is passed on as it arrives, not held until it is whole', () => {
    const reader = new SpdyFrameReader();
    const frame = data(5, randomBytes(64 * 1024));
    const first = reader.push(frame.subarray(0, 1000));
    assert.equal(first.length, 1);
    assert.equal((first[0] as { data: Buffer }).data.length, 992);
    assert.equal(reader.atFrameBoundary, false);
    reader.push(frame.subarray(1000));
    assert.equal(reader.atFrameBoundary, true);
  });

  it('huge lengths: a control frame past the limit is refused from its header, before its body is awaited', () => {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(0x8003, 0);
    h.writeUInt16BE(1, 2);
    h.writeUInt32BE(0xffffff, 4);
    malformed(h, /control frame of 16777215 bytes/);
  });

  it('a header block claiming four billion pairs, or names past its end, is refused', () => {
    const w = new SpdyWriter();
    const count = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    malformed(control(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), w.compress(count)])), /4294967295 pairs/);
    const w2 = new SpdyWriter();
    const long = Buffer.from([0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0x61]);
    malformed(control(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), w2.compress(long)])), /past the block's end/);
    const w3 = new SpdyWriter();
    malformed(control(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), w3.compress(Buffer.from([0, 0]))])), /ends inside its count/);
  });

  it('bad zlib: garbage, another dictionary, a block from another context', () => {
    malformed(control(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), randomBytes(40)])), /does not inflate/);
    const other = new Deflate({ dictionary: new Uint8Array(Buffer.from('not the spdy dictionary')) });
    const parts: Uint8Array[] = [];
    other.onData = (c: Uint8Array) => parts.push(c);
    other.push(Buffer.from([0, 0, 0, 0]), Z_SYNC_FLUSH);
    malformed(control(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.concat(parts)])), /does not inflate/);
    // the second block of a writer, read by a reader that never saw the first
    const w = new SpdyWriter();
    w.synStream(1, { streamtype: 'error' });
    malformed(w.synStream(3, { streamtype: 'stdin' }), /does not inflate/);
  });

  it('a zlib bomb stops at the header block limit', () => {
    const w = new SpdyWriter();
    const bomb = w.compress(Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 0x61, 0x00, 0xff, 0xff, 0xff]), Buffer.alloc(4 * 1024 * 1024, 0x61)]));
    assert.ok(bomb.length < 64 * 1024, `${bomb.length}`);
    malformed(control(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), bomb])), /inflating past/);
  });

  it('bad frames: another SPDY version, an unknown type, stream 0, short control frames', () => {
    const v2 = control(1, 0, Buffer.alloc(12));
    v2.writeUInt16BE(0x8002, 0);
    malformed(v2, /version 2/);
    malformed(control(77, 0, Buffer.alloc(4)), /unknown control frame type 77/);
    malformed(data(0, 'x'), /stream 0/);
    malformed(control(1, 0, Buffer.alloc(4)), /at least 10/);
    malformed(control(3, 0, Buffer.alloc(2)), /at least 8/);
    malformed(new SpdyWriter().synStream(0, { streamtype: 'stdin' }), /stream 0/);
  });

  it('after a malformed frame the reader stays failed; a truncated frame is not at a frame boundary', () => {
    const reader = new SpdyFrameReader();
    malformed(data(0, 'x'), /stream 0/, reader);
    assert.throws(() => reader.push(data(1, 'fine')), SpdyProtocolError);
    const r2 = new SpdyFrameReader();
    r2.push(data(1, 'twelve bytes').subarray(0, 10));
    assert.equal(r2.atFrameBoundary, false);
    const r3 = new SpdyFrameReader();
    r3.push(Buffer.from([0x80, 0x03]));
    assert.equal(r3.atFrameBoundary, false);
  });

  it('random bytes never crash the reader: events or TG_KUBE_SPDY_MALFORMED', () => {
    for (let i = 0; i < 500; i++) {
      const reader = new SpdyFrameReader();
      try {
        readAll(randomBytes(1 + (i % 300)), 1 + (i % 13), reader);
      } catch (e) {
        assert.ok(e instanceof SpdyProtocolError, String(e));
      }
    }
  });
});

describe('SPDY streams as channels', () => {
  const recorded = () => {
    const seen: [boolean, number, string][] = [];
    const rec = { channel: (toClient: boolean, channel: number, payload: Buffer) => seen.push([toClient, channel, payload.toString()]) } as unknown as ExecRecording;
    return { seen, streams: new ExecStreams(rec, 'v4.channel.k8s.io') };
  };
  const open = (id: number, type: string): SpdyEvent => ({ kind: 'stream', id, headers: new Map([['streamtype', [type]]]), fin: false });
  const d = (id: number, text: string, fin = false): SpdyEvent => ({ kind: 'data', id, data: Buffer.from(text), fin });

  it("maps stdout, stderr, stdin, resize lines and the error stream's Status to the WebSocket channels", () => {
    const { seen, streams } = recorded();
    for (const [id, t] of [[1, 'error'], [3, 'stdin'], [5, 'stdout'], [7, 'stderr'], [9, 'resize']] as const) streams.event(false, open(id, t));
    streams.event(true, d(5, 'out'));
    streams.event(true, d(7, 'err'));
    streams.event(false, d(3, 'in'));
    streams.event(false, d(9, '{"Width":100,'));
    streams.event(false, d(9, '"Height":30}\n{"Width":90,"Height":20}\n'));
    streams.event(true, d(1, '{"status":"Fail'));
    streams.event(true, d(1, 'ure"}', true));
    assert.deepEqual(seen, [
      [true, 1, 'out'],
      [true, 2, 'err'],
      [false, 0, 'in'],
      [false, 4, '{"Width":100,"Height":30}'],
      [false, 4, '{"Width":90,"Height":20}'],
      [true, 3, '{"status":"Failure"}'],
    ]);
  });

  it('data on a stream never opened, output sent by the client, an unknown stream type: malformed', () => {
    const { streams } = recorded();
    assert.throws(() => streams.event(true, d(5, 'x')), /never opened/);
    streams.event(false, open(5, 'stdout'));
    assert.throws(() => streams.event(false, d(5, 'x')), /from the client on its output stream/);
    assert.throws(() => streams.event(false, open(11, 'exfiltrate')), /type 'exfiltrate'/);
    const { streams: s2 } = recorded();
    s2.event(false, open(1, 'error'));
    assert.throws(() => s2.event(true, d(1, 'x'.repeat(70 * 1024))), /error stream of more than/);
  });

  it("a cut exec tells kubectl why on the error stream: a Status on v4/v5, the message on older protocols, nothing after the cluster's own", () => {
    const { streams } = recorded();
    streams.event(false, open(1, 'error'));
    const frame = streams.farewell('TG_DISK_CRITICAL: full')!;
    const [e] = readAll(frame);
    assert.deepEqual([e!.kind, e!.id, (e as { fin: boolean }).fin], ['data', 1, true]);
    const status = JSON.parse((e as { data: Buffer }).data.toString()) as { status: string; message: string };
    assert.deepEqual([status.status, status.message], ['Failure', 'TG_DISK_CRITICAL: full']);
    assert.equal(streams.farewell('again'), null);
    const old = new ExecStreams({ channel: () => undefined } as unknown as ExecRecording, 'v3.channel.k8s.io');
    old.event(false, open(1, 'error'));
    assert.equal((readAll(old.farewell('cut')!)[0] as { data: Buffer }).data.toString(), 'cut');
    const answered = recorded().streams;
    answered.event(false, open(1, 'error'));
    answered.event(true, d(1, '{"status":"Success"}'));
    assert.equal(answered.farewell('cut'), null);
  });

  it('port-forward counts the data streams each way, not the error streams', () => {
    const f = new ForwardStreams();
    f.event(false, open(1, 'error'));
    f.event(false, open(3, 'data'));
    f.event(false, d(3, 'abcd'));
    f.event(true, d(3, 'abcdef'));
    f.event(true, d(1, 'an error from the kubelet'));
    assert.deepEqual([f.fromClient, f.toClient], [4, 6]);
    assert.throws(() => f.event(true, d(9, 'x')), /never opened/);
  });
});
