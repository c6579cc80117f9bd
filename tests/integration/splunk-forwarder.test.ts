/**
 * The forwarder's Splunk sink, through the gateway, against the HEC STAND-IN (tests/services/hec-standin.ts:
 * a local server written to Splunk's documented HEC protocol; Splunk itself cannot run here). Real psql
 * and ssh sessions are recorded on the embedded log; each scenario forwards that log to a fresh stand-in
 * on its own consumer position and checks what the stand-in holds: after dedup by record id every
 * record exactly once, duplicates only where Splunk's answer could not reach the sink (a lost or
 * forgotten ack, a connection reset after the body was read), and `trailgate verify --records` on the
 * export says intact.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { encodeEvent } from '../../connectors/splunk/encoder.js';
import type { AuditRecord, EventRecord } from '../../events/index.js';
import { keysDir, readPublishedKeys } from '../../services/integrity/signing-keys.js';
import { recordsFileSource } from '../../services/verify/records-source.js';
import { TrustedKeys } from '../../services/verify/trusted-keys.js';
import { verify } from '../../services/verify/verify.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { eventually } from '../support/kafka-env.js';
import { delivery, embeddedSource, exportReceived, forwardUntilCaughtUp, loggedRecords, standInSink } from '../support/splunk-delivery.js';
import { HecStandIn } from '../services/hec-standin.js';

const exec = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

let h: GatewayHarness;
let logFile: string;
let records: AuditRecord[];
let work: string;
let scenario = 0;

/** A fresh stand-in with one ack token, and a consumer position of its own. */
async function fresh(o: { tls?: boolean; useAck?: boolean } = {}) {
  const standIn = await HecStandIn.start(o.tls ? { tls: true } : {});
  const token = standIn.addToken({ useAck: o.useAck ?? true, indexes: ['trailgate', 'main'] });
  return { standIn, token, consumer: `splunk-test-${++scenario}`, stateDir: join(work, `splunk-${scenario}`) };
}

function assertExactlyOnce(d: ReturnType<typeof delivery>, o: { allowDuplicatesFrom?: Set<number>; dead?: string[] } = {}) {
  const missing = d.missing.filter((id) => !(o.dead ?? []).includes(id));
  assert.deepEqual(missing, [], 'every record of the log reached Splunk (or the dead letters)');
  assert.deepEqual(d.foreign, [], 'nothing that is not in the log');
  for (const [id, requests] of d.duplicates) {
    const extra = requests.slice(0, -1);
    assert.ok(o.allowDuplicatesFrom && extra.every((r) => o.allowDuplicatesFrom!.has(r)), `record ${id} is duplicated (requests ${requests.join(', ')}) although every answer reached the sink`);
  }
}

describe('Splunk HEC forwarding through the gateway (HEC stand-in)', () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'trailgate-splunk-'));
    h = await GatewayHarness.start({ ssh: true, integrity: { checkpointEvery: 5 } });
    // Real clients: psql with several statements (one of them long), ssh with a command.
    const longSql = `select '${'x'.repeat(3000)}' as filler`;
    const conn = `host=127.0.0.1 port=${h.port} dbname=app user=ci sslmode=disable`;
    for (let i = 0; i < 3; i++) {
      await exec('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', conn, '-c', `select ${i} as n`, '-c', 'select count(*) from generate_series(1, 50)', '-c', longSql], { env: { ...process.env, PGPASSWORD: await h.token() } });
    }
    const ssh = h.openssh();
    const r = await ssh.ssh(['web@127.0.0.1', 'echo splunk-forwarded; uname -s'], { token: await h.token() });
    assert.equal(r.code, 0, r.stderr);
    await h.stopAndVerify();
    logFile = join(h.dataDir, 'trailgate.db');
    records = loggedRecords(logFile);
    assert.ok(records.some((x) => x.stream === 'bytes') && new Set(records.map((x) => x.sessionId)).size >= 4, 'psql and ssh sessions were recorded');
  });

  after(async () => {
    await h?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('delivers every record exactly once over HTTPS with the documented envelope, and `verify --records` on the export says intact', async () => {
    const s = await fresh({ tls: true });
    const { sink, lines } = standInSink(s.standIn, s.token, s.stateDir, { ca: s.standIn.certificate!, gzip: true, maxBatchBytes: 16 * 1024, index: 'trailgate' });
    await forwardUntilCaughtUp(embeddedSource(logFile, s.consumer), sink);
    const d = delivery(s.standIn, records);
    assertExactlyOnce(d);
    assert.equal(d.duplicates.size, 0);
    assert.ok(s.standIn.stats.eventRequests > 2, 'the log went out in several size-bounded batches');
    assert.equal(sink.stats.acknowledged, records.length);
    assert.equal(sink.stats.resent, 0);
    assert.equal(sink.stats.queued, 0);
    assert.deepEqual(sink.health(), { state: 'ok' });

    // The envelope: time in seconds with milliseconds, host, source, sourcetype, index, flat indexed fields.
    const first = s.standIn.received.find((r) => (r.envelope.event as { type: string }).type === 'session.started')!;
    const ev = first.envelope.event as EventRecord;
    assert.equal(first.envelope.time, Date.parse(ev.ts) / 1000);
    assert.equal(first.envelope.sourcetype, 'trailgate:audit');
    assert.equal(first.envelope.source, 'trailgate');
    assert.equal(first.envelope.index, 'trailgate');
    assert.equal(first.envelope.host, 'test-gw');
    assert.equal(first.envelope.fields!.record_id, ev.id);
    assert.equal(first.envelope.fields!.seq, String(ev.seq));
    assert.ok(Object.values(first.envelope.fields!).every((v) => typeof v === 'string'), 'indexed fields are flat strings');
    // Byte chunks travel as their digest, never their payload.
    const chunk = s.standIn.received.find((r) => (r.envelope.event as { stream: string }).stream === 'bytes')!.envelope.event as Record<string, unknown>;
    assert.equal(chunk.data, undefined);
    assert.match(String(chunk.sha256), /^[A-Za-z0-9_-]{43}$/);
    // The same channel every time, kept in the data directory.
    assert.equal(new Set(s.standIn.received.map((r) => r.channel)).size, 1);
    assert.equal(readFileSync(join(s.stateDir, 'channel'), 'utf8').trim(), s.standIn.received[0]!.channel);
    // The token is in no log line and no event.
    assert.ok(!lines.join('\n').includes(s.token));
    assert.ok(!JSON.stringify(s.standIn.received).includes(s.token));

    // In seq order per session, once deduplicated, the export verifies: by library and by the CLI.
    const file = join(work, 'export-happy.ndjson');
    exportReceived(s.standIn, file);
    const { source, summary } = recordsFileSource(file);
    assert.equal(summary.records, records.length);
    const keys = readPublishedKeys(keysDir(h.dataDir)).keys;
    const report = await verify({ source, trusted: new TrustedKeys(keys, 'test'), published: [] });
    assert.ok(report.sessions.every((x) => x.status === 'intact'), JSON.stringify(report.sessions.filter((x) => x.status !== 'intact')));
    const jwks = join(h.dataDir, 'keys', 'jwks.json');
    const cli = await exec(process.execPath, ['--import', 'tsx', join(repo, 'services/cli/main.ts'), 'verify', '--records', file, '--jwks', jwks], { cwd: repo });
    assert.match(cli.stdout, /OK: \d+ session\(s\) intact/);
    await s.standIn.stop();
  });

  it('names the missing seq when an export lacks a record, and ignores duplicate copies', async () => {
    const s = await fresh();
    const { sink } = standInSink(s.standIn, s.token, s.stateDir);
    await forwardUntilCaughtUp(embeddedSource(logFile, s.consumer), sink);
    // Drop one record of the ssh session from the export, and add a copy of another.
    const victim = records.find((r) => r.seq === 4 && r.stream === 'events')!;
    s.standIn.received.push(s.standIn.received[0]!);
    s.standIn.received.splice(s.standIn.received.findIndex((r) => (r.envelope.event as { id: string }).id === victim.id), 1);
    const file = join(work, 'export-gap.ndjson');
    exportReceived(s.standIn, file);
    const jwks = join(h.dataDir, 'keys', 'jwks.json');
    const run = await exec(process.execPath, ['--import', 'tsx', join(repo, 'services/cli/main.ts'), 'verify', '--records', file, '--jwks', jwks], { cwd: repo }).catch((err: { stdout: string; code: number }) => err);
    assert.equal((run as { code?: number }).code, 1, 'exit 1 when a record is missing');
    assert.match(run.stdout, /1 duplicate copies removed/);
    assert.match(run.stdout, new RegExp(`${victim.sessionId}\\s+tampered.*missing at seq 4: seq 4 missing`));
    await s.standIn.stop();
  });

  const ackCases: { name: string; plan: (req: number) => import('../services/hec-standin.js').AckPlan; duplicates: 'none' | 'unconfirmable' }[] = [
    { name: 'delayed acks', plan: () => ({ kind: 'delayed', polls: 3 }), duplicates: 'none' },
    // Even requests are acknowledged two queries after the odd request sent after them.
    { name: 'out-of-order acks', plan: (req) => (req % 2 === 0 ? { kind: 'delayed', polls: 2 } : { kind: 'immediate' }), duplicates: 'none' },
    { name: 'a lost ack', plan: (req) => (req === 1 ? { kind: 'lost' } : { kind: 'immediate' }), duplicates: 'unconfirmable' },
    { name: 'forgotten acks (channel cleaned up)', plan: (req) => (req === 2 ? { kind: 'forget-channel' } : { kind: 'delayed', polls: 1 }), duplicates: 'unconfirmable' },
  ];
  for (const c of ackCases) {
    it(`${c.name}: nothing lost, duplicates only where an ack was lost`, async () => {
      const s = await fresh();
      s.standIn.ackPlan = c.plan;
      const { sink } = standInSink(s.standIn, s.token, s.stateDir, { maxBatchBytes: 8 * 1024, ...(c.duplicates === 'unconfirmable' ? { ackTimeoutMs: 1500 } : {}) });
      // Out-of-order needs the even request's successor in flight: one batch of the consumer covers many requests.
      await forwardUntilCaughtUp(embeddedSource(logFile, s.consumer, 1000), sink);
      const d = delivery(s.standIn, records);
      assertExactlyOnce(d, { allowDuplicatesFrom: s.standIn.unconfirmable });
      if (c.name.startsWith('out-of-order')) assert.notDeepEqual(s.standIn.ackOrder, [...s.standIn.ackOrder].sort((a, b) => a - b), 'acks came out of order');
      if (c.duplicates === 'none') {
        assert.equal(d.duplicates.size, 0);
        assert.equal(sink.stats.resent, 0);
      } else {
        assert.ok(s.standIn.unconfirmable.size > 0 && d.duplicates.size > 0, 'the events whose ack was lost were sent again');
        assert.equal(sink.stats.resent, [...d.duplicates.values()].reduce((n, reqs) => n + reqs.length - 1, 0));
      }
      await s.standIn.stop();
    });
  }

  it('503 busy, 429 with Retry-After and 500: retried until delivered, no duplicates', async () => {
    const s = await fresh();
    s.standIn.inject({ kind: 'busy', times: 3 });
    s.standIn.inject({ kind: 'throttle', times: 1, retryAfterSeconds: 1 });
    s.standIn.inject({ kind: 'internal-error', times: 1 });
    const { sink, lines } = standInSink(s.standIn, s.token, s.stateDir, { maxBatchBytes: 8 * 1024 });
    await forwardUntilCaughtUp(embeddedSource(logFile, s.consumer), sink);
    const d = delivery(s.standIn, records);
    assertExactlyOnce(d);
    assert.equal(d.duplicates.size, 0);
    assert.deepEqual(s.standIn.stats.statuses.slice(0, 5), [503, 503, 503, 429, 500]);
    assert.equal(sink.stats.resent, 0, 'a copy Splunk refused with 503, 429 or 500 is not a possible duplicate');
    assert.ok(lines.some((l) => l.includes('code 9') && l.includes('TG_SPLUNK_BUSY')), 'the busy answer is logged with its code');
    assert.deepEqual(sink.health(), { state: 'ok' });
    await s.standIn.stop();
  });

  it('413: a batch over max_content_length is split until each part fits', async () => {
    const s = await fresh();
    const largest = Math.max(...records.map((r) => Buffer.byteLength((encodeEvent(r, { source: 'trailgate', sourcetype: 'trailgate:audit', maxFieldBytes: 65536, maxEventBytes: 1e6 }) as { event: { line: string } }).event.line)));
    s.standIn.maxContentLength = largest + 10;
    const { sink } = standInSink(s.standIn, s.token, s.stateDir, { maxBatchBytes: largest * 6 });
    await forwardUntilCaughtUp(embeddedSource(logFile, s.consumer), sink);
    const d = delivery(s.standIn, records);
    assertExactlyOnce(d);
    assert.equal(d.duplicates.size, 0);
    assert.ok(s.standIn.stats.statuses.includes(413));
    await s.standIn.stop();
  });

  it('400 at event N: the one poison event is dead-lettered, every other record delivered once', async () => {
    const s = await fresh();
    const poison = records.find((r) => r.stream === 'events' && r.type === 'command.started')!;
    s.standIn.refuse = (event) => (event as { id: string }).id === poison.id;
    const { sink } = standInSink(s.standIn, s.token, s.stateDir);
    await forwardUntilCaughtUp(embeddedSource(logFile, s.consumer), sink);
    const d = delivery(s.standIn, records);
    assertExactlyOnce(d, { dead: [poison.id] });
    assert.deepEqual(d.missing, [poison.id]);
    assert.equal(d.duplicates.size, 0);
    assert.equal(sink.stats.deadLettered, 1);
    const db = new Database(logFile, { readonly: true });
    const dead = db.prepare('SELECT record_id, code, message FROM dead_letters WHERE consumer = ?').all(s.consumer) as { record_id: string; code: string; message: string }[];
    db.close();
    assert.deepEqual(dead.map((x) => [x.record_id, x.code]), [[poison.id, 'TG_SPLUNK_EVENT_REJECTED']]);
    assert.match(dead[0]!.message, /code 6 "Invalid data format"/);
    await s.standIn.stop();
  });

  it('connection reset after the body was read: resent, duplicates only from that request', async () => {
    const s = await fresh();
    s.standIn.inject({ kind: 'reset-after-body', times: 1 });
    const { sink } = standInSink(s.standIn, s.token, s.stateDir, { maxBatchBytes: 8 * 1024 });
    await forwardUntilCaughtUp(embeddedSource(logFile, s.consumer), sink);
    const d = delivery(s.standIn, records);
    assertExactlyOnce(d, { allowDuplicatesFrom: s.standIn.unconfirmable });
    assert.deepEqual([...s.standIn.unconfirmable], [0]);
    assert.ok(d.duplicates.size > 0);
    assert.equal(sink.stats.resent, d.duplicates.size, 'the resent events are exactly the duplicated ones');
    await s.standIn.stop();
  });

  for (const c of [
    { name: 'a disabled token (403 code 1)', code: 'TG_SPLUNK_TOKEN_DISABLED', setup: (s: Awaited<ReturnType<typeof fresh>>) => (s.standIn.tokens.get(s.token)!.enabled = false), o: {} },
    { name: 'an unknown token (403 code 4)', code: 'TG_SPLUNK_TOKEN_INVALID', setup: (s: Awaited<ReturnType<typeof fresh>>) => s.standIn.tokens.clear(), o: {} },
    { name: 'an index the token may not write (400 code 7)', code: 'TG_SPLUNK_INDEX', setup: () => undefined, o: { index: 'secret' } },
  ]) {
    it(`${c.name}: the sink stops and reports unhealthy instead of retrying in a loop`, async () => {
      const s = await fresh();
      c.setup(s);
      const { sink, lines } = standInSink(s.standIn, s.token, s.stateDir, c.o);
      const consumerLines: string[] = [];
      const { Consumer } = await import('../../connectors/consumer/consumer.js');
      const { Metrics } = await import('../../services/metrics/metrics.js');
      let writes = 0;
      const write = sink.write.bind(sink);
      sink.write = (batch) => (writes++, write(batch));
      const consumer = new Consumer(embeddedSource(logFile, s.consumer), sink, new Metrics(), { retryMs: 10, log: (l) => consumerLines.push(l) });
      const running = consumer.run().catch(() => undefined);
      // The consumer hands the batch back to the stopped sink: the sink waits for its recheck, it does not post again.
      await eventually(() => writes >= 2, 'the consumer to hand the batch back');
      assert.equal(sink.health().state, 'stopped');
      assert.equal(sink.health().code, c.code);
      assert.equal(s.standIn.stats.eventRequests, 1, 'one request, then no more until the recheck');
      assert.ok(!lines.concat(consumerLines).join('\n').includes(s.token), 'the token is never logged');
      const stopped = consumer.stop();
      await sink.close();
      await stopped;
      await running;
      await s.standIn.stop();
    });
  }

  it('ack: a token without indexer acknowledgement stops `required`, and `auto` delivers on HTTP 200', async () => {
    const s = await fresh({ useAck: false });
    const required = standInSink(s.standIn, s.token, s.stateDir);
    await assert.rejects(required.sink.write(records.slice(0, 3)), /TG_SPLUNK_ACK_DISABLED/);
    assert.equal(required.sink.health().code, 'TG_SPLUNK_ACK_DISABLED');
    await required.sink.close();
    const auto = standInSink(s.standIn, s.token, s.stateDir, { ack: 'auto' });
    await forwardUntilCaughtUp(embeddedSource(logFile, s.consumer), auto.sink);
    assertExactlyOnce(delivery(s.standIn, records), { allowDuplicatesFrom: new Set([0]) });
    assert.equal(auto.sink.stats.acknowledged, records.length);
    await s.standIn.stop();
  });

  it('cuts values longer than the field limit, with a _truncated flag and the SHA-256 of the full value', () => {
    const long = records.find((r): r is EventRecord<'command.started'> => r.stream === 'events' && r.type === 'command.started' && (r as EventRecord<'command.started'>).data.text.length > 3000)!;
    const encoded = encodeEvent(long, { source: 'trailgate', sourcetype: 'trailgate:audit', maxFieldBytes: 1000, maxEventBytes: 1e6 });
    assert.equal(encoded.kind, 'event');
    const event = (JSON.parse((encoded as { event: { line: string } }).event.line) as { event: Record<string, unknown> & { data: { text: string } } }).event;
    assert.equal(Buffer.byteLength(event.data.text), 1000);
    assert.equal(event['data.text_truncated'], true);
    assert.equal(event['data.text_sha256'], createHash('sha256').update(long.data.text).digest('hex'));
  });
});
