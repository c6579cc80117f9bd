/**
 * The ledger cannot be cut quietly. An attacker who can write the embedded log deletes a whole
 * session together with the ledger entries that name it: a session that no signed summary names
 * although it is older than the summary interval fails `verify --all`, and a ledger whose tail was
 * cut fails against the copy a replay store holds off the machine (`verify --all --ledger-from`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { ReplayStore } from '../../connectors/embedded-log/replay-store.js';
import { keysDir, readPublishedKeys } from '../../services/integrity/signing-keys.js';
import { TrustedKeys } from '../../services/verify/trusted-keys.js';
import { embeddedLogSource } from '../../services/verify/verify-source.js';
import { verify } from '../../services/verify/verify.js';
import type { VerifyReport } from '../../services/verify/verdict.js';
import { GatewayHarness, sessionOf } from '../support/gateway-harness.js';
import { CLI } from '../support/trailgate-up.js';

const exec = promisify(execFile);
let original: string;
const sessions: string[] = [];
const cleanup: string[] = [];

/** Two sessions, each named by its own signed summary (the gateway summarizes when it stops). */
before(async () => {
  original = mkdtempSync(join(tmpdir(), 'trailgate-ledger-'));
  cleanup.push(original);
  for (let i = 0; i < 2; i++) {
    const h = await GatewayHarness.start({ dataDir: original, integrity: { summarySeconds: 3600 } });
    const c = await h.client();
    sessions.push(await sessionOf(h, c));
    await c.query('select 1');
    const ended = h.endedSession();
    await c.end();
    await ended;
    await h.stop();
  }
});

after(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

/** A copy of the data directory with `tamper` applied to its log. */
function tampered(tamper: (db: Database.Database) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'trailgate-cut-'));
  cleanup.push(dir);
  cpSync(original, dir, { recursive: true });
  const db = new Database(join(dir, 'trailgate.db'));
  tamper(db);
  db.close();
  return dir;
}

function deleteSession(db: Database.Database, sessionId: string): void {
  db.prepare('DELETE FROM records WHERE session_id = ?').run(sessionId);
  db.prepare('DELETE FROM sessions WHERE session_id = ?').run(sessionId);
}

async function verifyAll(dir: string, o: { now?: Date; summaryIntervalMs?: number } = {}): Promise<VerifyReport> {
  const log = new EmbeddedLog(join(dir, 'trailgate.db'), { readonly: true });
  try {
    const keys = readPublishedKeys(keysDir(original)).keys;
    return await verify({ source: embeddedLogSource(log), trusted: new TrustedKeys(keys, 'the original key store'), published: keys, ...o });
  } finally {
    log.close();
  }
}

/** `trailgate verify --all` as an operator runs it on that data directory. */
async function verifyCli(dir: string, extra: string[], summarySeconds = 3600): Promise<{ code: number; out: string }> {
  const config = join(dir, 'trailgate.json');
  writeFileSync(config, JSON.stringify({ dataDir: dir, integrity: { summarySeconds } }));
  return exec(process.execPath, [CLI, '--config', config, 'verify', '--all', ...extra]).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}

describe('ledger cut', () => {
  it('the untouched log verifies, each session named by a signed summary', async () => {
    const report = await verifyAll(original, { now: new Date(Date.now() + 24 * 3600_000) });
    assert.ok(report.ok, JSON.stringify(report));
    assert.equal(report.ledgers[0]!.entries, 2);
    assert.deepEqual(report.unnamed, []);
  });

  it('a session deleted together with the ledger table: the sessions left are older than the summary interval and named by nothing', async () => {
    const dir = tampered((db) => {
      deleteSession(db, sessions[0]!);
      db.exec('DELETE FROM ledger');
    });
    const later = await verifyAll(dir, { now: new Date(Date.now() + 3 * 3600_000), summaryIntervalMs: 3600_000 });
    assert.equal(later.ok, false);
    assert.deepEqual(later.unnamed.map((u) => [u.sessionId, u.failure.kind]), [[sessions[1], 'unlisted']]);
    assert.match(later.unnamed[0]!.failure.message, /no signed summary names it/);
    // The command line, with the gateway's summary interval long past (both sessions ended before the attack).
    const cli = await verifyCli(dir, [], 0.01);
    assert.equal(cli.code, 1, cli.out);
    assert.match(cli.out, new RegExp(`UNLISTED  ${sessions[1]}: .*no signed summary names it`));
    assert.match(cli.out, /FAILED: .*1 session\(s\) named by no signed summary/);
    // Within the interval a session may be waiting for its summary: that alone is not a failure.
    const soon = await verifyAll(dir, { summaryIntervalMs: 3600_000 });
    assert.ok(soon.ok);
    assert.deepEqual(soon.unlisted, [sessions[1]]);
  });

  it('a cut tail of the ledger with the session it named: exit 0 alone, a failure against the replay store\'s copy', async () => {
    // The copy a replay store holds off the machine: it read the ledger topic before the attack.
    const storeDir = mkdtempSync(join(tmpdir(), 'trailgate-store-'));
    cleanup.push(storeDir);
    const store = new ReplayStore(join(storeDir, 'replay-store.db'));
    const log = new EmbeddedLog(join(original, 'trailgate.db'), { readonly: true });
    store.writeLedger(log.readLedger());
    log.close();
    await store.close();

    const dir = tampered((db) => {
      deleteSession(db, sessions[1]!);
      db.prepare('DELETE FROM ledger WHERE seq = 2').run();
    });
    const alone = await verifyCli(dir, []);
    assert.equal(alone.code, 0, `the cut is invisible from the log alone:\n${alone.out}`);

    const against = await verifyCli(dir, ['--ledger-from', store.file]);
    assert.equal(against.code, 1, against.out);
    assert.match(against.out, /ledger-cut at entry 2/);
    assert.match(against.out, new RegExp(`entries 2-2 were cut \\(naming 1 session\\(s\\), 1 of them not in the log: ${sessions[1]}`));
    assert.match(against.out, /FAILED: .*ledger failed/);

    const json = JSON.parse((await verifyCli(dir, ['--ledger-from', store.file, '--json'])).out) as VerifyReport;
    assert.equal(json.ledgers[0]!.failure?.kind, 'ledger-cut');
    assert.equal(json.ledgerCopy, store.file);

    // The untouched log agrees with the copy.
    const whole = await verifyCli(tampered(() => undefined), ['--ledger-from', store.file]);
    assert.equal(whole.code, 0, whole.out);
  });
});
