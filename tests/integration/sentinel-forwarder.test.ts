/**
 * Forwarding to Microsoft Sentinel, against a STAND-IN of the Logs Ingestion API and Entra ID
 * (tests/services/sentinel-standin.ts; Sentinel is SaaS and cannot run here) that the real
 * @azure/monitor-ingestion client and @azure/identity credentials talk to over HTTPS. Records come from
 * real psql, ssh and scp sessions through the gateway into the embedded log, and the sink runs on the
 * consumer framework: every fault ends with every record in Sentinel once after dedup by record id.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import canonicalize from 'canonicalize';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { EmbeddedRecordSource } from '../../connectors/embedded-log/embedded-consumer.js';
import { envelopesNdjson } from '../../connectors/sentinel/envelope.js';
import { sentinelSinkFor, type SentinelSink } from '../../connectors/sentinel/sink.js';
import type { AuditRecord, EventRecord } from '../../events/index.js';
import { embeddedLogFile } from '../../services/gateway/gateway.js';
import { keysDir, readPublishedKeys } from '../../services/integrity/signing-keys.js';
import { Metrics } from '../../services/metrics/metrics.js';
import type { VerifyReport } from '../../services/verify/verdict.js';
import type { SentinelStandIn } from '../services/sentinel-standin.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { eventually } from '../support/kafka-env.js';
import { assertDeliveredWhole, BIG_SQL, CLIENT_SECRET, dedup, recordRealSessions, sentinelConfig, sha256Hex, startStandIn } from '../support/sentinel-env.js';

const exec = promisify(execFile);
let h: GatewayHarness;
let standIn: SentinelStandIn;
let records: AuditRecord[];
let logFile: string;
/** Every line the sinks and consumers of this file logged: the secret and tokens must never be in it. */
const logs: string[] = [];
const log = (line: string) => logs.push(line);
let consumers = 0;

before(async () => {
  h = await GatewayHarness.start({ ssh: true, integrity: { checkpointEvery: 5 } });
  standIn = await startStandIn({ federatedToken: 'eyJhbGciOiJSUzI1NiJ9.stand-in-federated-token.sig' });
  records = await recordRealSessions(h, 'embedded');
  logFile = embeddedLogFile(h.dataDir);
});
after(async () => {
  await standIn?.stop();
  await h?.stop();
});

/** Runs the sink on the consumer framework under a consumer name of its own until the log is delivered. */
async function deliver(sink: SentinelSink, o: { batchSize?: number; until?: () => boolean } = {}): Promise<Consumer> {
  const consumer = new Consumer(new EmbeddedRecordSource(logFile, sink, { batchSize: o.batchSize ?? 40, pollMs: 20 }), sink, new Metrics(), { retryMs: 50, log });
  const running = consumer.run();
  try {
    await eventually(async () => (o.until ? o.until() : true) && (await consumer.lag()).total === 0, `${sink.name} to deliver the log`, 90_000);
  } finally {
    await consumer.stop();
    await running.catch(() => undefined);
  }
  return consumer;
}

function newSink(extra: Record<string, unknown> = {}): SentinelSink {
  return sentinelSinkFor(sentinelConfig(standIn, { maxRowsPerUpload: 15, ...extra }), { name: `sentinel-t${++consumers}`, log });
}

describe('Sentinel forwarding of real sessions (Logs Ingestion stand-in)', () => {
  it('delivers every record of psql, ssh and scp sessions exactly once, gzipped, with one token for many uploads', async () => {
    standIn.reset();
    const tokensBefore = standIn.tokenRequests.length;
    const sink = newSink({ maxRowsPerUpload: 5000 });
    await deliver(sink);
    const rows = standIn.rows();
    assert.equal(dedup(rows).duplicates, 0, 'no fault, no duplicate');
    assertDeliveredWhole(rows, records);
    const types = new Set(records.map((r) => r.type));
    for (const t of ['session.started', 'auth.decided', 'command.started', 'file.operation', 'bytes', 'checkpoint.signed']) assert.ok(types.has(t as never), `the sessions recorded ${t}`);
    assert.ok(standIn.requests.every((r) => r.status === 204 && r.gzip && r.apiVersion === '2023-01-01'));
    assert.equal(standIn.tokenRequests.length - tokensBefore, 1, 'one client-credentials token served every upload');
    assert.deepEqual(standIn.tokenRequests.at(-1), { grantType: 'client_credentials', scope: 'https://monitor.azure.com/.default', assertion: false, status: 200 });
    assert.deepEqual(sink.health(), { state: 'ok' });
    const stats = sink.stats;
    assert.equal(stats.acknowledged, records.length);
    assert.equal(stats.deadLettered + stats.resent, 0);
  });

  it('cuts a statement over the column limit to 32 KB with a flag and the SHA-256 of the whole, and never sends byte content', () => {
    const big = standIn.rows().find((r) => r.RecordType === 'command.started' && String(r.CommandText).startsWith("select 'trailgate-sentinel"))!;
    assert.ok(big, 'the long statement reached Sentinel');
    assert.equal(big.CommandTextTruncated, true);
    assert.ok(Buffer.byteLength(String(big.CommandText)) <= 32 * 1024);
    const original = records.find((r) => r.id === big.RecordId) as EventRecord<'command.started'>;
    assert.ok(original.data.text.startsWith(BIG_SQL), 'the log holds the whole statement');
    assert.equal(big.CommandTextSha256, sha256Hex(original.data.text), 'the digest is of the whole statement in the log');
    assert.equal(big.DataTruncated, true);
    assert.equal(big.DataSha256, sha256Hex(canonicalize(original.data)!));
    for (const row of standIn.rows()) for (const v of Object.values(row)) assert.ok(Buffer.byteLength(JSON.stringify(v) ?? '') <= 33 * 1024, 'no value reaches the 64 KB field limit');
    const bytes = standIn.rows().filter((r) => r.RecordStream === 'bytes');
    assert.ok(bytes.length > 0);
    assert.ok(bytes.every((r) => r.Data === undefined && typeof r.BytesSha256 === 'string'), 'byte chunks go by digest only');
  });

  it('authenticates as a workload identity with a federated token file', async () => {
    standIn.reset();
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-wi-'));
    try {
      writeFileSync(join(dir, 'token'), 'eyJhbGciOiJSUzI1NiJ9.stand-in-federated-token.sig\n');
      const sink = sentinelSinkFor(sentinelConfig(standIn, { credential: { kind: 'workload-identity', tenantId: '72f988bf-0000-4000-8000-00000000cafe', clientId: '0d5b9a2e-0000-4000-8000-00000000beef', tokenFile: join(dir, 'token') } }), { name: `sentinel-t${++consumers}`, log });
      await deliver(sink);
      assertDeliveredWhole(standIn.rows(), records);
      assert.equal(standIn.tokenRequests.at(-1)!.assertion, true, 'the token came from a client assertion');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exports what Sentinel holds as NDJSON of the forwarded envelope, and `trailgate verify --records` on it says intact', async () => {
    const text = envelopesNdjson([...dedup(standIn.rows()).byId.values()]);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, records.length);
    for (const k of ['v', 'id', 'sessionId', 'seq', 'ts', 'prev', 'hash', 'stream', 'type']) assert.ok(lines.every((l) => k in l), `every envelope has ${k}`);
    assert.equal(lines.filter((l) => l.data_truncated === true).length, 1, 'the one record whose data was cut says so');
    const dir = join(process.env.TRAILGATE_TEST_STATE ?? tmpdir(), 'sentinel-export');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'records.ndjson'), text);
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: readPublishedKeys(keysDir(h.dataDir)).keys }));
    const cli = await exec(process.execPath, ['--import', 'tsx', 'services/cli/main.ts', 'verify', '--records', join(dir, 'records.ndjson'), '--jwks', join(dir, 'jwks.json'), '--json']);
    const report = JSON.parse(cli.stdout) as VerifyReport;
    assert.equal(report.ok, true, 'exit 0: everything that can be checked holds');
    assert.equal(report.sessions.length, new Set(records.map((r) => r.sessionId)).size);
    assert.ok(report.sessions.every((s) => s.status === 'intact'), JSON.stringify(report.sessions.filter((s) => s.status !== 'intact')));
    const cut = lines.find((l) => l.data_truncated === true)!;
    assert.deepEqual(report.sessions.filter((s) => s.contentUnchecked).map((s) => [s.sessionId, s.contentUnchecked]), [[cut.sessionId, [cut.seq]]], 'only the cut statement is unchecked, by name');
  });
});

describe('Sentinel faults end with nothing lost', () => {
  it('waits out 429 with Retry-After and delivers without duplicates', async () => {
    standIn.reset();
    standIn.faults.push({ status: 429, retryAfter: 1, times: 2 });
    await deliver(newSink());
    assert.deepEqual(standIn.requests.slice(0, 2).map((r) => r.status), [429, 429]);
    assert.equal(dedup(standIn.rows()).duplicates, 0);
    assertDeliveredWhole(standIn.rows(), records);
  });

  it('halves a request the service finds too large (413) and delivers both halves', async () => {
    standIn.reset();
    standIn.faults.push({ status: 413 });
    const sink = newSink();
    await deliver(sink);
    assert.ok(standIn.requests.some((r) => r.status === 413));
    assert.ok(sink.stats.resent > 0 && sink.stats.deadLettered === 0);
    assertDeliveredWhole(standIn.rows(), records);
  });

  it('keeps retrying 500 past the SDK own retries, degraded meanwhile', async () => {
    standIn.reset();
    standIn.faults.push({ status: 500, times: 6 });
    const sink = newSink();
    await deliver(sink);
    assert.equal(standIn.requests.filter((r) => r.status === 500).length, 6);
    assertDeliveredWhole(standIn.rows(), records);
    assert.deepEqual(sink.health(), { state: 'ok' });
  });

  it('delivers through connection resets; a reset after the rows were stored leaves visible duplicates only', async () => {
    standIn.reset();
    standIn.faults.push({ reset: true, times: 2 }, { reset: true, afterStore: true });
    await deliver(newSink());
    const { duplicates } = dedup(standIn.rows());
    assert.ok(duplicates <= 15, `at most the one stored request is doubled (${duplicates})`);
    assertDeliveredWhole(standIn.rows(), records);
  });

  for (const [status, code] of [[401, 'TG_SENTINEL_UNAUTHORIZED'], [403, 'TG_SENTINEL_FORBIDDEN']] as const) {
    it(`stops on ${status} with a health state that says why, sends nothing while stopped, and resumes losing nothing`, async () => {
      standIn.reset();
      standIn.persistentFault = { status };
      const sink = newSink({ stoppedRetryMs: 600_000 });
      const consumer = new Consumer(new EmbeddedRecordSource(logFile, sink, { batchSize: 40, pollMs: 20 }), sink, new Metrics(), { retryMs: 50, log });
      const running = consumer.run();
      try {
        await eventually(() => sink.health().state === 'stopped', 'the sink to stop');
        assert.equal(sink.health().code, code);
        assert.match(sink.health().reason!, status === 403 ? /Monitoring Metrics Publisher/ : /sentinel\.credential/);
        const requests = standIn.requests.length;
        const retries = logs.filter((l) => l.includes(sink.name) && l.includes('TG_SINK_RETRY')).length;
        await eventually(() => logs.filter((l) => l.includes(sink.name) && l.includes('TG_SINK_RETRY')).length >= retries + 3, 'the consumer to try the stopped sink three more times');
        assert.equal(standIn.requests.length, requests, 'a stopped sink sends nothing');
        standIn.persistentFault = null;
        sink.resume();
        await eventually(async () => (await consumer.lag()).total === 0, 'the resumed sink to deliver');
      } finally {
        await consumer.stop();
        await running.catch(() => undefined);
      }
      assertDeliveredWhole(standIn.rows(), records);
      assert.deepEqual(sink.health(), { state: 'ok' });
    });
  }

  it('stops on a DCR the endpoint does not know and names the keys to check', async () => {
    standIn.reset();
    const sink = newSink({ ruleId: `dcr-${'0'.repeat(32)}`, stoppedRetryMs: 600_000 });
    await assert.rejects(sink.write(records.slice(0, 3)), /TG_SENTINEL_RULE_NOT_FOUND/);
    assert.equal(sink.health().state, 'stopped');
    assert.match(sink.health().reason!, /sentinel\.ruleId/);
    const requests = standIn.requests.length;
    await assert.rejects(sink.write(records.slice(0, 3)), /stopped/);
    assert.equal(standIn.requests.length, requests);
  });

  it('dead-letters the one row the service refuses for good and delivers the rest', async () => {
    standIn.reset();
    const poison = records.find((r) => r.type === 'command.completed')!;
    standIn.rejectRow = (row) => row.RecordId === poison.id;
    const sink = newSink();
    await deliver(sink);
    assertDeliveredWhole(standIn.rows(), records, { except: new Set([poison.id]) });
    assert.equal(sink.stats.deadLettered, 1);
    const db = new Database(logFile, { readonly: true });
    try {
      const letters = db.prepare('SELECT record_id, code FROM dead_letters WHERE consumer = ?').all(sink.name) as { record_id: string; code: string }[];
      assert.deepEqual(letters, [{ record_id: poison.id, code: 'TG_SENTINEL_ROW_REJECTED' }]);
    } finally {
      db.close();
    }
  });

  it('loses nothing when the forwarder process is SIGKILLed mid-batch and started again', async () => {
    standIn.reset();
    const config = sentinelConfig(standIn, { maxRowsPerUpload: 10, maxConcurrency: 2 });
    const args = JSON.stringify({ log: { file: logFile }, sentinel: config, name: 'sentinel-killed', batchSize: 60 });
    // Requests are held so that a batch is in flight when the kill comes.
    standIn.faults.push({ delayMs: 30, times: 1000 });
    let child = forwarder(args);
    let killedAt = -1;
    standIn.onIngest = (n) => {
      if (n === 3 && killedAt < 0) {
        killedAt = standIn.received.length;
        child.kill('SIGKILL');
      }
    };
    await new Promise((r) => child.once('exit', r));
    assert.ok(killedAt >= 0, 'the forwarder was killed in the middle of a batch');
    assert.ok(dedup(standIn.rows()).byId.size < records.length, 'it had not delivered everything');
    standIn.onIngest = null;
    child = forwarder(args);
    try {
      await eventually(() => dedup(standIn.rows()).byId.size === records.length, 'the restarted forwarder to deliver the rest');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    const { duplicates } = dedup(standIn.rows());
    assert.ok(duplicates <= 60, `duplicates only from the batch that was in flight (${duplicates})`);
    assertDeliveredWhole(standIn.rows(), records);
  });

  it('never writes the client secret or an access token into any log', () => {
    const text = logs.join('\n') + childOutput.join('');
    assert.ok(logs.length > 0 && childOutput.length > 0, 'the sinks and the child forwarder logged');
    assert.ok(!text.includes(CLIENT_SECRET), 'the client secret is not logged');
    for (const token of standIn.tokens) assert.ok(!text.includes(token), 'no access token is logged');
    assert.ok(!text.includes('stand-in-federated-token'), 'the federated token is not logged');
  });
});

const childOutput: string[] = [];

function forwarder(args: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/support/sentinel-forwarder.ts', args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AZURE_LOG_LEVEL: 'verbose' } });
  child.stdout!.on('data', (d: Buffer) => childOutput.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => childOutput.push(d.toString()));
  return child;
}
