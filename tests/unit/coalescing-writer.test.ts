import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CoalescingWriter } from '../../services/gateway/postgres/coalescing-writer.js';

/** A loopback socket pair: what the relay writes toward a client, and the client reading it. */
async function socketPair(): Promise<{ writer: net.Socket; reader: net.Socket; close: () => void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const reader = net.connect(port, '127.0.0.1');
  const [writer] = await accepted;
  await once(reader, 'connect').catch(() => undefined);
  return { writer, reader, close: () => { writer.destroy(); reader.destroy(); server.close(); } };
}

function received(reader: net.Socket, bytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    reader.on('data', (b: Buffer) => {
      parts.push(b);
      got += b.length;
      if (got >= bytes) resolve(Buffer.concat(parts));
    });
    reader.on('close', () => reject(new Error(`closed after ${got} of ${bytes} bytes`)));
  });
}

/** Counts the socket's own write calls: what reaches the kernel as separate writes. */
function countSocketWrites(socket: net.Socket): { single: number; vectored: number } {
  const counts = { single: 0, vectored: 0 };
  const s = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = s._write.bind(socket);
  const writev = s._writev.bind(socket);
  s._write = (...a) => { counts.single++; write(...a); };
  s._writev = (...a) => { counts.vectored++; writev(...a); };
  return counts;
}

describe('coalescing writer toward a socket', () => {
  let pair: Awaited<ReturnType<typeof socketPair>>;
  before(async () => (pair = await socketPair()));
  after(() => pair.close());

  it('sends every message of one turn in one write, in order', async () => {
    const w = new CoalescingWriter(pair.writer);
    const calls = countSocketWrites(pair.writer);
    const messages = Array.from({ length: 200 }, (_, i) => Buffer.from(`D message ${i};`));
    const total = messages.reduce((n, m) => n + m.length, 0);
    const got = received(pair.reader, total);
    for (const m of messages) assert.equal(w.write(m), true);
    assert.equal(calls.single + calls.vectored, 0, 'nothing leaves before the turn ends');
    assert.deepEqual(await got, Buffer.concat(messages));
    assert.equal(w.flushes, 1);
    assert.equal(calls.single + calls.vectored, 1, 'one write toward the kernel for the whole turn');
    pair.reader.removeAllListeners('data');
    pair.reader.removeAllListeners('close');
  });
});

describe('coalescing writer under backpressure', () => {
  let pair: Awaited<ReturnType<typeof socketPair>>;
  before(async () => (pair = await socketPair()));
  after(() => pair.close());

  it('answers false above the socket high-water mark so the relay pauses, and streams a large row intact', async () => {
    const w = new CoalescingWriter(pair.writer);
    const slice = 64 * 1024;
    const total = 48 * 1024 * 1024;
    const row = Buffer.alloc(total);
    for (let i = 0; i < total; i += 4) row.writeUInt32BE(i, i);
    // The reader starts paused: the writer must see backpressure instead of buffering 48 MiB.
    pair.reader.pause();
    const got = received(pair.reader, total);
    let sent = 0;
    let falses = 0;
    let mostBuffered = 0;
    while (sent < total) {
      const ok = w.write(row.subarray(sent, sent + slice));
      sent += slice;
      mostBuffered = Math.max(mostBuffered, pair.writer.writableLength);
      if (!ok) {
        falses++;
        if (falses === 1) pair.reader.resume();
        await once(pair.writer, 'drain');
      }
    }
    const all = await got;
    assert.ok(falses > 0, 'the socket pushed back');
    assert.ok(mostBuffered <= pair.writer.writableHighWaterMark + slice, `at most one slice above the high-water mark was buffered (saw ${mostBuffered})`);
    assert.equal(createHash('sha256').update(all).digest('hex'), createHash('sha256').update(row).digest('hex'));
  });

  it('lets end() send what the turn wrote', async () => {
    const again = await socketPair();
    try {
      const w = new CoalescingWriter(again.writer);
      const got = new Promise<Buffer>((resolve) => {
        const parts: Buffer[] = [];
        again.reader.on('data', (b: Buffer) => parts.push(b));
        again.reader.on('end', () => resolve(Buffer.concat(parts)));
      });
      w.write(Buffer.from('C\0\0\0\x0dSELECT 1\0'));
      again.writer.end(Buffer.from('E-fatal'));
      assert.equal((await got).toString('latin1'), 'C\0\0\0\x0dSELECT 1\0E-fatal');
    } finally {
      again.close();
    }
  });
});
