/**
 * A `trailgate gateway` process on Kafka SIGKILLed in the middle of a session, after its spool has
 * already deleted the segment where the session began: restarted, it closes the session with
 * `session.aborted` and a final signed checkpoint, continuing the chain from its head, and its signed
 * ledger arrives on `<prefix>.ledger` in order with every signature good.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import type { LedgerEntry } from '../../connectors/embedded-log/embedded-log.js';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { createKafka, logTopics } from '../../connectors/kafka/kafka-client.js';
import { KafkaRecordSource } from '../../connectors/kafka/kafka-record-source.js';
import type { EventRecord } from '../../events/index.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import { DevIssuer } from '../../services/dev/dev-issuer.js';
import { keysDir, readPublishedKeys } from '../../services/integrity/signing-keys.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { TrustedKeys } from '../../services/verify/trusted-keys.js';
import { verifyLedger } from '../../services/verify/verify-ledger.js';
import { verifySession } from '../../services/verify/verify-session.js';
import { CollectingSink, eventually, kafkaLog } from '../support/kafka-env.js';
import { postgresService } from '../support/test-env.js';

const cli = resolve(import.meta.dirname, '../../bin/trailgate.js');

function startGateway(config: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolveRole, reject) => {
    const child = spawn(process.execPath, [cli, '--config', config, 'gateway'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the gateway did not report readiness:\n${out}`)), 120_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /postgres\s+127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveRole({ child, port: Number(m[1]) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited with ${code ?? signal}:\n${out}`));
    });
  });
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

describe('gateway recovery on Kafka', () => {
  it('closes a session open at a SIGKILL with session.aborted and a final signed checkpoint, and publishes its ledger', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-recovery-'));
    const children: ChildProcess[] = [];
    const log = kafkaLog(undefined, { spool: { segmentBytes: 1024 * 1024 } });
    const kafkaConfig = KafkaLogConfig.parse(log.kafka);
    const sink = new CollectingSink('recovery');
    let consumer: Consumer | null = null;
    let running: Promise<void> | null = null;
    try {
      const issuer = await DevIssuer.openOrCreate(dir);
      writeFileSync(join(dir, 'jwks.json'), JSON.stringify(issuer.jwks()));
      const pgs = postgresService();
      const config = join(dir, 'trailgate.json');
      writeFileSync(
        config,
        JSON.stringify({
          dataDir: dir,
          instance: 'gw-crash',
          identity: { issuers: [{ ...issuer.issuerConfig(), jwksFile: join(dir, 'jwks.json') }] },
          postgres: { listen: { host: '127.0.0.1', port: 0 } },
          targets: { app: { host: pgs.host, port: pgs.port, database: pgs.database, user: pgs.appUser, password: { env: 'TG_PG_APP_PASSWORD' } } },
          policy: { rules: [{ name: 'tests', issuers: ['dev'], subject: '**', targets: ['app'], rights: ['all'] }] },
          integrity: { summarySeconds: 1 },
          log,
        }),
      );
      const first = await startGateway(config);
      children.push(first.child);
      const connect = async (port: number) => {
        const c = new pg.Client({ host: '127.0.0.1', port, database: 'app', user: 'ci', password: await issuer.mint() });
        c.on('error', () => undefined);
        await c.connect();
        return c;
      };
      const open = await connect(first.port);
      // Past one 1 MiB spool segment: once delivered, the segment where the session began is deleted.
      for (let i = 0; i < 6; i++) await open.query(`select repeat('x', 300000) as filler, ${i} as i`);
      const closed = await connect(first.port);
      await closed.query('select 1');
      await closed.end();
      const spool = join(dir, 'spool');
      await eventually(() => existsSync(join(spool, 'heads.json')) && !existsSync(join(spool, `${'0'.repeat(20)}.spool`)), 'the first spool segment to be delivered and deleted');
      await open.query("select 'the last statement before the crash'");
      await kill(first.child, 'SIGKILL');

      const second = await startGateway(config);
      children.push(second.child);

      consumer = new Consumer(await KafkaRecordSource.create(kafkaConfig, sink, 500), sink, new Metrics());
      running = consumer.run();
      const crashed = () => [...sink.bySession().entries()].find(([, recs]) => recs.some((r) => r.type === 'command.started' && String((r.data as { text?: string }).text).includes('the last statement')));
      await eventually(() => {
        const recs = crashed()?.[1] ?? [];
        const last = recs[recs.length - 1] as EventRecord | undefined;
        // Events and byte chunks come from two topics: wait until both are read through the end.
        return recs.some((r) => r.type === 'session.aborted') && last?.type === 'checkpoint.signed' && (last.data as { final: boolean }).final && last.seq === recs.length;
      }, 'session.aborted, the final checkpoint and every record before them on Kafka');
      const [sessionId, recs] = crashed()!;
      assert.deepEqual(recs.map((r) => r.seq), recs.map((_, i) => i + 1), 'one gap-free chain');
      const story = recs.filter((r) => r.stream === 'events' && r.type !== 'checkpoint.signed');
      assert.equal(story[story.length - 1]!.type, 'session.aborted', 'the session ends aborted');
      const keys = new TrustedKeys(readPublishedKeys(keysDir(dir)).keys, 'test data directory');
      const verdict = await verifySession(sessionId, recs, keys, () => []);
      assert.equal(verdict.status, 'truncated', JSON.stringify(verdict));
      assert.equal(verdict.failure?.kind, 'aborted', 'intact and signed up to the crash, then closed by the restarted gateway');
      const other = [...sink.bySession()].find(([id]) => id !== sessionId)!;
      assert.equal((await verifySession(other[0], other[1], keys, () => [])).status, 'intact', 'the session that ended before the crash is whole');

      // The ledger: every entry on Kafka, in order, each signature good, naming both sessions.
      const kafka = await createKafka(kafkaConfig, 'ledger-reader');
      const reader = kafka.consumer({ groupId: `${kafkaConfig.topicPrefix}.ledger-test` });
      const entries: LedgerEntry[] = [];
      await reader.connect();
      try {
        await reader.subscribe({ topics: [logTopics(kafkaConfig.topicPrefix).ledger], fromBeginning: true });
        await reader.run({
          eachMessage: async ({ message }) => {
            assert.equal(message.key?.toString(), 'gw-crash', 'keyed by instance');
            entries.push(JSON.parse(message.value!.toString()) as LedgerEntry);
          },
        });
        await eventually(() => entries.flatMap((e) => e.opened).includes(sessionId) && entries.flatMap((e) => e.opened).includes(other[0]), 'ledger entries naming both sessions');
      } finally {
        await reader.disconnect();
      }
      assert.deepEqual(entries.map((e) => e.seq), entries.map((_, i) => i + 1), 'entries arrive in order, none missing');
      const ledger = await verifyLedger('gw-crash', entries, keys, (id) => sink.bySession().has(id));
      assert.equal(ledger.failure, undefined, JSON.stringify(ledger.failure));
    } finally {
      await consumer?.stop();
      await running?.catch(() => undefined);
      for (const c of children) await kill(c, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
