/**
 * Search indexer benchmark against a real OpenSearch node (TG_OPENSEARCH_URL; bench/search.sh
 * starts one). Two numbers:
 *  - documents per second: synthetic sessions (every event type) bulk-created by the SearchSink
 *    (first delivery and a full replay, every item a 409), as it was (one request of 1000 at a time)
 *    and as it is, against OpenSearch's own ceiling (pre-built bodies, plain fetch) in the same run;
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
import { DEFAULT_SEARCH_SINK_OPTIONS, type SearchSinkOptions } from '../connectors/search/config.js';
import { encodeRecord } from '../connectors/search/encoder.js';
import { pendingDocument } from '../connectors/search/request-builder.js';
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
const statements = Number(process.env.BENCH_STATEMENTS ?? 40);
const repo = resolve(import.meta.dirname, '..');

const service = searchService({ product: 'opensearch', url });
const out: string[] = [];
const say = (s = '') => out.push(s);

/** Documents as the sink sends them (its own encoder), grouped into pre-built bulk bodies of about `bytes`. */
function bulkBodies(records: AuditRecord[], namespace: string, dataStream: string, bytes: number): { bodies: string[]; docs: number } {
  const bodies: string[] = [];
  let current: string[] = [];
  let size = 0;
  let docs = 0;
  for (const r of records) {
    const encoded = encodeRecord(r, { namespace, maxCommandTextChars: 256 * 1024 });
    if (encoded.kind === 'skip') continue;
    const lines = pendingDocument(r, dataStream, encoded.id, encoded.document).lines;
    docs++;
    current.push(lines);
    size += Buffer.byteLength(lines);
    if (size >= bytes) {
      bodies.push(current.join(''));
      current = [];
      size = 0;
    }
  }
  if (current.length) bodies.push(current.join(''));
  return { bodies, docs };
}

/** OpenSearch's own ceiling: pre-built bodies POSTed to _bulk with plain fetch, `concurrency` at a time. */
async function ceiling(records: AuditRecord[], concurrency: number): Promise<{ seconds: number; docs: number; retries: number; cpuMs: number }> {
  let retries = 0;
  const namespace = `bench_ceiling_${concurrency}_${Date.now()}`;
  const sink = new SearchSink(service, { namespace, replicas: 0 });
  await sink.install();
  const { bodies, docs } = bulkBodies(records, namespace, sink.dataStream, 2 * 1024 * 1024);
  let next = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        // Throttled bodies go again whole (what was stored answers 409 then), as any bulk client does.
        for (let attempt = 1; ; attempt++) {
          const res = await fetch(`${url}/_bulk?filter_path=errors,items.*.status,error.type`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
          const answer = (await res.json()) as { items?: Record<string, { status: number }>[]; error?: { type?: string } };
          const statuses = (answer.items ?? []).map((i) => Object.values(i)[0]?.status ?? 0);
          const throttled = res.status === 429 || res.status >= 500 || statuses.some((st) => st === 429 || st >= 500);
          if (throttled && attempt < 30) {
            retries++;
            await sleep(50 * attempt);
            continue;
          }
          if (!res.ok || statuses.some((st) => st >= 300 && st !== 409)) throw new Error(`bulk: ${res.status} ${answer.error?.type ?? ''} ${statuses.find((st) => st >= 300) ?? ''}`);
          break;
        }
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, docs, retries, cpuMs: cpuMs(cpu0) };
}

/** This process's CPU time (user + system) since `from`, in ms: the client's own cost, which the shared machine moves less than rates. */
function cpuMs(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1000;
}

/** The indexer's sink as the consumer framework drives it: batches of `batchSize` records, each written whole. */
async function sinkRun(records: AuditRecord[], options: Partial<SearchSinkOptions>, batchSize: number): Promise<{ seconds: number; replay: number; cpuMs: number; replayCpuMs: number; sink: SearchSink }> {
  const sink = new SearchSink(service, { namespace: `bench_${Date.now()}`, replicas: 0, ...options });
  await sink.install();
  const opts = { batchSize, redeliveryDelayMs: 500, giveUpAfterMs: 120_000, deadLetters: new DeadLetterMemory() };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await deliver(sink, records, opts);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuMs(cpu0);
  const t1 = performance.now();
  const cpu1 = process.cpuUsage();
  await deliver(sink, records, opts);
  return { seconds, replay: (performance.now() - t1) / 1000, cpuMs: cpu, replayCpuMs: cpuMs(cpu1), sink };
}

async function throughput(): Promise<void> {
  const records = Array.from({ length: sessions }, () => syntheticSession()).flat();
  const bytes = records.reduce((n, r) => n + JSON.stringify(r).length, 0);
  // Interleaved, so that the machine's drift hits the ceiling and the sink alike.
  const c1 = await ceiling(records, 1);
  const before = await sinkRun(records, { maxBulkDocs: 1000, maxBulkBytes: 5 * 1024 * 1024, maxInFlightRequests: 1 }, 1000);
  const c2 = await ceiling(records, 2);
  const fresh = new SearchSink(service, { replicas: 0 });
  const now = await sinkRun(records, {}, fresh.preferredBatchSize);
  const c4 = await ceiling(records, 4);
  const best = Math.max(...[c1, c2, c4].map((c) => c.docs / c.seconds));
  const count = async (sink: SearchSink) => {
    await service.refresh(sink.dataStream);
    return (await service.search(sink.dataStream, { size: 0, track_total_hits: true })).total;
  };
  const d = DEFAULT_SEARCH_SINK_OPTIONS;
  say('## Documents per second');
  say();
  say(`${records.length} event records (${sessions} synthetic sessions, every event type; ${(bytes / 1e6).toFixed(1)} MB as JSON), bulk \`create\`, replicas 0, each run into a data stream of its own. The ceiling is OpenSearch's own: the same documents as pre-built bulk bodies of about 2 MiB, POSTed with plain \`fetch\` (no client library, no encoding), 1, 2 or 4 requests in flight. Runs are interleaved in the order of the table. Client CPU is this process's user + system time during the run (encoding, requests, answers; the ceiling's bodies are built before its clock starts), per 1,000 documents.`);
  say();
  say('| run | seconds | documents/s | of the best ceiling | client CPU ms per 1,000 documents | result |');
  say('|---|---:|---:|---:|---:|---|');
  const row = (name: string, seconds: number, docs: number, cpu: number, result: string) =>
    say(`| ${name} | ${seconds.toFixed(2)} | ${Math.round(docs / seconds)} | ${(docs / seconds / best).toFixed(2)} | ${((cpu * 1000) / docs).toFixed(1)} | ${result} |`);
  row('ceiling, 1 request in flight', c1.seconds, c1.docs, c1.cpuMs, `${c1.retries} bodies throttled and sent again`);
  row(`sink as before: batches of 1000, one request of 1000 documents at a time`, before.seconds, records.length, before.cpuMs, `${before.sink.stats.stored} stored`);
  row('ceiling, 2 requests in flight', c2.seconds, c2.docs, c2.cpuMs, `${c2.retries} bodies throttled and sent again`);
  row(`sink now: batches of ${fresh.preferredBatchSize}, requests of ${d.maxBulkBytes / 1024 / 1024} MiB (at most ${d.maxBulkDocs} documents), ${d.maxInFlightRequests} in flight`, now.seconds, records.length, now.cpuMs, `${now.sink.stats.stored} stored, ${await count(now.sink)} in the index, ${now.sink.stats.throttled} throttled`);
  row('ceiling, 4 requests in flight', c4.seconds, c4.docs, c4.cpuMs, `${c4.retries} bodies throttled and sent again`);
  row('sink now, replay of the same records', now.replay, records.length, now.replayCpuMs, `${now.sink.stats.duplicates} already there (409)`);
  row('sink as before, replay of the same records', before.replay, records.length, before.replayCpuMs, `${before.sink.stats.duplicates} already there (409)`);
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
  // BENCH_LAG=0: documents per second only.
  if (process.env.BENCH_LAG !== '0') await lag();
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  await service.close();
}
