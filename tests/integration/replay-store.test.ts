/**
 * The replay store on a real broker: `trailgate replay`'s copy of a Kafka log, filled through the
 * consumer framework from the events, bytes and ledger topics, holds every session exactly as the
 * gateways signed it, stores nothing twice, keeps records of types it does not know (the chain runs
 * through them), and `verify --all` reads it as it reads the embedded log.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { EmbeddedLog, type LedgerEntry } from '../../connectors/embedded-log/embedded-log.js';
import { createKafka, ensureTopics, logTopics } from '../../connectors/kafka/kafka-client.js';
import { encodeRecord } from '../../connectors/kafka/record-codec.js';
import { SCHEMA_VERSION, newSessionId, recordHash, recordId, type AuditRecord, type ChainInput } from '../../events/index.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import { validateConfig } from '../../services/config/load.js';
import { kafkaLedgerFile } from '../../services/gateway/gateway.js';
import { keysDir, readPublishedKeys } from '../../services/integrity/signing-keys.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { buildTranscript } from '../../services/replay/transcript.js';
import { startReplayStore, type RunningReplayStore } from '../../services/roles/replay-store-role.js';
import { TrustedKeys } from '../../services/verify/trusted-keys.js';
import { embeddedLogSource } from '../../services/verify/verify-source.js';
import { verify } from '../../services/verify/verify.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { eventually, kafkaLog } from '../support/kafka-env.js';

const log = kafkaLog();
const kafkaConfig = KafkaLogConfig.parse(log.kafka);
const dirs: string[] = [];
let keys: TrustedKeys;
const ledgers: LedgerEntry[] = [];
const sessions: string[] = [];
let written = 0;

/** Publishes messages the way a producer of the log does (the ledger: key = instance, value = the entry as JSON). */
async function produce(topic: string, messages: { key: string; value: Buffer; headers?: Record<string, string> }[]): Promise<void> {
  const kafka = await createKafka(kafkaConfig, 'test-producer');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, kafkaConfig).finally(() => admin.disconnect());
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

function storeConfig(name: string) {
  const dir = mkdtempSync(join(tmpdir(), 'trailgate-store-'));
  dirs.push(dir);
  return validateConfig({ dataDir: dir, log, replay: { consumer: name }, consumers: { batchSize: 50 } });
}

function count(file: string, table: 'records' | 'sessions' | 'ledger'): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Two gateways record real psql sessions to Kafka and stop; their ledgers go to the ledger topic. */
before(async () => {
  const gateways: GatewayHarness[] = [];
  for (const instance of ['gw-a', 'gw-b']) {
    const dataDir = mkdtempSync(join(tmpdir(), 'trailgate-gw-'));
    dirs.push(dataDir);
    gateways.push(await GatewayHarness.start({ instance, log, dataDir, integrity: { checkpointEvery: 5 } }));
  }
  try {
    for (const h of gateways) {
      h.gateway.writer.on('written', (records) => (written += records.length));
      for (let n = 0; n < 2; n++) {
        const c = await h.client();
        for (let i = 0; i < 20; i++) await c.query('select $1::int as i, repeat($2::text, 300) as filler', [i, h.gateway.postgresAddress.port]);
        await c.end();
      }
    }
    for (const h of gateways) {
      await eventually(() => h.gateway.postgres.activeSessions === 0, 'sessions to end');
      await h.gateway.writer.flush();
      await h.gateway.kafka!.drained();
    }
    keys = new TrustedKeys(gateways.flatMap((h) => readPublishedKeys(keysDir(h.dataDir)).keys), 'the gateways\' key stores');
  } finally {
    for (const h of gateways) await h.stop().catch(() => undefined);
  }
  // The gateways' signed ledgers, as published to <prefix>.ledger (the contract with the gateway's publisher).
  for (const h of gateways) {
    const own = new EmbeddedLog(kafkaLedgerFile(h.dataDir), { readonly: true });
    ledgers.push(...own.readLedger());
    own.close();
  }
  sessions.push(...ledgers.flatMap((e) => e.opened));
  const toMessages = (entries: LedgerEntry[]) => entries.map((e) => ({ key: e.instance, value: Buffer.from(JSON.stringify(e)) }));
  await produce(logTopics(kafkaConfig.topicPrefix).ledger, [...toMessages(ledgers), ...toMessages(ledgers)]);
});

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function filledStore(name: string): Promise<RunningReplayStore> {
  const store = await startReplayStore(storeConfig(name), new Metrics(), () => undefined);
  store.running.catch(() => undefined);
  await eventually(() => count(store.store.file, 'records') >= written && count(store.store.file, 'ledger') >= ledgers.length, `the store to hold all ${written} records and ${ledgers.length} ledger entries`);
  return store;
}

describe('replay store fed from Kafka', () => {
  it('holds every record once and verifies every session intact, with the ledgers naming all of them', async () => {
    assert.equal(sessions.length, 4, 'four sessions named by the gateways\' ledgers');
    const store = await filledStore('replay-a');
    try {
      assert.equal(count(store.store.file, 'records'), written, 'exactly the records the gateways wrote');
      assert.equal(count(store.store.file, 'ledger'), ledgers.length, 'each ledger entry once, though it was published twice');
      const copy = new EmbeddedLog(store.store.file, { readonly: true });
      try {
        const report = await verify({ source: embeddedLogSource(copy), trusted: keys, published: [] });
        assert.equal(report.sessions.length, 4);
        for (const s of report.sessions) assert.equal(s.status, 'intact', JSON.stringify(s.failure));
        assert.deepEqual(report.ledgers.map((l) => [l.instance, l.failure]).sort(), [['gw-a', undefined], ['gw-b', undefined]]);
        assert.deepEqual(report.unlisted, []);
        assert.ok(report.ok);
        assert.ok(copy.listSessions().every((s) => s.sealed && s.endReason === 'client-terminated'), 'sessions rows: ended and sealed');

        // A batch delivered again (a crash between the store's write and the commit) stores nothing twice.
        const again: AuditRecord[] = sessions.flatMap((id) => copy.readSession(id));
        await store.store.write(again);
        store.store.writeLedger(ledgers);
        assert.equal(count(store.store.file, 'records'), written);
        assert.equal(count(store.store.file, 'ledger'), ledgers.length);
      } finally {
        copy.close();
      }
    } finally {
      await store.stop();
    }
  });

  it('a second store with its own consumer holds the same full copy; a session deleted from one is reported through the ledger', async () => {
    const store = await filledStore('replay-b');
    await store.stop();
    const tampered = join(dirs[dirs.length - 1]!, 'tampered.db');
    copyFileSync(store.store.file, tampered);
    const db = new Database(tampered);
    db.prepare('DELETE FROM records WHERE session_id = ?').run(sessions[1]);
    db.prepare('DELETE FROM sessions WHERE session_id = ?').run(sessions[1]);
    db.close();
    const copy = new EmbeddedLog(tampered, { readonly: true });
    try {
      const report = await verify({ source: embeddedLogSource(copy), trusted: keys, published: [] });
      assert.equal(report.ok, false);
      const failed = report.ledgers.find((l) => l.failure);
      assert.equal(failed?.failure?.kind, 'session-missing');
      assert.match(failed!.failure!.message, new RegExp(sessions[1]!));
    } finally {
      copy.close();
    }
  });

  it('a store deleted to be rebuilt under the same consumer fills again from the beginning; a consumer in use is refused', async () => {
    // replay-a has committed its position at the end of the log: a new, empty store starts over.
    const rebuilt = await filledStore('replay-a');
    try {
      assert.equal(count(rebuilt.store.file, 'records'), written);
      await assert.rejects(startReplayStore(storeConfig('replay-a'), new Metrics(), () => undefined), (e: { code?: string; message: string }) => e.code === 'TG_REPLAY_CONSUMER_IN_USE' && /give each replay store its own replay.consumer/.test(e.message));
    } finally {
      await rebuilt.stop();
    }
  });

  it('keeps a record of a type this build does not know: the chain through it holds, readers skip it', async () => {
    const sessionId = newSessionId();
    const envelope = { v: SCHEMA_VERSION, instance: 'gw-future', target: null, identity: null, client: { address: '127.0.0.1', port: 5 } };
    const story: { type: string; data: unknown }[] = [
      { type: 'session.started', data: { protocol: 'postgres', tls: false, requested: {} } },
      { type: 'approval.escalated', data: { to: 'on-call', note: 'a record type from a newer gateway' } },
      { type: 'session.ended', data: { reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0, commands: 0 } },
    ];
    let prev = '';
    const records = story.map((s, i) => {
      const ts = new Date().toISOString();
      const input = { v: SCHEMA_VERSION, sessionId, seq: i + 1, ts, stream: 'events', type: s.type, data: s.data } as unknown as ChainInput;
      const hash = recordHash(prev, input);
      const r = { ...envelope, id: recordId(sessionId, i + 1), sessionId, seq: i + 1, ts, stream: 'events', type: s.type, data: s.data, prev, hash } as unknown as AuditRecord;
      prev = hash;
      return r;
    });
    await produce(logTopics(kafkaConfig.topicPrefix).events, records.map((r) => encodeRecord(r)).map((m) => ({ key: m.key, value: m.value, headers: m.headers })));
    const store = await startReplayStore(storeConfig('replay-future'), new Metrics(), () => undefined);
    store.running.catch(() => undefined);
    try {
      const copy = new EmbeddedLog(store.store.file, { readonly: true });
      try {
        await eventually(() => copy.readSession(sessionId).length === 3, 'the store to hold the new session');
        const stored = copy.readSession(sessionId);
        assert.deepEqual(stored.map((r) => r.type), ['session.started', 'approval.escalated', 'session.ended']);
        const report = await verify({ source: embeddedLogSource(copy), trusted: keys, published: [], sessionId });
        assert.equal(report.sessions[0]!.failure?.kind, 'truncated', 'the chain holds through the unknown record; only the signed end is missing');
        assert.equal(buildTranscript(sessionId, stored).entries.length, 0, 'the transcript skips what it does not know');
      } finally {
        copy.close();
      }
    } finally {
      await store.stop();
    }
  });
});
