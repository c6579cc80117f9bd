import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditRecord } from '../../events/index.js';
import type { DeadLetter, RecordSink } from '../consumer/record-sink.js';
import { DEFAULT_SEARCH_SINK_OPTIONS, dataStreamName, validateNamespace, type SearchSinkOptions } from './config.js';
import { encodeRecord } from './encoder.js';
import { installSearchResources, type InstallReport } from './install.js';
import { buildBulkRequests, pendingDocument, type PendingDocument } from './request-builder.js';
import { backoffMs, itemVerdict } from './retry.js';
import { SearchServiceError, type SearchService } from './service.js';

export interface SearchSinkStats {
  /** Documents the cluster stored on this sink's requests. */
  stored: number;
  /** Documents already there (409 on create): earlier deliveries of the same records. */
  duplicates: number;
  deadLetters: number;
  /** Records not indexed by design, by reason (`bytes`, `unknown-type:<type>`, `schema-version:<v>`). */
  skipped: Record<string, number>;
  /** Requests or items sent again after a 429, a 5xx or an unreachable cluster. */
  retries: number;
  /** 429 answers seen, per request or per item. */
  throttled: number;
}

/** The transient failure `write` rejects with once its retries are spent; the batch is delivered again later. */
/**
 * Runs `fn` over `items` with at most `limit` at once, results in the items' order. After a failure no
 * new item starts, and it rejects (with the first failure) only once those in flight have settled, so
 * a batch delivered again never overlaps requests of its earlier delivery.
 */
async function inFlight<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { err: unknown } | null = null;
  const lane = async () => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure) throw (failure as { err: unknown }).err;
  return results;
}

export class SearchSinkUnavailable extends Error {
  readonly code = 'TG_SEARCH_UNAVAILABLE';
}

/**
 * Writes audit events into a data stream as ECS documents, for either product: one core, and the
 * product's SearchService adapter underneath. At-least-once in, exactly-once in the index: every
 * document is a bulk `create` with the record id as `_id`.
 */
export class SearchSink implements RecordSink {
  readonly name: string;
  readonly streams = ['events'] as const;
  readonly dataStream: string;
  /** Records per batch that keep maxInFlightRequests requests busy: the consumer reads batches this large. */
  readonly preferredBatchSize: number;
  private readonly options: SearchSinkOptions;
  private installed: Promise<InstallReport> | null = null;
  private readonly counters: SearchSinkStats = { stored: 0, duplicates: 0, deadLetters: 0, skipped: {}, retries: 0, throttled: 0 };

  constructor(
    readonly service: SearchService,
    options: Partial<SearchSinkOptions> = {},
    private readonly wait: (ms: number) => Promise<unknown> = sleep,
  ) {
    this.options = { ...DEFAULT_SEARCH_SINK_OPTIONS, ...options };
    validateNamespace(this.options.namespace);
    this.dataStream = dataStreamName(this.options.namespace);
    this.name = `search-${service.product}`;
    // About 700 bytes per document: enough records for every request in flight to fill its bytes.
    this.preferredBatchSize = Math.min(100_000, Math.max(1000, this.options.maxInFlightRequests * Math.min(this.options.maxBulkDocs, Math.ceil(this.options.maxBulkBytes / 700))));
  }

  get stats(): SearchSinkStats {
    return { ...this.counters, skipped: { ...this.counters.skipped } };
  }

  /** Installs templates, the lifecycle policy and the data stream; done once, before the first write. */
  install(): Promise<InstallReport> {
    this.installed ??= installSearchResources(this.service, this.dataStream, this.options).catch((err: unknown) => {
      this.installed = null;
      throw err;
    });
    return this.installed;
  }

  async write(records: readonly AuditRecord[]): Promise<{ deadLetters: DeadLetter[] }> {
    await this.retrying('install', () => this.install());
    const pending: PendingDocument[] = [];
    // One event.ingested per batch: the documents of one write are made in the same moment.
    const ingested = new Date().toISOString();
    const encoding = { namespace: this.options.namespace, maxCommandTextChars: this.options.maxCommandTextChars, now: () => ingested };
    for (const record of records) {
      const encoded = encodeRecord(record, encoding);
      if (encoded.kind === 'skip') {
        const key = encoded.reason === 'unknown-type' ? `unknown-type:${record.type}` : encoded.reason === 'schema-version' ? `schema-version:${record.v}` : encoded.reason;
        this.counters.skipped[key] = (this.counters.skipped[key] ?? 0) + 1;
        continue;
      }
      pending.push(pendingDocument(record, this.dataStream, encoded.id, encoded.document));
    }
    const fresh = await this.notInOlderIndices(pending);
    const requests = buildBulkRequests(fresh, { maxDocs: this.options.maxBulkDocs, maxBytes: this.options.maxBulkBytes });
    const deadLetters = (await inFlight(requests, this.options.maxInFlightRequests, (r) => this.send(r.documents))).flat();
    this.counters.deadLetters += deadLetters.length;
    return { deadLetters };
  }

  async close(): Promise<void> {
    await this.service.close();
  }

  /**
   * A `create` dedupes only within the write index, so a batch delivered again after a rollover would
   * store its records a second time: ids an older backing index already holds are dropped first. The
   * multi-get reads in real time; only two indexers creating the same record across the moment of a
   * rollover could still both store it, and a consumer group gives a session to one indexer at a time.
   */
  private async notInOlderIndices(pending: PendingDocument[]): Promise<PendingDocument[]> {
    if (pending.length === 0) return pending;
    const older = (await this.retrying('list backing indices', () => this.service.backingIndices(this.dataStream))).slice(0, -1);
    if (older.length === 0) return pending;
    const found = await this.retrying('look up earlier deliveries', () => this.service.existingIds(older, pending.map((d) => d.id)));
    this.counters.duplicates += found.size;
    return pending.filter((d) => !found.has(d.id));
  }

  /** Sends documents until each is stored, known, or dead; only throttled and unavailable ones go again. */
  private async send(documents: PendingDocument[]): Promise<DeadLetter[]> {
    const deadLetters: DeadLetter[] = [];
    let outstanding = documents;
    for (let attempt = 1; outstanding.length; attempt++) {
      let items;
      try {
        items = await this.service.bulk(outstanding.map((d) => d.lines).join(''));
      } catch (err) {
        if (err instanceof SearchServiceError && err.status === 413) return [...deadLetters, ...(await this.splitTooLarge(outstanding))];
        if (!(err instanceof SearchServiceError) || !err.retryable) throw err;
        if (err.status === 429) this.counters.throttled++;
        await this.backoff(attempt, err.message);
        continue;
      }
      if (items.length !== outstanding.length) {
        throw new SearchServiceError('TG_SEARCH_PROTOCOL', `bulk answered ${items.length} items for ${outstanding.length} documents`, undefined, true);
      }
      const again: PendingDocument[] = [];
      let lastReason = '';
      items.forEach((item, i) => {
        const doc = outstanding[i]!;
        const verdict = itemVerdict(item);
        if (verdict.kind === 'stored') this.counters.stored++;
        else if (verdict.kind === 'duplicate') this.counters.duplicates++;
        else if (verdict.kind === 'dead') deadLetters.push({ record: doc.record, code: verdict.code, message: verdict.message });
        else {
          if (item.status === 429) this.counters.throttled++;
          lastReason = verdict.reason;
          again.push(doc);
        }
      });
      outstanding = again;
      if (outstanding.length) await this.backoff(attempt, `${outstanding.length} documents: ${lastReason}`);
    }
    return deadLetters;
  }

  /** A request too large for the cluster is halved until each part fits; one document that never fits is dead. */
  private async splitTooLarge(documents: PendingDocument[]): Promise<DeadLetter[]> {
    if (documents.length === 1) {
      return [{ record: documents[0]!.record, code: 'TG_SEARCH_DOCUMENT_TOO_LARGE', message: 'the document is larger than the cluster accepts in one request (http.max_content_length)' }];
    }
    const half = Math.ceil(documents.length / 2);
    return [...(await this.send(documents.slice(0, half))), ...(await this.send(documents.slice(half)))];
  }

  private async backoff(attempt: number, why: string): Promise<void> {
    if (attempt >= this.options.maxAttempts) {
      throw new SearchSinkUnavailable(`search cluster did not take the batch after ${attempt} attempts (${why}); the batch will be delivered again`);
    }
    this.counters.retries++;
    await this.wait(backoffMs(attempt, this.options.initialBackoffMs, this.options.maxBackoffMs));
  }

  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof SearchServiceError) || !err.retryable) throw err;
        if (err.status === 429) this.counters.throttled++;
        await this.backoff(attempt, `${what}: ${err.message}`);
      }
    }
  }
}
