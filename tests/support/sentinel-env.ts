import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rowToEnvelope } from '../../connectors/sentinel/envelope.js';
import { SentinelConfig } from '../../connectors/sentinel/config.js';
import { recordHash, type ChainInput } from '../../events/chain.js';
import type { AuditRecord } from '../../events/index.js';
import { SentinelStandIn } from '../services/sentinel-standin.js';
import type { GatewayHarness } from './gateway-harness.js';

export const TENANT = '72f988bf-0000-4000-8000-00000000cafe';
export const CLIENT_ID = '0d5b9a2e-0000-4000-8000-00000000beef';
export const CLIENT_SECRET = 'stand-in-client-secret~never-logged-4f9c2';
export const RULE_ID = `dcr-${'a1b2c3d4'.repeat(4)}`;

/** The Logs Ingestion stand-in with the shipped DCR, one tenant, one app registration. */
export function startStandIn(o: { federatedToken?: string; identityHeader?: string } = {}): Promise<SentinelStandIn> {
  return SentinelStandIn.start({ dcrFile: 'dashboards/sentinel/dcr.json', ruleId: RULE_ID, tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...o });
}

/** A `sentinel:` section pointing at the stand-in: its CA trusted through caFile, its token endpoint as authority. */
export function sentinelConfig(standIn: SentinelStandIn, extra: Record<string, unknown> = {}): SentinelConfig {
  return SentinelConfig.parse({
    endpoint: standIn.url,
    ruleId: RULE_ID,
    credential: { kind: 'client-secret', tenantId: TENANT, clientId: CLIENT_ID, clientSecret: { env: 'TG_TEST_SENTINEL_SECRET' } },
    authorityHost: standIn.url,
    caFile: standIn.caFile,
    initialBackoffMs: 20,
    maxBackoffMs: 500,
    ...extra,
  });
}
process.env.TG_TEST_SENTINEL_SECRET = CLIENT_SECRET;

/** A statement longer than Sentinel's column limit, so the row carries it cut, flagged and digested. */
export const BIG_SQL = `select '${'trailgate-sentinel '.repeat(2500)}' as big`;

/**
 * Real sessions through the gateway: psql (with a statement over the column limit), an ssh command, an
 * scp upload, and a token the gateway refuses. Resolves once every session is sealed.
 */
export async function recordRealSessions<T = AuditRecord[]>(h: GatewayHarness, label: string, sealed: (h: GatewayHarness) => Promise<T> = sealedRecords as (h: GatewayHarness) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'trailgate-sentinel-'));
  try {
    const token = await h.token({ repository: 'acme/payments', ref: 'refs/heads/main', claims: { run_id: `run-${label}` } });
    await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', `host=127.0.0.1 port=${h.port} dbname=app user=ci sslmode=require`], { PGPASSWORD: token, PGCONNECT_TIMEOUT: '10' },
      `create table if not exists sentinel_probe_${label} (id int, note text);\ninsert into sentinel_probe_${label} values (1, 'x');\n${BIG_SQL};\ndrop table sentinel_probe_${label};\n`);
    await run('psql', ['-X', '-At', '-c', 'select 1', `host=127.0.0.1 port=${h.port} dbname=app user=ci sslmode=require`], { PGPASSWORD: 'not-a-token', PGCONNECT_TIMEOUT: '10' }).catch(() => undefined);
    const ssh = h.openssh();
    const exec = await ssh.ssh(['web@127.0.0.1', `echo sentinel-${label}`], { token: await h.token({ repository: 'acme/payments' }) });
    assert.equal(exec.code, 0, exec.stderr);
    const file = join(dir, 'upload.txt');
    writeFileSync(file, `payload ${label}\n`);
    const up = await ssh.scp([file, `web@127.0.0.1:${join(dir, 'uploaded.txt')}`], { token: await h.token({ repository: 'acme/payments' }) });
    assert.equal(up.code, 0, up.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return sealed(h);
}

/** Every record of every session in the gateway's log, once each session ends in its final checkpoint. */
export async function sealedRecords(h: GatewayHarness): Promise<AuditRecord[]> {
  for (let i = 0; i < 300; i++) {
    await h.gateway.writer.flush();
    const sessions = h.gateway.log.listSessions(1000);
    const all = sessions.map((s) => h.gateway.log.readSession(s.sessionId));
    const sealed = all.every((records) => {
      const last = records[records.length - 1];
      return last?.stream === 'events' && last.type === 'checkpoint.signed' && (last.data as { final: boolean }).final;
    });
    if (sessions.length && sealed) return all.flat();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the sessions were not all sealed');
}

function run(program: string, args: string[], env: Record<string, string>, input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(program, args, { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${program}: ${err.message} ${stderr}`)) : resolve(stdout)));
    child.stdin!.end(input);
  });
}

/** Rows deduplicated by record id: one row per record, and how many deliveries were extra. */
export function dedup(rows: Record<string, unknown>[]): { byId: Map<string, Record<string, unknown>>; duplicates: number } {
  const byId = new Map<string, Record<string, unknown>>();
  let duplicates = 0;
  for (const row of rows) {
    const id = String(row.RecordId);
    if (byId.has(id)) duplicates++;
    else byId.set(id, row);
  }
  return { byId, duplicates };
}

/**
 * What users rely on: after dedup by record id every record of the log is there exactly once, each
 * session's seq runs 1..N without a gap, and every row exported as the forwarded envelope re-hashes to
 * the gateway's chain (rows whose data was cut are checked by their links).
 */
export function assertDeliveredWhole(rows: Record<string, unknown>[], expected: AuditRecord[], o: { except?: Set<string> } = {}): void {
  const { byId } = dedup(rows);
  const want = expected.filter((r) => !o.except?.has(r.id));
  assert.deepEqual([...byId.keys()].sort(), want.map((r) => r.id).sort(), 'every record of the log is in Sentinel once');
  const sessions = new Map<string, Record<string, unknown>[]>();
  for (const row of byId.values()) {
    const list = sessions.get(String(row.SessionId)) ?? [];
    list.push(row);
    sessions.set(String(row.SessionId), list);
  }
  for (const [sessionId, list] of sessions) {
    const envelopes = list.map(rowToEnvelope).sort((a, b) => a.seq - b.seq);
    const lastSeq = Math.max(...expected.filter((r) => r.sessionId === sessionId).map((r) => r.seq));
    if (!o.except?.size) assert.deepEqual(envelopes.map((e) => e.seq), Array.from({ length: lastSeq }, (_, i) => i + 1), `session ${sessionId}: seq 1..${lastSeq} without a gap`);
    for (const [i, e] of envelopes.entries()) {
      if (i > 0 && envelopes[i - 1]!.seq === e.seq - 1) assert.equal(e.prev, envelopes[i - 1]!.hash, `${e.id}: linked to the record before it`);
      if (e.data_truncated) continue;
      assert.equal(recordHash(e.prev, e as unknown as ChainInput), e.hash, `${e.id}: the exported envelope re-hashes to the gateway's chain`);
    }
  }
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
