/**
 * The gateway's spool in front of Kafka: frames survive reopening, a torn last frame is cut off,
 * corruption is named, segments roll and are deleted once drained.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Spool, SpoolCorrupt } from '../../connectors/kafka/spool.js';
import { decodeRecord, encodeRecord, packMessages, unpackMessages } from '../../connectors/kafka/record-codec.js';
import { spoolFsync } from '../../connectors/kafka/kafka-log-sink.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import type { AuditRecord } from '../../events/index.js';

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-spool-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const frame = (n: number) => Buffer.from(`frame-${n}-${'x'.repeat(n % 7)}`);

describe('spool', () => {
  it('gives back every frame in order, across a reopen, from the committed position', withDir(async (dir) => {
    let spool = await Spool.open(dir, { fsync: false });
    await spool.append([frame(1), frame(2)]);
    await Promise.all([spool.append([frame(3)]), spool.append([frame(4)])]);
    const all = await spool.read(0, 1 << 20);
    assert.deepEqual(all.map((f) => f.payload.toString()), [1, 2, 3, 4].map((n) => frame(n).toString()));
    await spool.commit(all[1]!.end);
    await spool.close();
    spool = await Spool.open(dir, { fsync: false });
    assert.equal(spool.drainedPosition, all[1]!.end);
    const rest = await spool.read(spool.drainedPosition, 1 << 20);
    assert.deepEqual(rest.map((f) => f.payload.toString()), [frame(3).toString(), frame(4).toString()]);
    assert.equal(spool.pendingBytes, spool.endPosition - all[1]!.end);
    await spool.close();
  }));

  it('cuts a torn last frame off when it is opened after a crash', withDir(async (dir) => {
    let spool = await Spool.open(dir, { fsync: false });
    await spool.append([frame(1), frame(2)]);
    const end = spool.endPosition;
    await spool.close();
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.spool'));
    // Half a frame: a header announcing 100 bytes and only 3 of them.
    const header = Buffer.alloc(8);
    header.writeUInt32BE(100, 0);
    appendFileSync(join(dir, segment!), Buffer.concat([header, Buffer.from('abc')]));
    spool = await Spool.open(dir, { fsync: false });
    assert.equal(spool.endPosition, end);
    await spool.append([frame(3)]);
    assert.deepEqual((await spool.read(0, 1 << 20)).map((f) => f.payload.toString()), [1, 2, 3].map((n) => frame(n).toString()));
    await spool.close();
  }));

  it('names a frame whose CRC does not match instead of delivering it', withDir(async (dir) => {
    const spool = await Spool.open(dir, { fsync: false });
    await spool.append([frame(1), frame(2)]);
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.spool'));
    const bytes = readFileSync(join(dir, segment!));
    bytes[9] = bytes[9]! ^ 0xff;
    writeFileSync(join(dir, segment!), bytes);
    await assert.rejects(spool.read(0, 1 << 20), (err: Error) => err instanceof SpoolCorrupt && /CRC/.test(err.message));
    await spool.close();
  }));

  it('rolls segments and deletes the ones wholly drained', withDir(async (dir) => {
    const spool = await Spool.open(dir, { fsync: false, segmentBytes: 1024 * 1024 });
    const big = Buffer.alloc(300 * 1024, 7);
    for (let i = 0; i < 8; i++) await spool.append([big]);
    const segments = () => readdirSync(dir).filter((f) => f.endsWith('.spool')).length;
    assert.ok(segments() >= 2, 'more than one segment');
    const frames = await spool.read(0, 64 * 1024 * 1024);
    assert.equal(frames.length, 8);
    await spool.commit(frames[frames.length - 1]!.end);
    assert.equal(segments(), 1, 'only the active segment is left');
    await spool.close();
  }));
});

describe('Kafka record codec', () => {
  const base = { v: 1, id: 's:1', sessionId: 's', seq: 1, ts: '2026-01-01T00:00:00.000Z', instance: 'gw', target: null, identity: null, client: { address: '127.0.0.1', port: 1 }, prev: 'p', hash: 'h' };

  it('sends byte chunks as binary values with the envelope in a header, and keeps fields it does not know', () => {
    const data = Buffer.from([0, 255, 1, 2, 10, 13]);
    const record = { ...base, stream: 'bytes', type: 'bytes', direction: 'client', offset: 0, data, future: { x: 1 } } as unknown as AuditRecord;
    const m = encodeRecord(record);
    assert.equal(m.key, 's');
    assert.deepEqual(m.value, data, 'the value is the raw bytes, not base64');
    const [back] = unpackMessages(packMessages([m]));
    assert.deepEqual(decodeRecord('bytes', back!.value, back!.headers), record);
  });

  it('sends events as JSON and refuses what is not a record', () => {
    const record = { ...base, stream: 'events', type: 'session.started', data: { protocol: 'postgres', tls: false, requested: {} } } as unknown as AuditRecord;
    const m = encodeRecord(record);
    assert.deepEqual(decodeRecord('events', m.value, m.headers), record);
    assert.throws(() => decodeRecord('events', Buffer.from('{"a":1}'), {}), /missing envelope fields/);
    assert.throws(() => decodeRecord('bytes', Buffer.from('x'), {}), /no tg-record header/);
  });
});

describe('spool durability', () => {
  const config = (spool?: { fsync: boolean }) => KafkaLogConfig.parse({ brokers: ['127.0.0.1:9092'], ...(spool ? { spool } : {}) });

  it('syncs every batch when recording.fsync asks for power-loss safety, and only writes it (as the embedded log) when not', () => {
    assert.equal(spoolFsync(config(), true), true);
    assert.equal(spoolFsync(config(), false), false);
  });

  it('lets log.kafka.spool.fsync decide when it is set', () => {
    assert.equal(spoolFsync(config({ fsync: true }), false), true);
    assert.equal(spoolFsync(config({ fsync: false }), true), false);
  });

  it('keeps every frame written without a per-batch sync across a close and a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-spool-'));
    try {
      let spool = await Spool.open(dir, { fsync: false, syncMillis: 1 });
      await spool.append([Buffer.from('one')]);
      await spool.append([Buffer.from('two')]);
      await spool.close();
      spool = await Spool.open(dir, { fsync: false });
      assert.deepEqual((await spool.read(0, 1 << 20)).map((f) => f.payload.toString()), ['one', 'two']);
      await spool.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
