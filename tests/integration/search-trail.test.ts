/**
 * Searching the trail: the function the CLI and the HTTP route share, the fastify route, and the
 * built CLI (`trailgate index`, then `trailgate search`) against the real OpenSearch node.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import type { SearchService } from '../../connectors/search/service.js';
import { SearchSink } from '../../connectors/search/sink.js';
import { EVENT_TYPES, type EventRecord, type SessionContext } from '../../events/index.js';
import { embeddedLogFile } from '../../services/gateway/gateway.js';
import { searchService } from '../../services/indexer/search-connection.js';
import { searchRoutes } from '../../services/search/search-route.js';
import { searchTrail } from '../../services/search/search-trail.js';
import { openSearchTarget, testNamespace } from '../support/search-env.js';
import { syntheticRecord, syntheticSession } from '../support/synthetic-records.js';

const exec = promisify(execFile);
const cli = join(resolve(import.meta.dirname, '../..'), 'bin/trailgate.js');

const day = (d: number) => new Date(Date.UTC(2026, 10, d, 12));
/** Three runs of two repositories on three days, and one statement that only a fragment finds. */
function trail(): EventRecord[] {
  const a = syntheticSession({ repository: 'acme/payments', runId: '100', actor: 'alice', start: day(20) });
  const b = syntheticSession({ repository: 'acme/payments', runId: '101', runAttempt: '2', actor: 'bob', start: day(22) });
  const c = syntheticSession({ repository: 'acme/reports', runId: '200', actor: 'alice', start: day(24) });
  // The seq after the session's last record: an id of its own, whatever the catalogue holds.
  const sql = syntheticRecord(c[0]!.sessionId, c.length + 1, 'command.started', { protocol: 'simple', text: 'UPDATE Ledger SET balance = 0 WHERE account_id = 42', decision: { outcome: 'allowed', needs: ['write'] } }, { repository: 'acme/reports', runId: '200', actor: 'alice', start: day(24) });
  return [...a, ...b, ...c, sql];
}

describe('searching the trail', () => {
  let service: SearchService;
  let sink: SearchSink;
  const records = trail();

  before(async () => {
    service = searchService(openSearchTarget().connection);
    sink = new SearchSink(service, { namespace: testNamespace('trail'), replicas: 0 });
    await sink.write(records);
    await service.refresh(sink.dataStream);
  });
  after(async () => {
    await service.close();
  });

  const find = (f: Parameters<typeof searchTrail>[1]) => searchTrail(service, f, sink.dataStream);

  it('narrows by repository, run (with or without attempt), actor and target', async () => {
    const perSession = EVENT_TYPES.length;
    assert.equal((await find({ repository: 'acme/payments', limit: 100 })).total, 2 * perSession);
    assert.equal((await find({ run: '101', limit: 100 })).total, perSession);
    assert.equal((await find({ run: '101/2' })).total, perSession);
    assert.equal((await find({ run: '101/1' })).total, 0);
    assert.equal((await find({ actor: 'alice', repository: 'acme/reports' })).total, perSession + 1);
    assert.equal((await find({ target: 'app', limit: 1 })).total, records.length);
    assert.equal((await find({ target: 'elsewhere' })).total, 0);
  });

  it('narrows by time, newest first', async () => {
    const page = await find({ since: '2026-11-21T00:00:00Z', until: '2026-11-23T00:00:00Z', limit: 100 });
    assert.equal(page.total, EVENT_TYPES.length);
    assert.ok(page.rows.every((r) => r.run === '101/2'));
    const all = await find({ limit: 100 });
    assert.deepEqual(all.rows.map((r) => r.time), [...all.rows.map((r) => r.time)].sort().reverse());
    assert.equal((await find({ since: '1h' })).total, 0, 'an age counts back from now');
  });

  it('finds commands by words and by a fragment of their text, whatever the case', async () => {
    const words = await find({ text: 'ledger balance' });
    assert.equal(words.total, 1);
    assert.equal(words.rows[0]!.detail, 'UPDATE Ledger SET balance = 0 WHERE account_id = 42');
    assert.equal((await find({ text: 'set balance = 0 where acc' })).total, 1);
    assert.equal((await find({ text: 'alter table orders' })).total, 3, 'the DDL of each session');
    assert.equal((await find({ text: 'no such statement' })).total, 0);
  });

  it('refuses a time it cannot read, naming what it takes', async () => {
    await assert.rejects(find({ since: 'last tuesday' }), /TG_SEARCH_USAGE|neither an ISO 8601 time nor an age/);
  });

  it('answers GET /search from the fastify plugin, with its schema on the query', async () => {
    const app = Fastify();
    await app.register(searchRoutes, { prefix: '/api', service, index: sink.dataStream });
    try {
      const ok = await app.inject({ method: 'GET', url: '/api/search?repo=acme%2Freports&q=ledger&limit=5' });
      assert.equal(ok.statusCode, 200);
      const body = ok.json() as { total: number; rows: { repository: string; action: string; run: string }[] };
      assert.equal(body.total, 1);
      assert.deepEqual([body.rows[0]!.repository, body.rows[0]!.action, body.rows[0]!.run], ['acme/reports', 'command.started', '200/1']);
      const badLimit = await app.inject({ method: 'GET', url: '/api/search?limit=0' });
      assert.equal(badLimit.statusCode, 400);
      const badTime = await app.inject({ method: 'GET', url: '/api/search?since=someday' });
      assert.equal(badTime.statusCode, 400);
      assert.equal((badTime.json() as { code: string }).code, 'TG_SEARCH_USAGE');
    } finally {
      await app.close();
    }
  });

  it('answers 503 with a named code while the cluster cannot be reached', async () => {
    const down = searchService({ product: 'opensearch', url: 'http://127.0.0.1:1' });
    const app = Fastify();
    await app.register(searchRoutes, { prefix: '/api', service: down });
    try {
      const res = await app.inject({ method: 'GET', url: '/api/search?repo=x' });
      assert.equal(res.statusCode, 503);
      assert.equal((res.json() as { code: string }).code, 'TG_SEARCH_UNAVAILABLE');
    } finally {
      await app.close();
      await down.close();
    }
  });

  it('indexes the embedded log and searches it from the built CLI', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-search-cli-'));
    try {
      const namespace = testNamespace('cli');
      const config = join(dir, 'trailgate.yaml');
      writeFileSync(config, `dataDir: ${join(dir, 'data')}\nsearch:\n  product: opensearch\n  url: ${openSearchTarget().connection.url as string}\n  namespace: ${namespace}\n  replicas: 0\n`);
      const log = new EmbeddedLog(embeddedLogFile(join(dir, 'data')));
      // The CLI searches every namespace: a repository of this run's own keeps earlier runs out.
      const repository = `acme/${namespace}`;
      const session = syntheticSession({ repository, runId: '777' });
      const first = session[0]!;
      const ctx: SessionContext = { sessionId: first.sessionId, instance: first.instance, protocol: 'postgres', target: first.target, identity: first.identity, client: first.client };
      log.writeBatch([ctx], session.map((r) => ({ sessionId: r.sessionId, seq: r.seq, ts: r.ts, stream: 'events' as const, type: r.type, data: r.data, prev: r.prev, hash: r.hash })));
      log.close();

      const indexed = await exec(process.execPath, [cli, '--config', config, 'index']);
      assert.match(indexed.stdout, new RegExp(`logs-trailgate\\.audit-${namespace}: ${EVENT_TYPES.length} stored, 0 already there, 0 dead letters`));
      const again = await exec(process.execPath, [cli, '--config', config, 'index']);
      assert.match(again.stdout, new RegExp(`0 stored, ${EVENT_TYPES.length} already there`));

      await service.refresh(`logs-trailgate.audit-${namespace}`);
      const json = await exec(process.execPath, [cli, '--config', config, 'search', '--repo', repository, '--run', '777', '--json', 'alter', 'table']);
      const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { action: string; detail: string; sessionId: string });
      assert.equal(rows.length, 1, JSON.stringify(rows));
      assert.equal(rows[0]!.sessionId, first.sessionId);
      assert.equal(rows[0]!.detail, 'alter table orders add column note text');
      const table = await exec(process.execPath, [cli, '--config', config, 'search', '--repo', repository]);
      assert.match(table.stdout, /^TIME\s+ACTION\s+OUTCOME\s+REPOSITORY/);
      assert.equal(table.stdout.trim().split('\n').length, 1 + EVENT_TYPES.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells the user how to configure a cluster when there is none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-search-cli-'));
    try {
      writeFileSync(join(dir, 'trailgate.yaml'), `dataDir: ${join(dir, 'data')}\n`);
      await assert.rejects(exec(process.execPath, [cli, '--config', join(dir, 'trailgate.yaml'), 'search', 'x']), (e: { stderr: string; code: number }) => {
        assert.match(e.stderr, /no search cluster configured; add a `search:` section/);
        return e.code === 1;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
