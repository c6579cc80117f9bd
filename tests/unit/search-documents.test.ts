/**
 * How audit records become ECS documents, and how the sink treats what the cluster answers.
 * The real-cluster half of this specification is tests/integration/search-indexer.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRecord, type SearchDocument } from '../../connectors/search/encoder.js';
import { buildBulkRequests, pendingDocument } from '../../connectors/search/request-builder.js';
import { backoffMs, itemVerdict } from '../../connectors/search/retry.js';
import { SearchServiceError, type BulkItemResult, type SearchService } from '../../connectors/search/service.js';
import { SearchSink, SearchSinkUnavailable } from '../../connectors/search/sink.js';
import { AUDIT_MAPPINGS, templateBodies } from '../../connectors/search/templates.js';
import { ilmPolicy, ismPolicy } from '../../connectors/search/lifecycle.js';
import { DEFAULT_SEARCH_SINK_OPTIONS } from '../../connectors/search/config.js';
import { EVENT_TYPES } from '../../events/index.js';
import { futureRecord, syntheticRecord, syntheticSession } from '../support/synthetic-records.js';
import { fieldsOfDocument, fieldsOfMapping } from '../support/mapping-fields.js';

const opts = { namespace: 'default', maxCommandTextChars: 100, now: () => '2026-11-26T00:00:00.000Z' };

function encoded(type: (typeof EVENT_TYPES)[number]): SearchDocument {
  const r = syntheticSession().find((x) => x.type === type)!;
  const e = encodeRecord(r, opts);
  assert.equal(e.kind, 'document');
  return (e as { document: SearchDocument }).document;
}

const ECS_CATEGORIES = new Set(['api', 'authentication', 'configuration', 'database', 'driver', 'email', 'file', 'host', 'iam', 'intrusion_detection', 'library', 'malware', 'network', 'package', 'process', 'registry', 'session', 'threat', 'vulnerability', 'web']);
const ECS_TYPES = new Set(['access', 'admin', 'allowed', 'change', 'connection', 'creation', 'deletion', 'denied', 'device', 'end', 'error', 'group', 'indicator', 'info', 'installation', 'protocol', 'start', 'user']);

describe('ECS documents', () => {
  it('encodes every event type in the catalogue, with the record id as the document id', () => {
    for (const r of syntheticSession()) {
      const e = encodeRecord(r, opts);
      assert.equal(e.kind, 'document', r.type);
      if (e.kind !== 'document') continue;
      assert.equal(e.id, `${r.sessionId}:${r.seq}`);
      const event = e.document.event as { action: string; kind: string; category: string[]; type: string[]; outcome: string; sequence: number };
      assert.equal(event.action, r.type);
      assert.equal(event.kind, 'event');
      assert.equal(event.sequence, r.seq);
      assert.ok(event.category.every((c) => ECS_CATEGORIES.has(c)), `${r.type}: ECS categories`);
      assert.ok(event.type.every((t) => ECS_TYPES.has(t)), `${r.type}: ECS types`);
      assert.ok(['success', 'failure', 'unknown'].includes(event.outcome));
    }
  });

  it('maps every field a document can carry, so nothing lands unsearchable under dynamic: false', () => {
    const mapped = fieldsOfMapping(AUDIT_MAPPINGS);
    const withChain = { ...syntheticRecord('s', 1, 'cancel.requested', { forwarded: true }), prev: 'p', hash: 'h' };
    const docs = [...syntheticSession(), withChain].map((r) => encodeRecord(r, opts)).map((e) => (e as { document: SearchDocument }).document);
    for (const doc of docs) {
      for (const field of fieldsOfDocument(doc)) {
        if (field.startsWith('trailgate.identity.claims.')) continue; // kept, deliberately not indexed
        assert.ok(mapped.has(field), `${field} is mapped`);
      }
    }
  });

  it('puts the run under the OpenTelemetry names and the rest of the CI context under trailgate.ci', () => {
    const d = encoded('command.started') as { cicd: unknown; vcs: unknown; user: unknown; trailgate: { ci: Record<string, unknown>; identity: Record<string, unknown> } };
    assert.deepEqual(d.cicd, { pipeline: { name: 'deploy', run: { id: '4711' } } });
    assert.deepEqual(d.vcs, { repository: { name: 'acme/payments' }, owner: { name: 'acme' }, ref: { head: { name: 'refs/heads/main', revision: 'a'.repeat(40), type: 'branch' } } });
    assert.deepEqual(d.user, { name: 'octocat' });
    assert.equal(d.trailgate.ci.run_attempt, '1');
    assert.equal(d.trailgate.ci.environment, 'production');
    assert.equal(d.trailgate.identity.token_id, 'jti-4711');
  });

  it('classifies statements: DDL and DML change the target, a denial fails with the missing rights', () => {
    const sessionId = 's';
    const ddl = encodeRecord(syntheticRecord(sessionId, 1, 'command.started', { protocol: 'simple', text: 'drop table t', decision: { outcome: 'allowed', needs: ['ddl'] } }), opts);
    const read = encodeRecord(syntheticRecord(sessionId, 2, 'command.started', { protocol: 'simple', text: 'select 1', decision: { outcome: 'allowed', needs: ['read'] } }), opts);
    const denied = encodeRecord(syntheticRecord(sessionId, 3, 'command.started', { protocol: 'simple', text: 'drop table t', decision: { outcome: 'denied', needs: ['ddl'], missing: ['ddl'] } }), opts);
    const ev = (e: typeof ddl) => (e as unknown as { document: { event: { type: string[]; outcome: string; reason?: string } } }).document.event;
    assert.deepEqual(ev(ddl).type, ['change']);
    assert.deepEqual(ev(read).type, ['access']);
    assert.equal(ev(denied).outcome, 'failure');
    assert.equal(ev(denied).reason, 'missing rights: ddl');
    assert.equal(((denied as unknown as { document: { trailgate: { decision: { outcome: string } } } }).document.trailgate.decision.outcome), 'denied');
  });

  it('keeps long statements up to a limit and says when it cut one (the log keeps all of it)', () => {
    const text = `select '${'x'.repeat(500)}'`;
    const e = encodeRecord(syntheticRecord('s', 1, 'command.started', { protocol: 'simple', text }), opts) as unknown as { document: { trailgate: { command: { text: string; text_length: number; text_truncated: boolean } } } };
    assert.equal(e.document.trailgate.command.text.length, 100);
    assert.equal(e.document.trailgate.command.text_length, text.length);
    assert.equal(e.document.trailgate.command.text_truncated, true);
  });

  it('carries byte counts and the duration in ECS units', () => {
    const end = encoded('session.ended') as { source: { bytes: number }; destination: { bytes: number }; event: { outcome: string; reason: string } };
    assert.equal(end.source.bytes, 1234);
    assert.equal(end.destination.bytes, 5678);
    assert.equal(end.event.reason, 'client-terminated');
    const done = encoded('command.completed') as { event: { duration: number } };
    assert.equal(done.event.duration, 1_250_000, 'nanoseconds');
  });

  it('keeps the hash chain links when records carry them', () => {
    const r = { ...syntheticRecord('s', 2, 'cancel.requested', { forwarded: true }), prev: 'sha256:aa', hash: 'sha256:bb' };
    const d = (encodeRecord(r, opts) as unknown as { document: { trailgate: { record: { prev: string; hash: string } } } }).document;
    assert.equal(d.trailgate.record.prev, 'sha256:aa');
    assert.equal(d.trailgate.record.hash, 'sha256:bb');
  });

  it('skips byte chunks, unknown types and newer schema versions instead of failing', () => {
    const bytes = { ...syntheticRecord('s', 1, 'cancel.requested', { forwarded: true }), stream: 'bytes', type: 'bytes', direction: 'client', offset: 0, data: Buffer.alloc(1) };
    assert.deepEqual(encodeRecord(bytes as never, opts), { kind: 'skip', reason: 'bytes' });
    assert.deepEqual(encodeRecord(futureRecord('s', 2), opts), { kind: 'skip', reason: 'unknown-type' });
    assert.deepEqual(encodeRecord({ ...syntheticRecord('s', 3, 'cancel.requested', { forwarded: true }), v: 2 }, opts), { kind: 'skip', reason: 'schema-version' });
  });

  it('leaves out an address that is not an IP instead of making the document fail', () => {
    const d = (encodeRecord(syntheticRecord('s', 1, 'cancel.requested', { forwarded: true }, { clientAddress: 'unknown' }), opts) as unknown as { document: { client: Record<string, unknown>; related?: { ip?: string[] } } }).document;
    assert.equal(d.client.address, 'unknown');
    assert.equal(d.client.ip, undefined);
    assert.equal(d.related?.ip, undefined);
  });
});

describe('templates and lifecycle', () => {
  it('names the ILM policy in the settings on Elasticsearch only; ISM attaches through its own template', () => {
    const es = templateBodies('elasticsearch', {});
    const os = templateBodies('opensearch', {});
    const settingsOf = (b: typeof es) => (b.components[1]!.body.template as { settings: Record<string, unknown> }).settings;
    assert.equal(settingsOf(es)['index.lifecycle.name'], 'trailgate-audit');
    assert.equal(settingsOf(os)['index.lifecycle.name'], undefined);
    assert.deepEqual(es.indexTemplate.body.data_stream, {});
    assert.ok((es.indexTemplate.body.priority as number) > 200, 'above Elasticsearch\'s built-in logs templates');
    const ism = ismPolicy(DEFAULT_SEARCH_SINK_OPTIONS.lifecycle) as { policy: { ism_template: { index_patterns: string[] }[] } };
    assert.deepEqual(ism.policy.ism_template[0]!.index_patterns, ['.ds-logs-trailgate.audit-*']);
    const ilm = ilmPolicy(DEFAULT_SEARCH_SINK_OPTIONS.lifecycle) as { phases: { hot: { actions: { rollover: { max_age: string } } } } };
    assert.equal(ilm.phases.hot.actions.rollover.max_age, '7d');
  });
});

describe('bulk answers', () => {
  it('reads each item: stored, already there, worth another try, or never', () => {
    assert.equal(itemVerdict({ status: 201 }).kind, 'stored');
    assert.equal(itemVerdict({ status: 409, error: { type: 'version_conflict_engine_exception' } }).kind, 'duplicate');
    assert.equal(itemVerdict({ status: 429, error: { type: 'es_rejected_execution_exception' } }).kind, 'retry');
    assert.equal(itemVerdict({ status: 503 }).kind, 'retry');
    assert.equal(itemVerdict({ status: 403, error: { type: 'cluster_block_exception' } }).kind, 'retry');
    const dead = itemVerdict({ status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse field [@timestamp]' } });
    assert.equal(dead.kind, 'dead');
    assert.equal((dead as { code: string }).code, 'TG_SEARCH_DOCUMENT_REJECTED');
    assert.equal((itemVerdict({ status: 201, failure_store: 'used' }) as { code: string }).code, 'TG_SEARCH_FAILURE_STORE');
  });

  it('backs off exponentially with jitter, and never past the cap', () => {
    assert.equal(backoffMs(1, 100, 5000, () => 1), 100);
    assert.equal(backoffMs(3, 100, 5000, () => 1), 400);
    assert.equal(backoffMs(3, 100, 5000, () => 0), 200);
    assert.equal(backoffMs(30, 100, 5000, () => 1), 5000);
  });

  it('splits a batch into requests by documents and bytes', () => {
    const docs = syntheticSession().slice(0, 9).map((r) => pendingDocument(r, 'ds', r.id, { a: 'x'.repeat(100) }));
    assert.deepEqual(buildBulkRequests(docs, { maxDocs: 4, maxBytes: 1e9 }).map((r) => r.documents.length), [4, 4, 1]);
    assert.deepEqual(buildBulkRequests(docs, { maxDocs: 100, maxBytes: 1 }).map((r) => r.documents.length), [1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const one = buildBulkRequests(docs.slice(0, 1), { maxDocs: 10, maxBytes: 1e9 })[0]!;
    const [action, source] = one.ndjson.trimEnd().split('\n');
    assert.deepEqual(JSON.parse(action!), { create: { _index: 'ds', _id: docs[0]!.id } });
    assert.deepEqual(JSON.parse(source!), { a: 'x'.repeat(100) });
  });
});

/** A cluster that answers what each test scripts, and records what it was sent. */
class ScriptedService implements SearchService {
  readonly product = 'opensearch' as const;
  readonly sent: string[][] = [];
  constructor(private readonly answer: (ids: string[], call: number) => BulkItemResult[] | Error) {}
  async bulk(ndjson: string): Promise<BulkItemResult[]> {
    const ids = ndjson.trimEnd().split('\n').filter((_, i) => i % 2 === 0).map((l) => (JSON.parse(l) as { create: { _id: string } }).create._id);
    this.sent.push(ids);
    const a = this.answer(ids, this.sent.length);
    if (a instanceof Error) throw a;
    return a;
  }
  async putComponentTemplate(): Promise<void> {}
  async putIndexTemplate(): Promise<void> {}
  async putLifecyclePolicy(): Promise<'unavailable'> {
    return 'unavailable';
  }
  async ensureDataStream(): Promise<void> {}
  async backingIndices(): Promise<string[]> {
    return ['.ds-scripted-000001'];
  }
  async existingIds(): Promise<Set<string>> {
    return new Set();
  }
  async search(): Promise<never> {
    throw new Error('not scripted');
  }
  async mapping(): Promise<never> {
    throw new Error('not scripted');
  }
  async refresh(): Promise<void> {}
  async close(): Promise<void> {}
}

const noWait = async () => {};

describe('the search sink', () => {
  it('sends only the throttled items again, and counts 409s as already stored', async () => {
    const records = syntheticSession().slice(0, 9);
    const service = new ScriptedService((ids, call) => ids.map((_, i) => (call === 1 && i % 3 === 0 ? { status: 429 } : call === 1 && i === 1 ? { status: 409 } : { status: 201 })));
    const sink = new SearchSink(service, {}, noWait);
    const { deadLetters } = await sink.write(records);
    assert.deepEqual(deadLetters, []);
    assert.equal(service.sent.length, 2);
    assert.deepEqual(service.sent[1], [records[0]!.id, records[3]!.id, records[6]!.id]);
    assert.equal(sink.stats.stored, 8);
    assert.equal(sink.stats.duplicates, 1);
    assert.equal(sink.stats.throttled, 3);
  });

  it('rejects the write when the cluster stays unavailable past its attempts, so the batch comes again', async () => {
    const service = new ScriptedService(() => new SearchServiceError('TG_SEARCH_UNAVAILABLE', 'bulk: 429', 429, true));
    const sink = new SearchSink(service, { maxAttempts: 3 }, noWait);
    await assert.rejects(sink.write(syntheticSession()), SearchSinkUnavailable);
    assert.equal(service.sent.length, 3);
  });

  it('halves a request the cluster finds too large, and dead-letters a single document that never fits', async () => {
    const records = syntheticSession();
    const service = new ScriptedService((ids) => (ids.length > 2 || ids.includes(records[4]!.id) ? new SearchServiceError('TG_SEARCH_REQUEST', 'bulk: 413', 413, false) : ids.map(() => ({ status: 201 }))));
    const sink = new SearchSink(service, {}, noWait);
    const { deadLetters } = await sink.write(records);
    assert.deepEqual(deadLetters.map((d) => [d.record.id, d.code]), [[records[4]!.id, 'TG_SEARCH_DOCUMENT_TOO_LARGE']]);
    assert.equal(sink.stats.stored, records.length - 1);
  });

  it('stops at once on a refusal that no retry can fix (credentials)', async () => {
    const service = new ScriptedService(() => new SearchServiceError('TG_SEARCH_AUTH', 'bulk: 401', 401, false));
    const sink = new SearchSink(service, {}, noWait);
    await assert.rejects(sink.write(syntheticSession()), (e: SearchServiceError) => e.code === 'TG_SEARCH_AUTH');
    assert.equal(service.sent.length, 1);
  });

  it('keeps several bulk requests of one batch in flight and stores every document once', async () => {
    const records = Array.from({ length: 10 }, () => syntheticSession()).flat();
    const service = new ConcurrentService(() => undefined);
    const sink = new SearchSink(service, { maxBulkDocs: 10, maxInFlightRequests: 3 }, noWait);
    const { deadLetters } = await sink.write(records);
    assert.deepEqual(deadLetters, []);
    assert.equal(service.most, 3, 'three requests at once, no more');
    const sent = service.sent.flat();
    assert.equal(sent.length, records.length);
    assert.equal(new Set(sent).size, records.length, 'no document sent twice');
    assert.equal(sink.stats.stored, records.length);
  });

  it('starts no request after one fails for good, and rejects only once those in flight have settled', async () => {
    const records = Array.from({ length: 10 }, () => syntheticSession()).flat();
    const service = new ConcurrentService((call) => (call === 2 ? new SearchServiceError('TG_SEARCH_AUTH', 'bulk: 401', 401, false) : undefined));
    const sink = new SearchSink(service, { maxBulkDocs: 10, maxInFlightRequests: 3 }, noWait);
    await assert.rejects(sink.write(records), (e: SearchServiceError) => e.code === 'TG_SEARCH_AUTH');
    assert.equal(service.open, 0, 'nothing of this delivery is still in flight when the batch may come again');
    assert.equal(service.sent.length, 3);
  });

  it('refuses a namespace that cannot be part of a data stream name', () => {
    assert.throws(() => new SearchSink(new ScriptedService(() => []), { namespace: 'Prod-EU' }), /TG_SEARCH_NAMESPACE|not usable/);
  });
});

/** Answers every bulk request a few turns later, so that requests overlap; `fail` may refuse one call. */
class ConcurrentService extends ScriptedService {
  open = 0;
  most = 0;
  constructor(private readonly fail: (call: number) => Error | undefined) {
    super((ids) => ids.map(() => ({ status: 201 })));
  }
  override async bulk(ndjson: string): Promise<BulkItemResult[]> {
    this.open++;
    this.most = Math.max(this.most, this.open);
    try {
      const refused = this.fail(this.sent.length + 1);
      const items = await super.bulk(ndjson);
      // A refusal comes at once, while the requests before and after it are still open.
      if (refused) throw refused;
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      return items;
    } finally {
      this.open--;
    }
  }
}
