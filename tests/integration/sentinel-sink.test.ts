/**
 * The Sentinel sink's delivery rules, with the real Azure SDK against the Logs Ingestion STAND-IN
 * (tests/services/sentinel-standin.ts) where the wire matters, and a scripted service where only the
 * sink's bookkeeping does: concurrent requests finish out of order and `write` still resolves only when
 * every row is in; a batch handed back and delivered again does not send accepted rows twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Row } from '../../connectors/sentinel/columns.js';
import { failureVerdict } from '../../connectors/sentinel/retry.js';
import { LogsIngestionService, type IngestionService, type UploadFailure } from '../../connectors/sentinel/service.js';
import { SentinelSink, SentinelSinkUnavailable, sentinelSinkFor } from '../../connectors/sentinel/sink.js';
import { registerSinkMetrics } from '../../services/roles/forwarder-sinks.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { limitField } from '../../connectors/siem/field-limit.js';
import { newSessionId, type EventRecord } from '../../events/index.js';
import type { SentinelStandIn } from '../services/sentinel-standin.js';
import { CLIENT_ID, sentinelConfig, sha256Hex, startStandIn, TENANT } from '../support/sentinel-env.js';
import { syntheticRecord } from '../support/synthetic-records.js';

/** n statements of about 470 bytes as rows, one session. */
function statements(n: number): EventRecord[] {
  const sessionId = newSessionId(Date.now());
  return Array.from({ length: n }, (_, i) => syntheticRecord(sessionId, i + 1, 'command.started', { protocol: 'simple', text: `select ${i} /* ${'x'.repeat(200)} */` }));
}

describe('column limits', () => {
  it('cuts on a character boundary and digests the whole value only when it cuts', () => {
    assert.deepEqual(limitField('short', 10), { value: 'short', truncated: false });
    const euro = '€'.repeat(10); // 3 bytes each
    const cut = limitField(euro, 10);
    assert.equal(cut.value, '€€€');
    assert.equal(cut.truncated, true);
    assert.equal(cut.sha256, sha256Hex(euro));
  });

  it('classes answers: throttles and resets retry, 400/413 split, 401/403/404 stop', () => {
    const v = (f: Partial<UploadFailure>) => failureVerdict({ rows: [], message: 'm', ...f }).kind;
    assert.deepEqual([v({ status: 429 }), v({ status: 503 }), v({ code: 'ECONNRESET' }), v({ status: 400 }), v({ status: 413 }), v({ status: 401 }), v({ status: 403 }), v({ status: 404 }), v({ status: 400, code: 'InvalidStream' })], ['retry', 'retry', 'retry', 'split', 'split', 'stop', 'stop', 'stop', 'stop']);
  });
});

describe('delivery through the real SDK (Logs Ingestion stand-in)', () => {
  let standIn: SentinelStandIn;
  before(async () => {
    standIn = await startStandIn({ identityHeader: 'stand-in-identity-header' });
  });
  after(async () => {
    await standIn?.stop();
  });

  it('resolves a batch only when every request is accepted, though they finish out of order', async () => {
    standIn.reset();
    // The request with the batch's first rows is stored only after another one was.
    standIn.holdUntilAnother = (rows) => rows[0]?.Seq === 1;
    const sink = sentinelSinkFor(sentinelConfig(standIn, { maxConcurrency: 2 }), { name: 'sentinel-order' });
    const batch = statements(3000);
    await sink.write(batch);
    assert.equal(standIn.rows().length, 3000, 'every row was in Sentinel when write resolved');
    assert.ok(standIn.requests.length >= 2, 'the SDK split the batch under 1 MB per request');
    assert.ok(standIn.requests.every((r) => r.bytes < 1024 * 1024));
    const firstStored = standIn.received[0]!.row.Seq as number;
    assert.ok(firstStored > 1, 'the second request was stored before the delayed first one');
    assert.equal(sink.stats.acknowledged, 3000);
  });
});

describe('the stand-in answers as the Logs Ingestion API documents (through the real SDK)', () => {
  it('refuses an undeclared column (400), a request over 1 MB (413) and an undeclared stream, with Azure error bodies', async () => {
    const standIn = await startStandIn();
    try {
      const service = new LogsIngestionService(sentinelConfig(standIn));
      const [unknown] = await service.upload([{ TimeGenerated: new Date().toISOString(), RecordId: 'r1', NoSuchColumn: 'x' } as Row]);
      assert.deepEqual([unknown!.status, unknown!.code], [400, 'InvalidPayload']);
      assert.match(unknown!.message, /NoSuchColumn/);
      const [mistyped] = await service.upload([{ TimeGenerated: new Date().toISOString(), Seq: 'seven' } as Row]);
      assert.deepEqual([mistyped!.status, mistyped!.code], [400, 'InvalidPayload']);
      // One row of 1.2 MB: the SDK sends it alone, gzip makes it small, and the service still refuses it uncompressed.
      const [large] = await service.upload([{ TimeGenerated: new Date().toISOString(), CommandText: 'x'.repeat(1_200_000) } as Row]);
      assert.deepEqual([large!.status, large!.code], [413, 'ContentLengthLimitExceeded']);
      const wrongStream = new LogsIngestionService(sentinelConfig(standIn, { stream: 'Custom-Elsewhere' }));
      const [stream] = await wrongStream.upload([{ TimeGenerated: new Date().toISOString() } as Row]);
      assert.deepEqual([stream!.status, stream!.code], [400, 'InvalidStream']);
      assert.equal(failureVerdict(stream!).kind, 'stop', 'an undeclared stream stops the sink');
      assert.equal(standIn.rows().length, 0);
    } finally {
      await standIn.stop();
    }
  });
});

describe('managed identity (Logs Ingestion stand-in)', () => {
  it('gets its token from the managed identity endpoint the environment names (App Service: IDENTITY_ENDPOINT)', async () => {
    const standIn = await startStandIn({ identityHeader: 'stand-in-identity-header' });
    const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
    process.env.IDENTITY_ENDPOINT = `${standIn.url}/msi/token`;
    process.env.IDENTITY_HEADER = 'stand-in-identity-header';
    try {
      const sink = sentinelSinkFor(sentinelConfig(standIn, { credential: { kind: 'managed-identity' }, authorityHost: undefined }), { name: 'sentinel-mi' });
      await sink.write(statements(20));
      assert.equal(standIn.rows().length, 20);
      assert.deepEqual(standIn.tokenRequests.map((t) => [t.grantType, t.scope, t.status]), [['managed_identity', 'https://monitor.azure.com', 200]]);
    } finally {
      process.env.IDENTITY_ENDPOINT = saved.endpoint;
      process.env.IDENTITY_HEADER = saved.header;
      if (saved.endpoint === undefined) delete process.env.IDENTITY_ENDPOINT;
      if (saved.header === undefined) delete process.env.IDENTITY_HEADER;
      await standIn.stop();
    }
  });
});

describe('a credential Entra ID refuses (Logs Ingestion stand-in)', () => {
  it('stops the sink with TG_SENTINEL_CREDENTIAL, says which keys to check, and never repeats the secret', async () => {
    const standIn = await startStandIn();
    const lines: string[] = [];
    try {
      const config = sentinelConfig(standIn, { credential: { kind: 'client-secret', tenantId: TENANT, clientId: CLIENT_ID, clientSecret: 'wrong-secret-never-logged' } });
      const sink = sentinelSinkFor(config, { name: 'sentinel-bad-secret', log: (l) => lines.push(l) });
      await assert.rejects(sink.write(statements(3)), /TG_SENTINEL_CREDENTIAL/);
      assert.equal(sink.health().state, 'stopped');
      assert.match(sink.health().reason!, /sentinel\.credential/);
      assert.equal(standIn.requests.length, 0, 'nothing reached the ingestion endpoint');
      assert.ok(!JSON.stringify([sink.health(), lines]).includes('wrong-secret-never-logged'));
    } finally {
      await standIn.stop();
    }
  });
});

describe('a batch delivered again', () => {
  it('does not send rows the service already accepted', async () => {
    const uploads: number[][] = [];
    let failing = true;
    const service: IngestionService = {
      async upload(rows: Row[]) {
        uploads.push(rows.map((r) => r.Seq as number));
        // The second half stays unavailable until the batch has been handed back once.
        return failing ? [{ rows: rows.filter((r) => (r.Seq as number) > 5), status: 503, message: 'busy' }] : [];
      },
    };
    const sink = new SentinelSink(service, { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1 });
    const batch = statements(10);
    await assert.rejects(sink.write(batch), SentinelSinkUnavailable);
    assert.equal(sink.health().state, 'degraded');
    failing = false;
    await sink.write(batch);
    assert.deepEqual(uploads, [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [6, 7, 8, 9, 10], [6, 7, 8, 9, 10]]);
    assert.equal(sink.stats.acknowledged, 10);
    assert.deepEqual(sink.health(), { state: 'ok' });
    const metrics = new Metrics();
    registerSinkMetrics(metrics, sink);
    assert.equal(metrics.value('trailgate_sink_events_acknowledged', { sink: 'sentinel' }), 10);
    assert.equal(metrics.value('trailgate_sink_events_resent', { sink: 'sentinel' }), 10);
    assert.equal(metrics.value('trailgate_sink_health', { sink: 'sentinel', state: 'ok' }), 1);
  });
});
