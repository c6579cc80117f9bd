/**
 * Search indexer benchmark against a real OpenSearch node (TG_OPENSEARCH_URL; bench/search.sh
 * starts one). Two numbers:
 *  - documents per second: synthetic sessions (every event type) bulk-created by the SearchSink,
 *    first delivery and a full replay (every item a 409);
 *  - command-to-searchable lag: `trailgate up --dev` runs, a `pg` client sends statements through
 *    it, an indexer loop tails the embedded log and writes to the sink, and a searcher polls
 *    `_search` (no forced refresh: the index's default 1 s refresh interval) until each statement
 *    shows up. Lag = visible in search minus the moment the client sent the statement.
 * Prints a Markdown results section on stdout.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { EmbeddedLog } from '../connectors/embedded-log/embedded-log.js';
import { SearchSink } from '../connectors/search/sink.js';
import type { AuditRecord } from '../events/index.js';
import { embeddedLogFile } from '../services/gateway/gateway.js';
import { DeadLetterMemory } from '../services/indexer/dead-letters.js';
import { deliver } from '../services/indexer/indexer.js';
import { searchService } from '../services/indexer/search-connection.js';
import { syntheticSession } from '../tests/support/synthetic-records.js';

const url = process.env.TG_OPENSEARCH_URL;
if (!url) throw new Error('TG_OPENSEARCH_URL is not set: run bench/search.sh, which starts OpenSearch');
const sessions = Number(process.env.BENCH_SESSIONS ?? 4000);
const batch = Number(process.env.BENCH_BATCH ?? 1000);
const statements = Number(process.env.BENCH_STATEMENTS ?? 40);
const repo = resolve(import.meta.dirname, '..');

const service = searchService({ product: 'opensearch', url });
const out: string[] = [];
const say = (s = '') => out.push(s);

async function throughput(): Promise<void> {
  const records = Array.from({ length: sessions }, () => syntheticSession()).flat();
  const bytes = records.reduce((n, r) => n + JSON.stringify(r).length, 0);
  const sink = new SearchSink(service, { namespace: `bench_${Date.now()}`, replicas: 0, maxBulkDocs: batch });
  await sink.install();
  const opts = { batchSize: batch, redeliveryDelayMs: 500, giveUpAfterMs: 120_000, deadLetters: new DeadLetterMemory() };
  const t0 = performance.now();
  await deliver(sink, records, opts);
  const first = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await deliver(sink, records, opts);
  const replay = (performance.now() - t1) / 1000;
  await service.refresh(sink.dataStream);
  const count = (await service.search(sink.dataStream, { size: 0, track_total_hits: true })).total;
  say('## Documents per second');
  say();
  say(`${records.length} event records (${sessions} synthetic sessions, every event type; ${(bytes / 1e6).toFixed(1)} MB as JSON), bulk \`create\` in requests of ${batch} documents, one request at a time, replicas 0.`);
  say();
  say('| delivery | seconds | documents/s | result |');
  say('|---|---:|---:|---|');
  say(`| first | ${first.toFixed(2)} | ${Math.round(records.length / first)} | ${sink.stats.stored} stored |`);
  say(`| replay of the same records | ${replay.toFixed(2)} | ${Math.round(records.length / replay)} | ${sink.stats.duplicates} already there (409), ${count} documents in the index |`);
  say();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function lag(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'trailgate-bench-search-'));
  const config = join(dir, 'trailgate.yaml');
  copyFileSync(join(repo, 'trailgate.yaml'), config);
  writeFileSync(config, readFileSync(config, 'utf8').replace('port: 6432', 'port: 0'));
  const cli = join(repo, 'bin/trailgate.js');
  const gateway = spawn(process.execPath, [cli, '--config', config, 'up', '--dev'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const port = await new Promise<number>((ok, fail) => {
      let text = '';
      gateway.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /postgres\s+127\.0\.0\.1:(\d+)/.exec(text);
        if (m && text.includes('try it:')) ok(Number(m[1]));
      });
      gateway.once('exit', (code) => fail(new Error(`trailgate up exited ${code}: ${text}`)));
    });
    const token = await new Promise<string>((ok, fail) => {
      const t = spawn(process.execPath, [cli, '--config', config, 'token'], { cwd: dir });
      let s = '';
      t.stdout.on('data', (d: Buffer) => (s += d.toString()));
      t.once('exit', (code) => (code === 0 ? ok(s.trim()) : fail(new Error('trailgate token failed'))));
    });

    const sink = new SearchSink(service, { namespace: `bench_lag_${Date.now()}`, replicas: 0 });
    await sink.install();
    const log = new EmbeddedLog(embeddedLogFile(join(dir, '.trailgate')), { readonly: true });
    // The indexer: tails the embedded log every 50 ms and writes what is new.
    const seen = new Map<string, number>();
    let tailing = true;
    const tail = (async () => {
      while (tailing) {
        const fresh: AuditRecord[] = [];
        for (const s of log.listSessions(50)) {
          const last = seen.get(s.sessionId) ?? 0;
          if (s.records <= last) continue;
          const records = log.readSession(s.sessionId).filter((r) => r.seq > last);
          if (records.length) seen.set(s.sessionId, records.at(-1)!.seq);
          fresh.push(...records.filter((r) => r.stream === 'events'));
        }
        if (fresh.length) await sink.write(fresh);
        else await sleep(50);
      }
    })();

    const client = new pg.Client({ host: '127.0.0.1', port, database: 'demo', user: 'ci', password: token, ssl: { rejectUnauthorized: false } });
    await client.connect();
    const lags: number[] = [];
    for (let i = 0; i < statements; i++) {
      const text = `select 'lag-probe-${Date.now()}-${i}' as probe`;
      const sent = performance.now();
      await client.query(text);
      for (;;) {
        const hit = await service.search(sink.dataStream, { size: 0, query: { term: { 'trailgate.command.text': text } } });
        if (hit.total > 0) break;
        await sleep(20);
      }
      lags.push(performance.now() - sent);
      // A random pause, so that probes do not fall into step with the 1 s refresh cycle.
      await sleep(100 + Math.random() * 1000);
    }
    await client.end();
    tailing = false;
    await tail;
    log.close();
    lags.sort((a, b) => a - b);
    say('## Command-to-searchable lag');
    say();
    say(`${statements} statements sent one after another (a random 0.1-1.1 s apart, so they do not fall into step with the refresh cycle) by a \`pg\` client through \`trailgate up --dev\` (strict recording, PGlite demo target); an indexer loop tails the embedded log every 50 ms; the searcher polls \`_search\` every 20 ms without forcing a refresh (index.refresh_interval is the default 1 s).`);
    say();
    say('| p50 (ms) | p95 (ms) | max (ms) | min (ms) |');
    say('|---:|---:|---:|---:|');
    say(`| ${percentile(lags, 50).toFixed(0)} | ${percentile(lags, 95).toFixed(0)} | ${lags.at(-1)!.toFixed(0)} | ${lags[0]!.toFixed(0)} |`);
    say();
    say('The lag is dominated by the refresh interval: a document is searchable after the next refresh of its shard (about half a second on average, 1 s at most), plus the tail loop\'s poll period and one bulk request.');
    say();
  } finally {
    gateway.kill('SIGTERM');
    await new Promise((r) => gateway.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await throughput();
  await lag();
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  await service.close();
}
