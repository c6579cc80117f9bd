/**
 * Tampering with a real recorded session: each attack on the embedded log is caught by verify and
 * named. The attacker here can write the SQLite file and knows the (public) chain algorithm, but
 * does not hold the gateway's signing key.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { calculateJwkThumbprint, CompactSign, type JWK } from 'jose';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { recordHash, type AuditRecord, type ChainInput } from '../../events/index.js';
import { CHECKPOINT_TYP } from '../../services/integrity/checkpoint-signer.js';
import { keysDir, readPublishedKeys } from '../../services/integrity/signing-keys.js';
import { TrustedKeys } from '../../services/verify/trusted-keys.js';
import { embeddedLogSource } from '../../services/verify/verify-source.js';
import { verify } from '../../services/verify/verify.js';
import type { VerifyReport } from '../../services/verify/verdict.js';
import { GatewayHarness, ofType, sessionOf } from '../support/gateway-harness.js';

let h: GatewayHarness;
let original: string;
let sessionA: string;
let sessionB: string;
let trustedCopy: string;
const workspaces: string[] = [];

/** Two real sessions through the gateway, with periodic checkpoints, then the gateway stops. */
before(async () => {
  h = await GatewayHarness.start({ integrity: { checkpointEvery: 4, summarySeconds: 3600 } });
  // The operator's copy of the public keys, taken before anything could be tampered with.
  trustedCopy = join(mkdtempSync(join(tmpdir(), 'trailgate-trust-')), 'jwks.json');
  copyFileSync(join(keysDir(h.dataDir), 'jwks.json'), trustedCopy);
  for (const which of ['a', 'b'] as const) {
    const c = await h.client();
    const id = await sessionOf(h, c);
    await c.query('create temp table t (id int, note text)');
    await c.query('insert into t select g, $1 from generate_series(1, 50) g', [`session ${which}`]);
    await c.query('select * from t order by id');
    await c.query('update t set note = $1 where id < $2', ['changed', 10]);
    const ended = h.endedSession((events) => events[0]?.sessionId === id);
    await c.end();
    await ended;
    if (which === 'a') sessionA = id;
    else sessionB = id;
  }
  await h.gateway.stop();
  original = h.dataDir;
});

after(() => {
  rmSync(original, { recursive: true, force: true });
  for (const w of workspaces) rmSync(w, { recursive: true, force: true });
});

/** A copy of the data directory for one attack. */
function workspace(): { dir: string; db: Database.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'trailgate-tamper-'));
  workspaces.push(dir);
  copyFileSync(join(original, 'trailgate.db'), join(dir, 'trailgate.db'));
  cpSync(keysDir(original), keysDir(dir), { recursive: true });
  return { dir, db: new Database(join(dir, 'trailgate.db')) };
}

async function verifyDir(dir: string, o: { sessionId?: string; jwks?: string } = {}): Promise<VerifyReport> {
  const log = new EmbeddedLog(join(dir, 'trailgate.db'), { readonly: true });
  try {
    const trusted = o.jwks
      ? new TrustedKeys((JSON.parse(readFileSync(o.jwks, 'utf8')) as { keys: JWK[] }).keys, o.jwks)
      : new TrustedKeys(readPublishedKeys(keysDir(dir)).keys, 'the data directory');
    return await verify({ source: embeddedLogSource(log), trusted, published: readPublishedKeys(keysDir(dir)).keys, ...(o.sessionId ? { sessionId: o.sessionId } : {}) });
  } finally {
    log.close();
  }
}

function records(dir: string, sessionId: string): AuditRecord[] {
  const log = new EmbeddedLog(join(dir, 'trailgate.db'), { readonly: true });
  try {
    return log.readSession(sessionId);
  } finally {
    log.close();
  }
}

function verdictOf(report: VerifyReport, sessionId: string) {
  const v = report.sessions.find((s) => s.sessionId === sessionId);
  assert.ok(v, `a verdict for ${sessionId}`);
  return v;
}

function firstSeqOf(recs: AuditRecord[], type: string): number {
  const r = recs.find((x) => x.type === type);
  assert.ok(r, `a ${type} record`);
  return r.seq;
}

function chainInput(r: AuditRecord, data?: unknown): ChainInput {
  return r.stream === 'events'
    ? { v: r.v, sessionId: r.sessionId, seq: r.seq, ts: r.ts, stream: 'events', type: r.type, data: data ?? r.data }
    : { v: r.v, sessionId: r.sessionId, seq: r.seq, ts: r.ts, stream: 'bytes', direction: r.direction, offset: r.offset, data: r.data };
}

/** What a capable attacker does after changing content: recompute every later link (but not the signatures). */
function rehashFrom(db: Database.Database, dir: string, sessionId: string, fromSeq: number): void {
  db.close();
  const recs = records(dir, sessionId);
  const reopened = new Database(join(dir, 'trailgate.db'));
  let prev = fromSeq > 1 ? recs.find((r) => r.seq === fromSeq - 1)!.hash : '';
  for (const r of recs.filter((x) => x.seq >= fromSeq)) {
    const hash = recordHash(prev, chainInput(r));
    reopened.prepare('UPDATE records SET prev = ?, hash = ? WHERE session_id = ? AND seq = ?').run(prev, hash, sessionId, r.seq);
    prev = hash;
  }
  reopened.close();
}

describe('verify on an untouched log', () => {
  it('reports both sessions intact, signed through their end, and the ledger naming both', async () => {
    const report = await verifyDir(original, { jwks: trustedCopy });
    assert.equal(report.ok, true, JSON.stringify(report, null, 2));
    for (const id of [sessionA, sessionB]) {
      const v = verdictOf(report, id);
      assert.equal(v.status, 'intact');
      assert.equal(v.signedThrough, v.records - 1, 'the final signature covers everything before it');
    }
    const recs = records(original, sessionA);
    assert.ok(ofType(recs.filter((r) => r.stream === 'events') as never, 'checkpoint.signed').length >= 3, 'periodic checkpoints as well as the final one');
    assert.ok(recs.some((r) => r.stream === 'bytes'), 'byte chunks are chained too');
    assert.equal(report.ledgers.length, 1);
    assert.equal(report.ledgers[0]!.failure, undefined);
    assert.deepEqual(report.unlisted, []);
  });
});

describe('verify names each kind of tampering', () => {
  it('a modified record', async () => {
    const { dir, db } = workspace();
    const seq = firstSeqOf(records(original, sessionA), 'command.started');
    db.prepare("UPDATE records SET data = json_set(data, '$.text', 'select 1') WHERE session_id = ? AND seq = ?").run(sessionA, seq);
    db.close();
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.equal(v.status, 'tampered');
    assert.deepEqual([v.failure?.kind, v.failure?.seq], ['modified', seq]);
    assert.equal(verdictOf(await verifyDir(dir), sessionB).status, 'intact', 'the other session is unaffected');
  });

  it('a modified byte chunk', async () => {
    const { dir, db } = workspace();
    const seq = records(original, sessionA).find((r) => r.stream === 'bytes' && r.direction === 'server')!.seq;
    db.prepare('UPDATE records SET bytes = zeroblob(length(bytes)) WHERE session_id = ? AND seq = ?').run(sessionA, seq);
    db.close();
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.deepEqual([v.failure?.kind, v.failure?.seq], ['modified', seq]);
  });

  it('a deleted record', async () => {
    const { dir, db } = workspace();
    const seq = firstSeqOf(records(original, sessionA), 'command.completed');
    db.prepare('DELETE FROM records WHERE session_id = ? AND seq = ?').run(sessionA, seq);
    db.close();
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.deepEqual([v.failure?.kind, v.failure?.seq], ['missing', seq]);
  });

  it('a deleted record with the later ones renumbered to close the gap', async () => {
    const { dir, db } = workspace();
    const seq = firstSeqOf(records(original, sessionA), 'command.completed');
    db.prepare('DELETE FROM records WHERE session_id = ? AND seq = ?').run(sessionA, seq);
    db.prepare('UPDATE records SET seq = -seq WHERE session_id = ? AND seq > ?').run(sessionA, seq);
    db.prepare('UPDATE records SET seq = -seq - 1 WHERE session_id = ? AND seq < 0').run(sessionA);
    db.close();
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.deepEqual([v.failure?.kind, v.failure?.seq], ['missing', seq]);
  });

  it('two records swapped', async () => {
    const { dir, db } = workspace();
    const seq = firstSeqOf(records(original, sessionA), 'command.started');
    db.prepare('UPDATE records SET seq = -1 WHERE session_id = ? AND seq = ?').run(sessionA, seq);
    db.prepare('UPDATE records SET seq = ? WHERE session_id = ? AND seq = ?').run(seq, sessionA, seq + 1);
    db.prepare('UPDATE records SET seq = ? WHERE session_id = ? AND seq = -1').run(seq + 1, sessionA);
    db.close();
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.deepEqual([v.failure?.kind, v.failure?.seq], ['reordered', seq]);
  });

  it('an inserted record, linked and hashed the way the gateway would', async () => {
    const { dir, db } = workspace();
    const recs = records(original, sessionA);
    const seq = firstSeqOf(recs, 'command.completed');
    db.prepare('UPDATE records SET seq = -seq WHERE session_id = ? AND seq >= ?').run(sessionA, seq);
    db.prepare('UPDATE records SET seq = -seq + 1 WHERE session_id = ? AND seq < 0').run(sessionA);
    const before = recs.find((r) => r.seq === seq - 1)!;
    const forged = { v: 1, sessionId: sessionA, seq, ts: before.ts, stream: 'events' as const, type: 'command.started', data: { protocol: 'simple', text: 'drop table audit' } };
    db.prepare("INSERT INTO records (session_id, seq, stream, type, ts, data, prev, hash) VALUES (?, ?, 'events', 'command.started', ?, ?, ?, ?)").run(
      sessionA, seq, forged.ts, JSON.stringify(forged.data), before.hash, recordHash(before.hash, forged),
    );
    db.close();
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.deepEqual([v.failure?.kind, v.failure?.seq], ['inserted', seq]);
  });

  it('a cut-off tail', async () => {
    const { dir, db } = workspace();
    const ended = firstSeqOf(records(original, sessionA), 'session.ended');
    db.prepare('DELETE FROM records WHERE session_id = ? AND seq >= ?').run(sessionA, ended - 2);
    db.close();
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.equal(v.status, 'truncated');
    assert.deepEqual([v.failure?.kind, v.failure?.seq], ['truncated', ended - 3]);
  });

  it('a record moved in from another session', async () => {
    const { dir, db } = workspace();
    const seq = firstSeqOf(records(original, sessionA), 'command.started');
    db.prepare('DELETE FROM records WHERE session_id = ? AND seq = ?').run(sessionA, seq);
    db.prepare('UPDATE records SET session_id = ? WHERE session_id = ? AND seq = ?').run(sessionA, sessionB, seq);
    db.close();
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.deepEqual([v.failure?.kind, v.failure?.seq], ['foreign', seq]);
    assert.match(v.failure!.message, new RegExp(sessionB));
  });

  it('a whole session deleted', async () => {
    const { dir, db } = workspace();
    db.prepare('DELETE FROM records WHERE session_id = ?').run(sessionA);
    db.prepare('DELETE FROM sessions WHERE session_id = ?').run(sessionA);
    db.close();
    const report = await verifyDir(dir);
    assert.equal(report.ok, false);
    assert.equal(report.ledgers[0]!.failure?.kind, 'session-missing');
    assert.match(report.ledgers[0]!.failure!.message, new RegExp(sessionA));
    assert.equal(verdictOf(report, sessionB).status, 'intact');
  });

  it('records rewritten and re-linked after they were signed', async () => {
    const { dir, db } = workspace();
    const seq = firstSeqOf(records(original, sessionA), 'command.started');
    db.prepare("UPDATE records SET data = json_set(data, '$.text', 'select 1') WHERE session_id = ? AND seq = ?").run(sessionA, seq);
    rehashFrom(db, dir, sessionA, seq);
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.equal(v.failure?.kind, 'checkpoint-mismatch');
    assert.ok(v.signedThrough < seq, 'nothing from the rewritten record on counts as signed');
  });

  it('a record appended after the signed end', async () => {
    const { dir, db } = workspace();
    const last = records(original, sessionA).at(-1)!;
    const extra = { v: 1, sessionId: sessionA, seq: last.seq + 1, ts: last.ts, stream: 'events' as const, type: 'command.started', data: { protocol: 'simple', text: 'select 1' } };
    db.prepare("INSERT INTO records (session_id, seq, stream, type, ts, data, prev, hash) VALUES (?, ?, 'events', 'command.started', ?, ?, ?, ?)").run(sessionA, extra.seq, extra.ts, JSON.stringify(extra.data), last.hash, recordHash(last.hash, extra));
    db.close();
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.deepEqual([v.failure?.kind, v.failure?.seq], ['after-end', extra.seq]);
  });

  it('an envelope that claims another repository', async () => {
    const { dir, db } = workspace();
    db.prepare("UPDATE sessions SET context = json_set(context, '$.identity.ci.repository', 'someone/else') WHERE session_id = ?").run(sessionA);
    db.close();
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.equal(v.failure?.kind, 'envelope-mismatch');
  });

  it('a checkpoint signed with an unknown key', async () => {
    const { dir, db } = workspace();
    const last = records(original, sessionA).at(-1)!;
    assert.equal(last.type, 'checkpoint.signed');
    const data = last.data as { covers: { seq: number; hash: string }; final: boolean };
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const kid = await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as JWK);
    const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify({ v: 1, sid: sessionA, seq: data.covers.seq, hash: data.covers.hash, final: true })))
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: CHECKPOINT_TYP })
      .sign(privateKey);
    const newData = { ...data, kid, jws };
    db.prepare('UPDATE records SET data = ?, hash = ? WHERE session_id = ? AND seq = ?').run(JSON.stringify(newData), recordHash(last.prev, chainInput(last, newData)), sessionA, last.seq);
    db.close();
    const v = verdictOf(await verifyDir(dir), sessionA);
    assert.deepEqual([v.failure?.kind, v.failure?.seq], ['unknown-key', last.seq]);
  });

  /** The attacker rewrites a statement, re-links and re-signs everything with a key of their own. */
  async function forgeWithOwnKey(dir: string, db: Database.Database, publishAs: 'same-kid' | 'own-kid'): Promise<void> {
    const seq = firstSeqOf(records(original, sessionA), 'command.started');
    db.prepare("UPDATE records SET data = json_set(data, '$.text', 'select 1') WHERE session_id = ? AND seq = ?").run(sessionA, seq);
    rehashFrom(db, dir, sessionA, seq);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const ownKid = await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as JWK);
    const published = readPublishedKeys(keysDir(dir)).keys;
    const kid = publishAs === 'same-kid' ? published[0]!.kid! : ownKid;
    const rw = new Database(join(dir, 'trailgate.db'));
    let prev = '';
    for (const r of records(dir, sessionA)) {
      let data = r.data as unknown;
      if (r.type === 'checkpoint.signed') {
        const d = r.data as { covers: { seq: number; hash: string }; final: boolean };
        const covers = { seq: d.covers.seq, hash: rw.prepare('SELECT hash FROM records WHERE session_id = ? AND seq = ?').pluck().get(sessionA, d.covers.seq) as string };
        const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify({ v: 1, sid: sessionA, ...covers, final: d.final })))
          .setProtectedHeader({ alg: 'EdDSA', kid, typ: CHECKPOINT_TYP })
          .sign(privateKey);
        data = { ...d, covers, kid, jws };
      }
      const hash = recordHash(prev, chainInput(r, data));
      if (r.stream === 'events') rw.prepare('UPDATE records SET data = ?, prev = ?, hash = ? WHERE session_id = ? AND seq = ?').run(JSON.stringify(data), prev, hash, sessionA, r.seq);
      prev = hash;
    }
    rw.close();
    const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'EdDSA', use: 'sig' };
    writeFileSync(join(keysDir(dir), 'jwks.json'), JSON.stringify({ keys: publishAs === 'same-kid' ? [jwk] : [...published, jwk] }));
  }

  it('a replaced public key: swapped in under the old key id', async () => {
    const { dir, db } = workspace();
    await forgeWithOwnKey(dir, db, 'same-kid');
    const report = await verifyDir(dir);
    assert.equal(report.ok, false);
    assert.equal(report.keys[0]?.kind, 'key-replaced');
    const withTrusted = verdictOf(await verifyDir(dir, { jwks: trustedCopy }), sessionA);
    assert.equal(withTrusted.failure?.kind, 'bad-signature');
  });

  it('a replaced public key: published beside the old one under its own id', async () => {
    const { dir, db } = workspace();
    await forgeWithOwnKey(dir, db, 'own-kid');
    const v = verdictOf(await verifyDir(dir, { jwks: trustedCopy }), sessionA);
    assert.equal(v.failure?.kind, 'unknown-key');
    assert.equal(verdictOf(await verifyDir(dir, { jwks: trustedCopy }), sessionB).status, 'intact');
  });
});
