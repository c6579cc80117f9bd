import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { serialize } from 'pg-protocol';
import { BackendFramer, type BackendMessageHandler } from '../../services/gateway/postgres/backend-framer.js';
import { FrontendFramer, type FrontendMessage } from '../../services/gateway/postgres/frontend-framer.js';
import {
  decodeBind,
  decodeCancelRequest,
  decodeDescribeOrClose,
  decodeExecute,
  decodeFunctionCall,
  decodeParse,
  decodePassword,
  decodeQuery,
  decodeStartupParameters,
} from '../../services/gateway/postgres/frontend-messages.js';
import { Be, Fe, PROTOCOL_3_0, ProtocolError, SSL_REQUEST_CODE } from '../../services/gateway/postgres/protocol.js';
import { Prng, be, cstr, msg, randomSplit, splitAt } from '../support/pg-wire.js';

// ---------------------------------------------------------------------------------------------
// Reference framing: what the framers must agree with, whatever the chunking.

interface Framed {
  type: number;
  start: number;
  end: number;
}

/** Splits a well-formed backend or frontend stream into messages, in one go. */
function frame(stream: Buffer): Framed[] {
  const out: Framed[] = [];
  for (let offset = 0; offset < stream.length; ) {
    const end = offset + 1 + stream.readInt32BE(offset + 1);
    out.push({ type: stream[offset]!, start: offset, end });
    offset = end;
  }
  return out;
}

const STREAMED = new Set<number>([Be.DataRow, Be.CopyData]);

/** The handler calls a correct framer makes for a stream: bodies of assembled messages, sizes of streamed ones. */
function expectedCalls(stream: Buffer): string[] {
  return frame(stream).map((m) =>
    STREAMED.has(m.type) ? `streamed ${m.type} ${m.end - m.start - 5}` : `message ${m.type} ${stream.subarray(m.start + 5, m.end).toString('hex')}`,
  );
}

/** Bytes a correct framer may still hold after `prefix` bytes: an unfinished assembled message, or a streamed message's partial header. */
function heldAfter(messages: Framed[], prefix: number): number {
  for (const m of messages) {
    if (prefix > m.start && prefix < m.end) {
      const seen = prefix - m.start;
      return STREAMED.has(m.type) ? (seen < 5 ? seen : 0) : seen;
    }
  }
  return 0;
}

class Recorder implements BackendMessageHandler {
  readonly calls: string[] = [];

  constructor(private readonly replace?: (type: number, body: Buffer) => Buffer | undefined) {}

  message(type: number, body: Buffer): Buffer | undefined {
    this.calls.push(`message ${type} ${body.toString('hex')}`);
    return this.replace?.(type, body);
  }

  streamed(type: number, bodyLength: number): void {
    this.calls.push(`streamed ${type} ${bodyLength}`);
  }
}

interface Run {
  output: Buffer;
  calls: string[];
}

/**
 * Feeds the chunks through a BackendFramer; with `checkHeld`, also checks after every chunk that
 * the framer passed on everything except what it has to hold (only valid without replacements).
 */
function runBackend(chunks: Buffer[], replace?: (type: number, body: Buffer) => Buffer | undefined, checkHeld?: Framed[]): Run {
  const recorder = new Recorder(replace);
  const framer = new BackendFramer(recorder);
  const out: Buffer[] = [];
  let fed = 0;
  let written = 0;
  for (const chunk of chunks) {
    const pieces = framer.push(chunk);
    fed += chunk.length;
    for (const p of pieces) {
      out.push(p);
      written += p.length;
    }
    if (checkHeld) {
      const held = heldAfter(checkHeld, fed);
      if (written !== fed - held) {
        assert.fail(`after ${fed} bytes in, ${written} bytes out; expected ${fed - held} (holding ${held})`);
      }
    }
  }
  return { output: Buffer.concat(out), calls: recorder.calls };
}

function assertSameBytes(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  assert.fail(`${what}: ${actual.length} bytes, expected ${expected.length}; first difference at offset ${i}`);
}

function assertSameCalls(actual: string[], expected: string[], what: string): void {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: call ${i} is ${actual[i]!.slice(0, 80)}, expected ${expected[i]!.slice(0, 80)}`);
  }
  assert.equal(actual.length, expected.length, `${what}: number of handler calls`);
}

// ---------------------------------------------------------------------------------------------
// Streams

/** A session's worth of server traffic, small enough to cut at every byte. */
function smallStream(): Buffer {
  return Buffer.concat([
    be.parameterStatus('application_name', 'ci'),
    be.rowDescription(['id', 'name']),
    be.dataRow(['1', 'alice']),
    be.dataRow(['2', null]),
    be.dataRow([]),
    be.commandComplete('SELECT 3'),
    be.readyForQuery('I'),
    be.notice('relation "t" already exists, skipping'),
    be.notification(4242, 'jobs', 'done'),
    be.commandComplete('CREATE TABLE'),
    be.readyForQuery('I'),
    be.copyOutResponse(2),
    be.copyData('1\talice\n'),
    be.copyData(''),
    be.copyData('2\tbob\n'),
    be.copyDone(),
    be.commandComplete('COPY 2'),
    be.readyForQuery('I'),
    be.parseComplete(),
    be.bindComplete(),
    be.noData(),
    be.error('42P01', 'relation "missing" does not exist'),
    be.readyForQuery('E'),
    be.emptyQuery(),
    be.portalSuspended(),
    be.readyForQuery('T'),
  ]);
}

/** Several megabytes: many rows, some of 200 KB, copy data, large and small assembled messages. */
function largeStream(rng: Prng): Buffer {
  const parts: Buffer[] = [];
  for (let round = 0; round < 6; round++) {
    parts.push(be.rowDescription(Array.from({ length: rng.int(1, 40) }, (_, i) => `column_${round}_${i}`)));
    const rows = rng.int(50, 400);
    for (let i = 0; i < rows; i++) {
      const big = rng.int(0, 60) === 0;
      parts.push(be.dataRow([String(i), big ? rng.bytes(200 * 1024) : rng.bytes(rng.int(0, 300)), rng.int(0, 3) === 0 ? null : 'x']));
      if (rng.int(0, 100) === 0) parts.push(be.notice(`notice ${round}.${i}`));
      if (rng.int(0, 150) === 0) parts.push(be.notification(rng.int(1, 99999), 'channel', `payload ${i}`));
    }
    parts.push(be.commandComplete(`SELECT ${rows}`), be.readyForQuery('I'));
    parts.push(be.copyOutResponse(1));
    const copies = rng.int(10, 100);
    for (let i = 0; i < copies; i++) parts.push(be.copyData(rng.bytes(rng.int(0, 1) ? rng.int(0, 50) : rng.int(60_000, 210_000))));
    parts.push(be.copyDone(), be.commandComplete(`COPY ${copies}`), be.readyForQuery('I'));
    // A big assembled message, so that assembling across many chunks is exercised too.
    parts.push(be.error('XX000', `long message ${'m'.repeat(rng.int(1000, 90_000))}`));
    parts.push(be.readyForQuery('E'));
    parts.push(be.error('22012', 'division by zero'), be.readyForQuery('I'));
  }
  return Buffer.concat(parts);
}

const ERROR_REPLACEMENT = be.error('42501', 'permission denied by trailgate policy "no-ddl"');

/** The stream with every ErrorResponse swapped for `replacement`. */
function withErrorsReplaced(stream: Buffer, replacement: Buffer): Buffer {
  return Buffer.concat(frame(stream).map((m) => (m.type === Be.ErrorResponse ? replacement : stream.subarray(m.start, m.end))));
}

const replaceErrors = (replacement: Buffer) => (type: number) => (type === Be.ErrorResponse ? replacement : undefined);

// ---------------------------------------------------------------------------------------------

describe('BackendFramer', () => {
  const small = smallStream();
  const smallFramed = frame(small);
  const smallCalls = expectedCalls(small);

  test('the whole small stream in one chunk passes through as that very chunk', () => {
    const recorder = new Recorder();
    const out = new BackendFramer(recorder).push(small);
    assert.equal(out.length, 1);
    // One slice over the chunk's own memory: nothing copied.
    assert.equal(out[0]!.buffer, small.buffer);
    assert.equal(out[0]!.byteOffset, small.byteOffset);
    assert.equal(out[0]!.length, small.length);
    assertSameCalls(recorder.calls, smallCalls, 'one chunk');
  });

  test('cut in two at every byte boundary: same bytes out, same handler calls, nothing held needlessly', () => {
    for (let cut = 0; cut <= small.length; cut++) {
      const run = runBackend(splitAt(small, [cut]), undefined, smallFramed);
      assertSameBytes(run.output, small, `cut at ${cut}`);
      assertSameCalls(run.calls, smallCalls, `cut at ${cut}`);
    }
  });

  test('one byte at a time', () => {
    const chunks = Array.from(small, (b) => Buffer.from([b]));
    const run = runBackend(chunks, undefined, smallFramed);
    assertSameBytes(run.output, small, 'byte by byte');
    assertSameCalls(run.calls, smallCalls, 'byte by byte');
  });

  test('cut in three at every pair of boundaries (within a window)', () => {
    // Every pair (a, b) with b - a <= 12 covers a cut inside each header and at each header/body edge.
    for (let a = 0; a <= small.length; a++) {
      for (let b = a; b <= Math.min(small.length, a + 12); b++) {
        const run = runBackend(splitAt(small, [a, b]), undefined, smallFramed);
        assertSameBytes(run.output, small, `cuts at ${a}, ${b}`);
        assertSameCalls(run.calls, smallCalls, `cuts at ${a}, ${b}`);
      }
    }
  });

  test('small stream, random chunks of 1..9 bytes, many seeds', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const run = runBackend(randomSplit(small, new Prng(seed), 1, 9), undefined, smallFramed);
      assertSameBytes(run.output, small, `seed ${seed}`);
      assertSameCalls(run.calls, smallCalls, `seed ${seed}`);
    }
  });

  test('large stream, random chunks of 1..70000 bytes', () => {
    const stream = largeStream(new Prng(7));
    assert.ok(stream.length > 3_000_000, `stream is only ${stream.length} bytes`);
    const framed = frame(stream);
    const calls = expectedCalls(stream);
    assert.ok(framed.some((m) => m.type === Be.DataRow && m.end - m.start > 200 * 1024), 'has 200 KB rows');
    for (let seed = 100; seed < 108; seed++) {
      const run = runBackend(randomSplit(stream, new Prng(seed), 1, 70_000), undefined, framed);
      assertSameBytes(run.output, stream, `seed ${seed}`);
      assertSameCalls(run.calls, calls, `seed ${seed}`);
    }
  });

  test('large stream, mostly tiny chunks', () => {
    const stream = largeStream(new Prng(8));
    const framed = frame(stream);
    const calls = expectedCalls(stream);
    const rng = new Prng(9);
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < stream.length; ) {
      const n = Math.min(rng.int(0, 9) === 0 ? rng.int(1, 70_000) : rng.int(1, 16), stream.length - offset);
      chunks.push(stream.subarray(offset, offset + n));
      offset += n;
    }
    const run = runBackend(chunks, undefined, framed);
    assertSameBytes(run.output, stream, 'tiny chunks');
    assertSameCalls(run.calls, calls, 'tiny chunks');
  });

  test('ErrorResponse replaced: output is the stream with the replacement in place, for any split', () => {
    for (const replacement of [ERROR_REPLACEMENT, be.error('P0001', 'x'), be.error('42501', 'r'.repeat(100_000))]) {
      const expected = withErrorsReplaced(small, replacement);
      assert.notDeepEqual(expected, small);
      for (let cut = 0; cut <= small.length; cut++) {
        const run = runBackend(splitAt(small, [cut]), replaceErrors(replacement));
        assertSameBytes(run.output, expected, `cut at ${cut}`);
        assertSameCalls(run.calls, smallCalls, `cut at ${cut}`);
      }
      const bytewise = runBackend(Array.from(small, (b) => Buffer.from([b])), replaceErrors(replacement));
      assertSameBytes(bytewise.output, expected, 'byte by byte');
      for (let seed = 1; seed <= 100; seed++) {
        const run = runBackend(randomSplit(small, new Prng(seed), 1, 9), replaceErrors(replacement));
        assertSameBytes(run.output, expected, `seed ${seed}`);
      }
    }
  });

  test('ErrorResponse replaced in the large stream, random chunks of 1..70000 bytes', () => {
    const stream = largeStream(new Prng(11));
    const calls = expectedCalls(stream);
    const expected = withErrorsReplaced(stream, ERROR_REPLACEMENT);
    for (let seed = 200; seed < 206; seed++) {
      const run = runBackend(randomSplit(stream, new Prng(seed), 1, 70_000), replaceErrors(ERROR_REPLACEMENT));
      assertSameBytes(run.output, expected, `seed ${seed}`);
      assertSameCalls(run.calls, calls, `seed ${seed}`);
    }
  });

  test('every assembled message replaced (adjacent replacements, replacements at chunk edges)', () => {
    const stream = smallStream();
    // A replacement that depends on the message, so that a swapped or repeated one shows.
    const replace = (type: number, body: Buffer) => msg('N', Buffer.concat([Buffer.from([type]), body]));
    const expected = Buffer.concat(
      frame(stream).map((m) => (STREAMED.has(m.type) ? stream.subarray(m.start, m.end) : replace(m.type, stream.subarray(m.start + 5, m.end)))),
    );
    for (let cut = 0; cut <= stream.length; cut++) {
      assertSameBytes(runBackend(splitAt(stream, [cut]), replace).output, expected, `cut at ${cut}`);
    }
    for (let seed = 1; seed <= 100; seed++) {
      assertSameBytes(runBackend(randomSplit(stream, new Prng(seed), 1, 9), replace).output, expected, `seed ${seed}`);
    }
  });

  test('a 200 KB DataRow is forwarded as it arrives, never held whole', () => {
    const row = be.dataRow([Buffer.alloc(200 * 1024, 0x61)]);
    const recorder = new Recorder();
    const framer = new BackendFramer(recorder);
    let out = 0;
    for (const chunk of randomSplit(row, new Prng(3), 6, 4096)) {
      out += framer.push(chunk).reduce((n, b) => n + b.length, 0);
    }
    assert.equal(out, row.length);
    assert.deepEqual(recorder.calls, [`streamed ${Be.DataRow} ${row.length - 5}`]);
  });

  // FunctionCallResponse carries libpq's lo_read() results; NoticeResponse can carry RAISE NOTICE text.
  test(
    'a 4 MB assembled message (FunctionCallResponse) in 64 KB chunks is assembled without quadratic copying',
    () => {
      const big = msg('V', Buffer.concat([Buffer.from([0, 0x40, 0, 0]), new Prng(12).bytes(4 * 1024 * 1024)]));
      const recorder = new Recorder();
      const framer = new BackendFramer(recorder);
      const out: Buffer[] = [];
      const original = Buffer.concat;
      let copied = 0;
      Buffer.concat = ((list: readonly Uint8Array[], totalLength?: number) => {
        const b = original(list, totalLength);
        copied += b.length;
        return b;
      }) as typeof Buffer.concat;
      try {
        for (let offset = 0; offset < big.length; offset += 65_536) out.push(...framer.push(big.subarray(offset, offset + 65_536)));
      } finally {
        Buffer.concat = original;
      }
      assertSameBytes(Buffer.concat(out), big, 'output');
      assert.equal(recorder.calls.length, 1);
      assert.ok(copied < 3 * big.length, `copied ${copied} bytes to assemble a ${big.length}-byte message`);
    },
  );

  test('empty chunks change nothing', () => {
    const stream = smallStream();
    const chunks = randomSplit(stream, new Prng(5), 1, 9).flatMap((c) => [Buffer.alloc(0), c, Buffer.alloc(0)]);
    const run = runBackend(chunks, undefined, frame(stream));
    assertSameBytes(run.output, stream, 'with empty chunks');
    assertSameCalls(run.calls, expectedCalls(stream), 'with empty chunks');
  });

  // A target that is not Postgres, or a corrupted stream, must not hang the process. The relay
  // catches a throw from push() and ends the session; a loop never returns.
  describe('message length below 4 (corrupt target stream)', () => {
    class LoopGuard extends Error {}
    /** A handler that gives up after many calls, so a framer that loops fails the test instead of hanging it. */
    const guarded = (): BackendMessageHandler => {
      let calls = 0;
      const guard = () => {
        if (++calls > 1000) throw new LoopGuard('handler called more than 1000 times for a few bytes: the framer loops');
      };
      return { message: () => (guard(), undefined), streamed: guard };
    };
    const corrupt = (type: string, length: number) => {
      const head = Buffer.alloc(5);
      head.write(type, 0, 'latin1');
      head.writeInt32BE(length, 1);
      return Buffer.concat([head, be.readyForQuery('I')]);
    };

    /** Rejected as a target protocol violation (the relay then ends the session), never with the guard. */
    const rejected = (err: unknown) => {
      assert.ok(!(err instanceof LoopGuard), 'the framer loops on the bad length');
      assert.ok(err instanceof ProtocolError, `expected ProtocolError, got ${String(err)}`);
      assert.equal(err.code, 'TG_TARGET_PROTOCOL');
      return true;
    };

    for (const [type, length] of [['C', -1], ['D', -1], ['C', 0], ['C', 3], ['D', 2], ['d', 0], ['E', -2147483648], ['D', -2147483648]] as const) {
      test(`type '${type}' with length ${length} is rejected, not looped on or misframed`, () => {
        assert.throws(() => new BackendFramer(guarded()).push(corrupt(type, length)), rejected);
        // Behind a complete message, and with the bad header split at every byte (the held-header path).
        const bytes = Buffer.concat([be.readyForQuery('I'), corrupt(type, length)]);
        for (let cut = 1; cut < 6 + 5; cut++) {
          const framer = new BackendFramer(guarded());
          assert.throws(() => {
            for (const chunk of splitAt(bytes, [cut])) framer.push(chunk);
          }, rejected);
        }
        // After the rest of a streamed message.
        const afterRow = Buffer.concat([be.dataRow(['abc']), corrupt(type, length)]);
        const framer = new BackendFramer(guarded());
        assert.throws(() => {
          framer.push(afterRow.subarray(0, 8));
          framer.push(afterRow.subarray(8));
        }, rejected);
      });
    }

    test('length exactly 4 (an empty body) is fine', () => {
      const run = runBackend(splitAt(Buffer.concat([be.parseComplete(), be.copyData(''), be.readyForQuery('I')]), [3, 7]));
      assert.deepEqual(run.calls, [`message ${0x31} `, `streamed ${Be.CopyData} 0`, `message ${Be.ReadyForQuery} 49`]);
    });
  });
});

// ---------------------------------------------------------------------------------------------

/** A realistic client stream after authentication. */
function clientStream(rng: Prng): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    parts.push(serialize.query(`SELECT ${i}, '${'q'.repeat(rng.int(0, 200))}'`));
    parts.push(serialize.parse({ name: i % 2 ? `s${i}` : '', text: 'SELECT $1::int, $2::bytea', types: [23, 17] }));
    parts.push(serialize.describe({ type: 'S', name: i % 2 ? `s${i}` : '' }));
    parts.push(serialize.bind({ statement: i % 2 ? `s${i}` : '', portal: i % 3 ? '' : `p${i}`, values: [String(i), rng.bytes(rng.int(0, 500)), null] }));
    parts.push(serialize.bind({ binary: true, values: [rng.bytes(8)] }));
    parts.push(serialize.execute({ portal: i % 3 ? '' : `p${i}`, rows: i % 5 }));
    parts.push(serialize.flush());
    parts.push(serialize.sync());
    if (i % 7 === 0) {
      parts.push(serialize.copyData(rng.bytes(rng.int(1, 70_000))), serialize.copyDone());
    }
    if (i % 11 === 0) parts.push(serialize.query(`INSERT INTO big VALUES ('${'b'.repeat(150_000)}')`));
    if (i % 13 === 0) parts.push(serialize.close({ type: 'P', name: `p${i}` }), serialize.copyFail('stop'));
  }
  parts.push(serialize.end());
  return Buffer.concat(parts);
}

function messagesOf(framer: FrontendFramer, rng?: Prng): FrontendMessage[] {
  const out: FrontendMessage[] = [];
  for (;;) {
    const batch = framer.messages(rng ? rng.int(1, 4) : Infinity);
    out.push(...batch);
    if (batch.length === 0 || !rng) return out;
  }
}

function header(type: number, length: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = type;
  b.writeInt32BE(length, 1);
  return b;
}

function assertProtocolError(fn: () => unknown, code: string, sqlstate?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `expected ProtocolError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (sqlstate) assert.equal(err.sqlstate, sqlstate);
    return true;
  });
}

describe('FrontendFramer', () => {
  const stream = clientStream(new Prng(21));
  const reference = frame(stream);

  test('random splits yield the same messages, and raw is exactly the original bytes', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rng = new Prng(seed);
      const framer = new FrontendFramer(1 << 20);
      const got: FrontendMessage[] = [];
      const [min, max] = seed % 3 === 0 ? [1, 16] : seed % 3 === 1 ? [1, 4096] : [1, 70_000];
      for (const chunk of randomSplit(stream, rng, min, max)) {
        framer.push(chunk);
        // Sometimes several chunks arrive before the relay asks, sometimes it asks for a few at a time.
        if (rng.int(0, 3) > 0) got.push(...messagesOf(framer, rng.int(0, 1) ? rng : undefined));
      }
      got.push(...messagesOf(framer));
      assert.equal(framer.pendingBytes, 0, `seed ${seed}: bytes left over`);
      assert.equal(got.length, reference.length, `seed ${seed}: message count`);
      for (let i = 0; i < got.length; i++) {
        const m = got[i]!;
        const r = reference[i]!;
        assert.equal(m.type, r.type, `seed ${seed}, message ${i}: type`);
        assert.ok(m.raw.equals(stream.subarray(r.start, r.end)), `seed ${seed}, message ${i}: raw`);
        assert.ok(m.body.equals(stream.subarray(r.start + 5, r.end)), `seed ${seed}, message ${i}: body`);
      }
      assertSameBytes(Buffer.concat(got.map((m) => m.raw)), stream, `seed ${seed}: raws`);
    }
  });

  test('messages(limit) returns at most limit, in order, and leaves the rest buffered', () => {
    const framer = new FrontendFramer(1 << 20);
    const three = Buffer.concat([serialize.query('SELECT 1'), serialize.sync(), serialize.flush()]);
    framer.push(three);
    const first = framer.messages(2);
    assert.deepEqual(first.map((m) => m.type), [Fe.Query, Fe.Sync]);
    assert.equal(framer.pendingBytes, 5);
    assert.deepEqual(framer.messages(2).map((m) => m.type), [Fe.Flush]);
    assert.equal(framer.pendingBytes, 0);
    assert.deepEqual(framer.messages(), []);
  });

  test('a message over the limit throws TG_PG_MESSAGE_TOO_LARGE once its header is in, before its body', () => {
    const framer = new FrontendFramer(1000);
    // length counts itself, not the type byte: 1000 bytes in all is allowed, 1001 is not.
    framer.push(header(Fe.Query, 999));
    assert.deepEqual(framer.messages(), []);

    const over = new FrontendFramer(1000);
    over.push(header(Fe.Query, 1000));
    assertProtocolError(() => over.messages(), 'TG_PG_MESSAGE_TOO_LARGE', '54000');

    // Header split over chunks: nothing thrown before it is complete, thrown as soon as it is.
    const split = new FrontendFramer(1000);
    const h = header(Fe.Bind, 50_000_000);
    for (let i = 0; i < 4; i++) {
      split.push(h.subarray(i, i + 1));
      assert.deepEqual(split.messages(), []);
    }
    split.push(h.subarray(4));
    assertProtocolError(() => split.messages(), 'TG_PG_MESSAGE_TOO_LARGE', '54000');

    // Behind complete messages in the same chunk.
    const behind = new FrontendFramer(1000);
    behind.push(Buffer.concat([serialize.query('SELECT 1'), serialize.sync(), header(Fe.Query, 2000), Buffer.alloc(10)]));
    assertProtocolError(() => behind.messages(), 'TG_PG_MESSAGE_TOO_LARGE');
  });

  test('a message exactly at the limit is accepted', () => {
    const framer = new FrontendFramer(1000);
    const text = 'x'.repeat(1000 - 5 - 1);
    const q = serialize.query(text);
    assert.equal(q.length, 1000);
    framer.push(q);
    const [m] = framer.messages();
    assert.equal(decodeQuery(m!.body), text);
  });

  test('a length below 4 throws TG_PG_BAD_LENGTH', () => {
    for (const length of [3, 2, 1, 0, -1, -4, -2147483648]) {
      const framer = new FrontendFramer(1 << 20);
      framer.push(Buffer.concat([header(Fe.Sync, length), Buffer.alloc(8)]));
      assertProtocolError(() => framer.messages(), 'TG_PG_BAD_LENGTH');
    }
    const ok = new FrontendFramer(1 << 20);
    ok.push(header(Fe.Sync, 4));
    assert.deepEqual(ok.messages().map((m) => m.body.length), [0]);
  });

  test('startup packets: split anywhere, followed by messages', () => {
    const ssl = Buffer.alloc(8);
    ssl.writeInt32BE(8, 0);
    ssl.writeInt32BE(SSL_REQUEST_CODE, 4);
    const startup = serialize.startup({ user: 'ci', database: 'app', application_name: 'deploy' });
    const after = Buffer.concat([serialize.password('secret'), serialize.query('SELECT 1')]);
    const all = Buffer.concat([ssl, startup, after]);
    for (let cut = 0; cut <= all.length; cut++) {
      const framer = new FrontendFramer(1 << 20);
      const packets = [];
      for (const chunk of splitAt(all, [cut])) {
        framer.push(chunk);
        while (packets.length < 2) {
          const p = framer.nextStartupPacket();
          if (!p) break;
          packets.push(p);
        }
      }
      assert.equal(packets.length, 2, `cut at ${cut}`);
      assert.equal(packets[0]!.code, SSL_REQUEST_CODE);
      assert.equal(packets[0]!.body.length, 0);
      assert.equal(packets[1]!.code, PROTOCOL_3_0);
      // pg-protocol adds client_encoding on its own.
      assert.deepEqual(decodeStartupParameters(packets[1]!.body), { user: 'ci', database: 'app', application_name: 'deploy', client_encoding: 'UTF8' });
      const rest = messagesOf(framer);
      assert.deepEqual(rest.map((m) => m.type), [Fe.Password, Fe.Query], `cut at ${cut}`);
      assert.equal(decodePassword(rest[0]!.body), 'secret');
    }
  });

  test('startup packet lengths below 8 or above 10000 throw TG_PG_BAD_STARTUP, as soon as the length is in', () => {
    for (const length of [0, 1, 4, 7, -1, -2147483648, 10_001, 1 << 20, 2147483647]) {
      const framer = new FrontendFramer(1 << 20);
      const b = Buffer.alloc(4);
      b.writeInt32BE(length, 0);
      framer.push(b);
      assertProtocolError(() => framer.nextStartupPacket(), 'TG_PG_BAD_STARTUP');
    }
    const ok = new FrontendFramer(1 << 20);
    const b = Buffer.alloc(10_000);
    b.writeInt32BE(10_000, 0);
    b.writeInt32BE(PROTOCOL_3_0, 4);
    ok.push(b.subarray(0, 4));
    assert.equal(ok.nextStartupPacket(), null);
    ok.push(b.subarray(4));
    assert.equal(ok.nextStartupPacket()?.body.length, 10_000 - 8);
  });

  test('drain() hands over everything still buffered', () => {
    const framer = new FrontendFramer(1 << 20);
    const q = serialize.query('SELECT 1');
    framer.push(q.subarray(0, 3));
    framer.push(q.subarray(3, 7));
    assert.deepEqual(framer.messages(), []);
    assert.ok(framer.drain().equals(q.subarray(0, 7)));
    assert.equal(framer.pendingBytes, 0);
    framer.push(q.subarray(0, 2));
    framer.push(q.subarray(2));
    assert.ok(framer.messages()[0]!.raw.equals(q));
  });

  test('a 5 MB message in 1 KB chunks is assembled once, without quadratic copying', () => {
    const size = 5 * 1024 * 1024;
    const big = serialize.copyData(new Prng(4).bytes(size));
    const stream = Buffer.concat([serialize.query('COPY t FROM STDIN'), big, serialize.copyDone()]);
    const framer = new FrontendFramer(8 * 1024 * 1024);
    const got: FrontendMessage[] = [];
    // Count the bytes Buffer.concat copies while the framer runs.
    const original = Buffer.concat;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], totalLength?: number) => {
      const b = original(list, totalLength);
      copied += b.length;
      return b;
    }) as typeof Buffer.concat;
    try {
      for (let offset = 0; offset < stream.length; offset += 1024) {
        framer.push(stream.subarray(offset, offset + 1024));
        got.push(...framer.messages());
      }
    } finally {
      Buffer.concat = original;
    }
    assert.deepEqual(got.map((m) => m.type), [Fe.Query, Fe.CopyData, Fe.CopyDone]);
    assert.ok(got[1]!.raw.equals(big));
    assert.ok(copied < 3 * stream.length, `copied ${copied} bytes for a ${stream.length}-byte stream`);
  });
});

// ---------------------------------------------------------------------------------------------

/** Decoding must fail as a protocol violation, never as a crash of another kind. */
function assertOnlyProtocolErrors(name: string, decode: (body: Buffer) => unknown, valid: Buffer[], seed: number): number {
  const rng = new Prng(seed);
  const bodies: Buffer[] = [];
  for (const v of valid) {
    for (let n = 0; n < v.length; n++) bodies.push(v.subarray(0, n)); // every truncation
    for (let i = 0; i < 60; i++) {
      // Random byte changes, including to the counts and lengths.
      const m = Buffer.from(v);
      for (let k = rng.int(1, 4); k > 0; k--) if (m.length) m[rng.int(0, m.length - 1)] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(0, 255)]);
      bodies.push(m.subarray(0, rng.int(0, 3) ? m.length : rng.int(0, m.length)));
    }
  }
  for (let i = 0; i < 300; i++) bodies.push(rng.bytes(rng.int(0, 64)));
  for (let i = 0; i < 100; i++) bodies.push(Buffer.concat([cstr(''), cstr(''), rng.bytes(rng.int(0, 24))]));
  let threw = 0;
  for (const body of bodies) {
    try {
      decode(body);
    } catch (err) {
      threw++;
      if (!(err instanceof ProtocolError)) assert.fail(`${name}(${body.toString('hex')}) threw ${String(err)}`);
    }
  }
  assert.ok(threw > 0, `${name}: no input was rejected`);
  return bodies.length;
}

const bodyOf = (m: Buffer) => m.subarray(5);

describe('frontend message decoders', () => {
  test('decode what pg-protocol encodes', () => {
    const bind = decodeBind(bodyOf(serialize.bind({ portal: 'p1', statement: 's1', values: ['42', null, Buffer.from([1, 2, 255])] })));
    // pg-protocol sends Buffers as binary parameters.
    assert.deepEqual(bind, { portal: 'p1', statement: 's1', parameters: ['42', null, { base64: Buffer.from([1, 2, 255]).toString('base64') }] });
    const binary = decodeBind(bodyOf(serialize.bind({ binary: true, values: [Buffer.from('ab')] })));
    assert.deepEqual(binary.parameters, [{ base64: 'YWI=' }]);
    assert.deepEqual(decodeBind(bodyOf(serialize.bind())), { portal: '', statement: '', parameters: [] });
    assert.deepEqual(decodeParse(bodyOf(serialize.parse({ name: 's', text: 'SELECT $1', types: [23, 0xffffffff] }))), {
      name: 's',
      text: 'SELECT $1',
      parameterTypes: [23, 0xffffffff],
    });
    assert.deepEqual(decodeExecute(bodyOf(serialize.execute({ portal: 'p', rows: 10 }))), { portal: 'p', maxRows: 10 });
    assert.deepEqual(decodeDescribeOrClose(bodyOf(serialize.describe({ type: 'P', name: 'p' }))), { kind: 'P', name: 'p' });
    assert.deepEqual(decodeDescribeOrClose(bodyOf(serialize.close({ type: 'S', name: '' }))), { kind: 'S', name: '' });
    assert.equal(decodeQuery(bodyOf(serialize.query('SELECT 1'))), 'SELECT 1');
  });

  test('Bind with one format code applies it to all parameters; with a mismatched count it is rejected', () => {
    const bind = (formats: number[], values: (Buffer | null)[]) => {
      const parts: Buffer[] = [cstr(''), cstr('')];
      const i16 = (n: number) => {
        const b = Buffer.alloc(2);
        b.writeInt16BE(n, 0);
        return b;
      };
      const i32 = (n: number) => {
        const b = Buffer.alloc(4);
        b.writeInt32BE(n, 0);
        return b;
      };
      parts.push(i16(formats.length), ...formats.map(i16), i16(values.length));
      for (const v of values) parts.push(v === null ? i32(-1) : Buffer.concat([i32(v.length), v]));
      parts.push(i16(0));
      return Buffer.concat(parts);
    };
    assert.deepEqual(decodeBind(bind([1], [Buffer.from('a'), Buffer.from('b')])).parameters, [{ base64: 'YQ==' }, { base64: 'Yg==' }]);
    assert.deepEqual(decodeBind(bind([0, 1], [Buffer.from('a'), Buffer.from('b')])).parameters, ['a', { base64: 'Yg==' }]);
    assertProtocolError(() => decodeBind(bind([0, 1, 0], [Buffer.from('a'), Buffer.from('b')])), 'TG_PG_MALFORMED');
    assertProtocolError(() => decodeBind(bind([], [Buffer.from('a')]).subarray(0, 10)), 'TG_PG_MALFORMED');
  });

  const cases: [string, (b: Buffer) => unknown, Buffer[]][] = [
    ['decodeBind', decodeBind, [
      bodyOf(serialize.bind({ portal: 'p', statement: 's', values: ['1', null, Buffer.from('xyz'), 'héllo'] })),
      bodyOf(serialize.bind({ binary: true, values: [Buffer.alloc(16, 7), null] })),
      bodyOf(serialize.bind()),
    ]],
    ['decodeParse', decodeParse, [bodyOf(serialize.parse({ name: 'n', text: 'SELECT $1, $2', types: [23, 25, 0] })), bodyOf(serialize.parse({ text: '' }))]],
    ['decodeExecute', decodeExecute, [bodyOf(serialize.execute({ portal: 'portal', rows: 100 })), bodyOf(serialize.execute())]],
    ['decodeDescribeOrClose', decodeDescribeOrClose, [bodyOf(serialize.describe({ type: 'S', name: 'stmt' })), bodyOf(serialize.close({ type: 'P', name: '' }))]],
    ['decodeQuery', decodeQuery, [bodyOf(serialize.query('SELECT 1'))]],
    ['decodeFunctionCall', decodeFunctionCall, [Buffer.from([0, 0, 4, 0, 0, 0, 0, 0, 0, 0])]],
    ['decodeStartupParameters', decodeStartupParameters, [serialize.startup({ user: 'u', database: 'd' }).subarray(8)]],
    ['decodeCancelRequest', decodeCancelRequest, [Buffer.from([0, 0, 0, 1, 0, 0, 0, 2])]],
  ];
  cases.forEach(([name, decode, valid], i) => {
    test(`${name}: truncated, mutated and random bodies only ever throw ProtocolError`, () => {
      const n = assertOnlyProtocolErrors(name, decode, valid, 1000 + i);
      assert.ok(n >= 300, `only ${n} cases`);
    });
  });
});
