/**
 * The Splunk sink on the Kafka log (the real broker of tests/services/kafka.sh) and as its own
 * process, against the HEC STAND-IN (tests/services/hec-standin.ts, written to Splunk's documented
 * HEC protocol; Splunk itself cannot run here): real psql and ssh sessions recorded through a
 * Kafka-logged gateway reach the stand-in whole; `trailgate forwarder` SIGKILLed in the middle of a
 * batch whose acks are pending loses nothing after a restart, duplicates only what the killed
 * process had sent, and never prints its token.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { KafkaRecordSource } from '../../connectors/kafka/kafka-record-source.js';
import { validateConfig } from '../../services/config/load.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { eventually, kafkaLog } from '../support/kafka-env.js';
import { delivery, exportReceived, forwardUntilCaughtUp, loggedRecords, standInSink, wholeSessions } from '../support/splunk-delivery.js';
import { HecStandIn } from '../services/hec-standin.js';

const exec = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
const cli = join(repo, 'services/cli/main.ts');

async function recordSessions(h: GatewayHarness): Promise<void> {
  const conn = `host=127.0.0.1 port=${h.port} dbname=app user=ci sslmode=disable`;
  for (let i = 0; i < 2; i++) {
    await exec('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', conn, '-c', `select ${i}`, '-c', 'select count(*) from generate_series(1, 100)'], { env: { ...process.env, PGPASSWORD: await h.token() } });
  }
  const r = await h.openssh().ssh(['web@127.0.0.1', 'echo kafka-to-splunk'], { token: await h.token() });
  assert.equal(r.code, 0, r.stderr);
}

async function verifyExport(file: string, jwks: string): Promise<string> {
  const { stdout } = await exec(process.execPath, ['--import', 'tsx', cli, 'verify', '--records', file, '--jwks', jwks], { cwd: repo });
  return stdout;
}

describe('Splunk forwarding from Kafka and as a process (HEC stand-in)', () => {
  it('on the Kafka log: psql and ssh sessions reach the stand-in whole, also through lost acks, 503 and resets, and the export verifies intact', async () => {
    const log = kafkaLog();
    const h = await GatewayHarness.start({ ssh: true, log, integrity: { checkpointEvery: 5 } });
    const standIn = await HecStandIn.start();
    try {
      await recordSessions(h);
      // The gateway keeps draining its spool into Kafka while the forwarder reads.
      await eventually(() => h.gateway.postgres.activeSessions === 0, 'the psql sessions to end');
      await h.gateway.writer.flush();
      await h.gateway.kafka!.drained();
      const token = standIn.addToken();
      const config = validateConfig({ dataDir: h.dataDir, log });
      const { sink, lines } = standInSink(standIn, token, join(h.dataDir, 'splunk'), { maxBatchBytes: 8 * 1024 });
      const source = await KafkaRecordSource.create(config.log.kafka!, sink, 200);
      await forwardUntilCaughtUp(source, sink, { ignoreLag: true, done: () => wholeSessions(standIn).size >= 3 }).catch((err: Error) => {
        const ids = new Set(standIn.received.map((r) => (r.envelope.event as { sessionId: string }).sessionId));
        throw new Error(`${err.message}: ${standIn.received.length} events of ${ids.size} sessions received, ${wholeSessions(standIn).size} whole`);
      });
      const d = delivery(standIn, []);
      assert.deepEqual(d.duplicates.size, 0, 'every ack arrived: no duplicates');
      assert.ok(!lines.join('\n').includes(token));
      const file = join(h.dataDir, 'export.ndjson');
      exportReceived(standIn, file);
      assert.match(await verifyExport(file, join(h.dataDir, 'keys', 'jwks.json')), /OK: 3 session\(s\) intact/);

      // The same log again on a position of its own, through faults: a lost ack, 503 busy, a reset after the body.
      const faulty = await HecStandIn.start();
      try {
        const faultyToken = faulty.addToken();
        faulty.ackPlan = (req) => (req === 1 ? { kind: 'lost' } : { kind: 'immediate' });
        faulty.inject({ kind: 'busy', times: 2 });
        faulty.inject({ kind: 'reset-after-body', times: 1 });
        const second = standInSink(faulty, faultyToken, join(h.dataDir, 'splunk-faults'), { maxBatchBytes: 8 * 1024, ackTimeoutMs: 1500 });
        const faultySource = await KafkaRecordSource.create(config.log.kafka!, { name: 'splunk-faults', streams: ['events', 'bytes'] }, 200);
        await forwardUntilCaughtUp(faultySource, second.sink, { ignoreLag: true, done: () => wholeSessions(faulty).size >= 3 });
        const byId = new Map<string, number[]>();
        for (const r of faulty.received) byId.set((r.envelope.event as { id: string }).id, [...(byId.get((r.envelope.event as { id: string }).id) ?? []), r.request]);
        assert.equal(byId.size, standIn.received.length, 'the same records as without faults');
        for (const [id, reqs] of byId) if (reqs.length > 1) assert.ok(reqs.slice(0, -1).every((q) => faulty.unconfirmable.has(q)), `record ${id} duplicated only where Splunk's answer was lost`);
        assert.ok([...byId.values()].some((reqs) => reqs.length > 1), 'the lost answers caused resends');
        const faultyFile = join(h.dataDir, 'export-faults.ndjson');
        exportReceived(faulty, faultyFile);
        assert.match(await verifyExport(faultyFile, join(h.dataDir, 'keys', 'jwks.json')), /OK: 3 session\(s\) intact/);
      } finally {
        await faulty.stop();
      }
    } finally {
      await standIn.stop();
      await h.stop();
    }
  });

  it('`trailgate forwarder` SIGKILLed while acks are pending loses nothing when it starts again', async () => {
    const h = await GatewayHarness.start({ ssh: true, integrity: { checkpointEvery: 5 } });
    const standIn = await HecStandIn.start();
    const work = mkdtempSync(join(tmpdir(), 'trailgate-splunk-kill-'));
    const children: ChildProcess[] = [];
    try {
      await recordSessions(h);
      await h.stopAndVerify();
      const logFile = join(h.dataDir, 'trailgate.db');
      const records = loggedRecords(logFile);
      const token = standIn.addToken();
      const config = join(work, 'trailgate.json');
      writeFileSync(
        config,
        JSON.stringify({
          dataDir: h.dataDir,
          instance: 'test-gw',
          consumers: { batchSize: 40 },
          splunk: { url: standIn.url, token: { env: 'TG_TEST_HEC_TOKEN' }, ackPollMs: 100, ackTimeoutMs: 600_000, maxBatchBytes: 4096 },
        }),
      );
      const output: string[] = [];
      const start = (ready: RegExp) =>
        new Promise<{ child: ChildProcess; match: RegExpExecArray }>((resolveStart, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', cli, '--config', config, 'forwarder', '--metrics-port', '0'], { cwd: repo, env: { ...process.env, TG_TEST_HEC_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
          children.push(child);
          let out = '';
          const onData = (b: Buffer) => {
            out += b.toString();
            output.push(b.toString());
            const m = ready.exec(out);
            if (m) resolveStart({ child, match: m });
          };
          child.stdout!.on('data', onData);
          child.stderr!.on('data', onData);
          child.once('exit', (code) => reject(new Error(`the forwarder exited with ${code}:\n${out}`)));
        });

      // First run: Splunk takes the events but its acks never come; kill the forwarder in the middle.
      standIn.ackPlan = () => ({ kind: 'lost' });
      const first = await start(/metrics\s+(http:\S+)/);
      await eventually(() => standIn.received.length >= 20 && standIn.stats.ackQueries >= 2, 'the first batch to be posted and its acks asked for');
      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));
      const sentByKilled = standIn.stats.eventRequests;
      const db = new Database(logFile, { readonly: true });
      const position = (db.prepare("SELECT pos FROM consumer_positions WHERE consumer = 'splunk'").get() as { pos: number } | undefined)?.pos ?? 0;
      db.close();
      assert.equal(position, 0, 'nothing was acknowledged, so the position did not move');

      // Second run: acks come; everything arrives, duplicates only from what the killed process sent.
      standIn.ackPlan = () => ({ kind: 'immediate' });
      const second = await start(/metrics\s+(http:\S+)/);
      await eventually(() => delivery(standIn, records).missing.length === 0, 'every record to reach the stand-in');
      await eventually(async () => {
        const metrics = await (await fetch(second.match[1]!)).text();
        return new RegExp(`trailgate_consumer_lag_records\\{consumer="splunk"\\} 0`).test(metrics) && /trailgate_sink_events_queued\{sink="splunk"\} 0/.test(metrics) && /trailgate_sink_health\{sink="splunk",state="ok"\} 1/.test(metrics);
      }, 'the forwarder to report itself caught up');
      const d = delivery(standIn, records);
      assert.deepEqual(d.missing, []);
      for (const [id, requests] of d.duplicates) assert.ok(requests.slice(0, -1).every((r) => r < sentByKilled), `record ${id} duplicated only by requests of the killed process`);
      const exited = new Promise((r) => second.child.once('exit', r));
      second.child.kill('SIGTERM');
      await exited;
      assert.ok(!output.join('').includes(token), 'the token appears in no log line');
      const file = join(work, 'export.ndjson');
      exportReceived(standIn, file);
      assert.match(await verifyExport(file, join(h.dataDir, 'keys', 'jwks.json')), /OK: 3 session\(s\) intact/);
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await standIn.stop();
      await h.stop();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
