/**
 * `trailgate verify --records` on what a SIEM holds when a sink cut a value to its field limit. Real
 * psql sessions through the gateway, forwarded by the real sinks on the consumer framework to the
 * STAND-INS of Splunk HEC (tests/services/hec-standin.ts) and of the Logs Ingestion API
 * (tests/services/sentinel-standin.ts): neither SIEM can run here. A cut record cannot be re-hashed,
 * so the session must verify intact with that seq named; a cut record whose link was changed, or a
 * dropped seq, must still fail.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { EmbeddedRecordSource } from '../../connectors/embedded-log/embedded-consumer.js';
import { envelopesNdjson } from '../../connectors/sentinel/envelope.js';
import { sentinelSinkFor } from '../../connectors/sentinel/sink.js';
import type { AuditRecord } from '../../events/index.js';
import { keysDir, readPublishedKeys } from '../../services/integrity/signing-keys.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { recordsFileSource } from '../../services/verify/records-source.js';
import { TrustedKeys } from '../../services/verify/trusted-keys.js';
import type { VerifyReport } from '../../services/verify/verdict.js';
import { verify } from '../../services/verify/verify.js';
import { HecStandIn } from '../services/hec-standin.js';
import type { SentinelStandIn } from '../services/sentinel-standin.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { eventually } from '../support/kafka-env.js';
import { dedup, sentinelConfig, startStandIn } from '../support/sentinel-env.js';
import { embeddedSource, forwardUntilCaughtUp, loggedRecords, standInSink } from '../support/splunk-delivery.js';

const exec = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
/** Longer than both sinks' field limits below (Sentinel at its minimum 1 KiB, Splunk at 1 KiB too). */
const LONG_SQL = `select '${'cut-by-the-siem '.repeat(300)}' as long_value`;

let h: GatewayHarness;
let work: string;
let logFile: string;
let records: AuditRecord[];
let jwks: string;
let keys: TrustedKeys;
/** The seq of the long statement in its session, and that session. */
let cutSeq: number;
let cutSession: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'trailgate-cut-'));
  h = await GatewayHarness.start({ integrity: { checkpointEvery: 5 } });
  const conn = `host=127.0.0.1 port=${h.port} dbname=app user=ci sslmode=disable`;
  await exec('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', conn, '-c', 'select 1', '-c', LONG_SQL, '-c', 'select 2'], { env: { ...process.env, PGPASSWORD: await h.token() } });
  await h.stopAndVerify();
  logFile = join(h.dataDir, 'trailgate.db');
  records = loggedRecords(logFile);
  const long = records.find((r) => r.stream === 'events' && r.type === 'command.started' && (r.data as { text: string }).text === LONG_SQL)!;
  assert.ok(long, 'the long statement was recorded');
  cutSeq = long.seq;
  cutSession = long.sessionId;
  jwks = join(work, 'jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: readPublishedKeys(keysDir(h.dataDir)).keys }));
  keys = new TrustedKeys(readPublishedKeys(keysDir(h.dataDir)).keys, 'test');
});
after(async () => {
  await h?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** The CLI on an export, as an analyst runs it: its exit code and JSON report. */
async function verifyCli(file: string): Promise<{ code: number; report: VerifyReport & { export: unknown } }> {
  const run = await exec(process.execPath, ['--import', 'tsx', join(repo, 'services/cli/main.ts'), 'verify', '--records', file, '--jwks', jwks, '--json'], { cwd: repo }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
  );
  return { code: run.code, report: JSON.parse(run.stdout) as VerifyReport & { export: unknown } };
}

async function verifyLines(lines: Record<string, unknown>[], name: string): Promise<VerifyReport> {
  const file = join(work, name);
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return verify({ source: recordsFileSource(file).source, trusted: keys, published: [] });
}

function sessionOf(report: VerifyReport, id = cutSession) {
  return report.sessions.find((s) => s.sessionId === id)!;
}

describe('verify --records on values a SIEM cut to its field limit', () => {
  let splunkLines: Record<string, unknown>[];

  it('Sentinel (Logs Ingestion stand-in, 1 KiB columns): intact with the cut seq named, exit 0', async () => {
    const standIn: SentinelStandIn = await startStandIn();
    try {
      const sink = sentinelSinkFor(sentinelConfig(standIn, { maxFieldBytes: 1024 }), { name: 'sentinel-cut', log: () => undefined });
      const consumer = new Consumer(new EmbeddedRecordSource(logFile, sink, { batchSize: 100, pollMs: 20 }), sink, new Metrics(), { retryMs: 50, log: () => undefined });
      const running = consumer.run();
      try {
        await eventually(async () => (await consumer.lag()).total === 0, 'the Sentinel sink to deliver the log', 90_000);
      } finally {
        await consumer.stop();
        await running.catch(() => undefined);
      }
      const file = join(work, 'sentinel.ndjson');
      writeFileSync(file, envelopesNdjson([...dedup(standIn.rows()).byId.values()]));
      const { code, report } = await verifyCli(file);
      assert.equal(code, 0, JSON.stringify(report.sessions.filter((s) => s.status !== 'intact')));
      assert.equal(report.ok, true);
      assert.ok(report.sessions.every((s) => s.status === 'intact'));
      // Sentinel cuts a record's whole data column: the long statement, and any other record whose data is over 1 KiB.
      const over = (r: AuditRecord) => r.stream === 'events' && Buffer.byteLength(JSON.stringify(r.data)) > 1024;
      assert.ok(sessionOf(report).contentUnchecked!.includes(cutSeq), 'the long statement is unchecked');
      for (const s of report.sessions) assert.deepEqual(s.contentUnchecked ?? [], records.filter((r) => r.sessionId === s.sessionId && over(r)).map((r) => r.seq), `session ${s.sessionId}: exactly the records whose data was cut`);
    } finally {
      await standIn.stop();
    }
  });

  it('Splunk (HEC stand-in, ack required, 1 KiB fields): intact with the cut seq named, exit 0', async () => {
    const standIn = await HecStandIn.start();
    try {
      const token = standIn.addToken({ useAck: true, indexes: ['main'] });
      const { sink } = standInSink(standIn, token, join(work, 'splunk-state'), { maxFieldBytes: 1024 });
      await forwardUntilCaughtUp(embeddedSource(logFile, 'splunk-cut'), sink);
      splunkLines = standIn.received.map((r) => ({ event: r.envelope.event }));
      const cut = splunkLines.map((l) => l.event as Record<string, unknown>).find((e) => e['data.text_truncated'] === true)!;
      assert.equal(cut.seq, cutSeq, 'the sink cut the long statement');
      const file = join(work, 'splunk.ndjson');
      writeFileSync(file, splunkLines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      const { code, report } = await verifyCli(file);
      assert.equal(code, 0, JSON.stringify(report.sessions.filter((s) => s.status !== 'intact')));
      assert.deepEqual(sessionOf(report).contentUnchecked, [cutSeq]);
      const human = await exec(process.execPath, ['--import', 'tsx', join(repo, 'services/cli/main.ts'), 'verify', '--records', file, '--jwks', jwks], { cwd: repo });
      assert.match(human.stdout, new RegExp(`${cutSession}  intact \\(content of seq ${cutSeq} cut by the SIEM's field limit`));
      assert.match(human.stdout, /OK: \d+ session\(s\) intact/);
    } finally {
      await standIn.stop();
    }
  });

  const events = () => splunkLines.map((l) => ({ ...(l.event as Record<string, unknown>) }));
  const at = (list: Record<string, unknown>[], seq: number) => list.find((e) => e.sessionId === cutSession && e.seq === seq)!;

  it('a cut record whose hash was changed fails: the next record no longer links to it', async () => {
    const list = events();
    at(list, cutSeq).hash = 'A'.repeat(43);
    const s = sessionOf(await verifyLines(list, 'hash.ndjson'));
    assert.equal(s.status, 'tampered');
    assert.equal(s.failure!.kind, 'modified');
    assert.equal(s.failure!.seq, cutSeq);
  });

  it('a cut record whose prev was changed fails at that seq', async () => {
    const list = events();
    at(list, cutSeq).prev = 'B'.repeat(43);
    const s = sessionOf(await verifyLines(list, 'prev.ndjson'));
    assert.equal(s.status, 'tampered');
    assert.deepEqual([s.failure!.kind, s.failure!.seq], ['modified', cutSeq]);
    assert.match(s.failure!.message, /cut by the SIEM's field limit\) does not link/);
  });

  it('a cut record dropped from the export is reported as exactly that seq missing', async () => {
    const list = events().filter((e) => !(e.sessionId === cutSession && e.seq === cutSeq));
    const s = sessionOf(await verifyLines(list, 'gap.ndjson'));
    assert.equal(s.status, 'tampered');
    assert.deepEqual([s.failure!.kind, s.failure!.seq, s.failure!.message], ['missing', cutSeq, `seq ${cutSeq} missing`]);
  });

  it('a record that claims to be cut but holds its whole value is simply verified', async () => {
    const list = events();
    const whole = records.find((r) => r.sessionId === cutSession && r.seq === cutSeq)!;
    const e = at(list, cutSeq);
    e.data = whole.data;
    const s = sessionOf(await verifyLines(list, 'whole.ndjson'));
    assert.equal(s.status, 'intact');
    assert.equal(s.contentUnchecked, undefined, 'its content was checked');
  });

  it('a cut record whose remaining content was changed still verifies intact but unchecked: the content is not claimed', async () => {
    // What the verdict promises: links and signatures, not the cut value (its SHA-256 is for matching against the log).
    const list = events();
    (at(list, cutSeq).data as { text: string }).text = 'drop table orders';
    const s = sessionOf(await verifyLines(list, 'content.ndjson'));
    assert.equal(s.status, 'intact');
    assert.deepEqual(s.contentUnchecked, [cutSeq]);
  });
});
