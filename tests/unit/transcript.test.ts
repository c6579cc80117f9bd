import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditRecord } from '../../events/index.js';
import { buildTranscript, transcriptText } from '../../services/replay/transcript.js';

const base = { v: 1, instance: 'gw', target: { name: 'orders', kind: 'postgres' as const }, identity: null, client: { address: '127.0.0.1', port: 1 }, prev: '', hash: '' };
let seq = 0;
function ev(ts: string, type: string, data: unknown): AuditRecord {
  seq++;
  return { ...base, id: `s:${seq}`, sessionId: 's', seq, ts: `2026-11-20T10:00:0${ts}Z`, stream: 'events', type, data } as unknown as AuditRecord;
}

describe('trailgate transcript', () => {
  const records = [
    ev('0.000', 'session.started', { protocol: 'postgres', tls: true, requested: {} }),
    ev('0.100', 'command.started', { protocol: 'extended', text: 'select * from users where email = $1', statementName: 'q1', parameters: ['a@example.com', null, { base64: 'AAE=' }], decision: { outcome: 'allowed', needs: ['read'], rules: ['r1'] } }),
    ev('0.150', 'masking.applied', { commandSeq: 2, columns: ['email'], detector: 'e-mail' }),
    ev('0.200', 'command.completed', { commandSeq: 2, outcome: 'ok', durationMs: 1.5, tags: ['SELECT 3'], rows: 3 }),
    ev('0.300', 'command.started', { protocol: 'simple', text: "drop table users\x1b[2J", decision: { outcome: 'denied', needs: ['ddl'], missing: ['ddl'] } }),
    ev('0.310', 'command.completed', { commandSeq: 5, outcome: 'denied', durationMs: 0, tags: [], rows: 0, sqlstate: '42501', error: 'needs ddl' }),
    ev('0.400', 'command.started', { protocol: 'simple', text: 'select pg_sleep(10)' }),
    ev('0.500', 'cancel.requested', { forwarded: true }),
    ev('0.900', 'session.ended', { reason: 'client-terminated', bytesFromClient: 1, bytesToClient: 2, commands: 3 }),
  ];
  const t = buildTranscript('s', records);

  it('pairs each statement with its completion, masking and the events around it', () => {
    assert.equal(t.entries.length, 3);
    const [first, denied, open] = t.entries;
    assert.deepEqual(first!.parameters, ['a@example.com', null, { base64: 'AAE=' }]);
    assert.equal(first!.offset, 0.1);
    assert.deepEqual(first!.completion, { seq: 4, outcome: 'ok', durationMs: 1.5, tags: ['SELECT 3'], rows: 3 });
    assert.deepEqual(first!.masking, [{ seq: 3, type: 'masking.applied', data: { commandSeq: 2, columns: ['email'], detector: 'e-mail' } }]);
    assert.equal(denied!.completion!.sqlstate, '42501');
    assert.equal(open!.completion, undefined);
    assert.equal(open!.notes[0]!.type, 'cancel.requested');
    assert.equal(t.endReason, 'client-terminated');
  });

  it('reads as SQL, with parameters, decisions and outcomes as comments, and control characters made visible', () => {
    const text = transcriptText(t);
    assert.match(text, /-- #2 .* extended statement q1 · allowed \(needs read; rule r1\)\nselect \* from users where email = \$1;\n-- {3}\$1 = 'a@example\.com'\n-- {3}\$2 = NULL\n-- {3}\$3 = binary\(base64:AAE=\)\n-- {3}-> ok · SELECT 3 · 3 rows · 1\.5 ms\n-- {3}masking: masking\.applied/);
    assert.match(text, /DENIED \(needs ddl; missing ddl\)\ndrop table users\\x1b\[2J;/);
    assert.match(text, /no completion recorded/);
    assert.ok(!text.includes('\x1b'));
  });
});
