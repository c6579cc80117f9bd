import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PendingRecord } from '../../connectors/embedded-log/embedded-log.js';
import { encodeLedgerEntry, encodeRecord, packMessages, toAuditRecord } from '../../connectors/kafka/record-codec.js';
import { SessionHeads } from '../../connectors/kafka/session-heads.js';
import { Spool } from '../../connectors/kafka/spool.js';
import type { SessionContext } from '../../events/index.js';

const ctx = (sessionId: string): SessionContext => ({ sessionId, instance: 'gw', protocol: 'ssh', target: { name: 'web', kind: 'ssh' }, identity: null, client: { address: '127.0.0.1', port: 1 } });

function event(sessionId: string, seq: number, type: string, data: unknown): Buffer {
  const r = { sessionId, seq, ts: new Date().toISOString(), stream: 'events', type, data, prev: `h${seq - 1}`, hash: `${sessionId}-h${seq}` } as PendingRecord;
  return packMessages([encodeRecord(toAuditRecord(ctx(sessionId), r))]);
}

function bytes(sessionId: string, seq: number): Buffer {
  const r: PendingRecord = { sessionId, seq, ts: new Date().toISOString(), stream: 'bytes', direction: 'server', offset: 0, data: Buffer.alloc(3000, 7), prev: `h${seq - 1}`, hash: `${sessionId}-h${seq}` };
  return packMessages([encodeRecord(toAuditRecord(ctx(sessionId), r))]);
}

describe('session chain heads beside the spool', () => {
  it('gives the exact head of each open session after the segments where they began were delivered and deleted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-heads-'));
    try {
      const spool = await Spool.open(dir, { segmentBytes: 8 * 1024 });
      const heads = SessionHeads.load(dir);
      spool.onTrim(async (position) => {
        await heads.advance(spool, position);
        await heads.save(dir);
      });
      await spool.append([event('open', 1, 'session.started', { protocol: 'ssh', tls: false, requested: {} })]);
      await spool.append([event('done', 1, 'session.started', { protocol: 'postgres', tls: false, requested: {} })]);
      for (let seq = 2; seq < 12; seq++) await spool.append([bytes('open', seq)]);
      await spool.append([event('done', 2, 'session.ended', { reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0, commands: 0 })]);
      await spool.append([event('done', 3, 'checkpoint.signed', { covers: { seq: 2, hash: 'done-h2' }, kid: 'k', jws: 'x', final: true })]);
      await spool.append([packMessages([encodeLedgerEntry({ instance: 'gw', seq: 4, ts: 'now', opened: ['open', 'done'], prev: '', hash: 'l4', kid: 'k', jws: 'x' })])]);
      const delivered = spool.endPosition;
      await spool.append([bytes('open', 12)]);
      // Everything before `delivered` reached Kafka: the segments wholly before it go.
      await spool.commit(delivered);
      assert.ok(!existsSync(join(dir, `${'0'.repeat(20)}.spool`)), 'the first segment is deleted');
      assert.ok(readdirSync(dir).includes('heads.json'), 'the heads were saved first');
      await spool.close();

      const reopened = await Spool.open(dir, { segmentBytes: 8 * 1024 });
      const after = SessionHeads.load(dir);
      assert.ok(after.position >= reopened.startPosition, 'the saved heads reach the oldest frame still on disk');
      await after.advance(reopened, reopened.endPosition);
      assert.deepEqual(after.unsealed('gw'), [{ context: ctx('open'), lastSeq: 12, lastHash: 'open-h12' }], 'the open session, at the record after the trim; the sealed one is closed');
      assert.equal(after.ledgerSeq, 4, 'the last ledger entry spooled');
      assert.deepEqual(after.sessionIds().sort(), ['done', 'open']);
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drops a sealed session from the saved heads once the ledger names it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-heads-'));
    try {
      const heads = SessionHeads.load(dir);
      heads.apply([encodeRecord(toAuditRecord(ctx('s'), { sessionId: 's', seq: 1, ts: 'now', stream: 'events', type: 'checkpoint.signed', data: { final: true }, prev: '', hash: 'h1' } as PendingRecord))], 10);
      await heads.save(dir, (id) => id !== 's');
      assert.deepEqual(SessionHeads.load(dir).sessionIds(), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
