import { EVENT_TYPES, SCHEMA_VERSION, type AuditRecord } from '../../events/index.js';
import type { Metrics } from '../../services/metrics/metrics.js';
import { ConsumerHealthTracker, type ConsumerHealth } from './consumer-health.js';
import type { DeadLetter, RecordSink } from './record-sink.js';

/** One message as a source read it: a record, or the reason it is not one. */
export interface SourceEntry {
  record: AuditRecord | null;
  /** Set when the message could not be decoded into a record (a poison message). */
  error?: { code: string; message: string };
  /** Where it came from, for dead letters and logs (`trailgate.events/2@1234`, `pos 17`). */
  origin: string;
  /** The source's own message, so a dead letter keeps the original bytes. */
  raw: unknown;
}

/** A dead letter as the framework hands it to a source's dead-letter place. */
export interface SourceDeadLetter {
  entry: SourceEntry;
  code: string;
  message: string;
}

export interface LagReport {
  consumer: string;
  /** Records in the log after the committed position, per topic-partition or stream. */
  parts: { part: string; committed: string; end: string; lag: number }[];
  total: number;
}

/**
 * A log a consumer reads: the embedded SQLite log or Kafka. `run` delivers batches in log order
 * (per partition) to `handle`; when `handle` resolves the batch's position is committed, when it
 * rejects nothing is committed and the batch comes again.
 */
export interface RecordSource {
  readonly kind: 'embedded' | 'kafka';
  run(handle: (entries: SourceEntry[]) => Promise<void>): Promise<void>;
  deadLetter(letters: SourceDeadLetter[]): Promise<void>;
  lag(): Promise<LagReport>;
  /** Keeps the consumer's health where `trailgate consumers` reads it (the embedded log's file); optional. */
  reportHealth?(health: ConsumerHealth): void;
  stop(): Promise<void>;
}

/** Whether a record is of a schema version this build reads (its type may still be new). */
export function isKnownVersion(r: AuditRecord): boolean {
  return typeof r.v === 'number' && r.v <= SCHEMA_VERSION && (r.stream === 'events' || (r.stream === 'bytes' && r.type === 'bytes'));
}

/** Whether this build knows a record's type and version; others are skipped and counted, never fatal. */
export function isKnownRecord(r: AuditRecord): boolean {
  if (typeof r.v !== 'number' || r.v > SCHEMA_VERSION) return false;
  if (r.stream === 'bytes') return r.type === 'bytes';
  return r.stream === 'events' && (EVENT_TYPES as readonly string[]).includes(r.type);
}

export interface ConsumerOptions {
  /** First wait after a sink failure; doubles up to 10 s. */
  retryMs?: number;
  /** Milliseconds between lag measurements for the metric. */
  lagIntervalMs?: number;
  log?: (line: string) => void;
}

/**
 * The one consumer loop every consumer uses, on either log: read a batch, skip (and count) record
 * types this build does not know, hand the rest to the sink, put what the sink refuses for good and
 * what cannot be decoded into the dead-letter place, and only then let the source commit.
 */
export class Consumer {
  private stopping = false;
  private running: Promise<void> | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  private lastLag: LagReport | null = null;
  private readonly tracker: ConsumerHealthTracker;

  constructor(
    readonly source: RecordSource,
    readonly sink: RecordSink,
    private readonly metrics: Metrics,
    private readonly o: ConsumerOptions = {},
  ) {
    const labels = { consumer: sink.name };
    metrics.gauge('trailgate_consumer_lag_records', 'Records in the log after the consumer\'s committed position.', labels, () => this.lastLag?.total ?? 0);
    this.tracker = new ConsumerHealthTracker((h) => {
      try {
        source.reportHealth?.(h);
      } catch {
        // The status place is for people; a log that cannot take it now gets the next change.
      }
    });
    for (const state of ['ok', 'degraded', 'stopped'] as const) {
      metrics.gauge('trailgate_consumer_health', 'The consumer\'s health: 1 for its current state (ok; degraded while its sink keeps failing; stopped).', { ...labels, state }, () => (this.health().state === state ? 1 : 0));
    }
  }

  /** ok, or degraded/stopped with the last error while the sink keeps failing. */
  health(): ConsumerHealth {
    return this.tracker.view(this.sink);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      // A log that cannot be asked for its end right now keeps the last measurement.
      this.lagTimer = setInterval(() => void this.measureLag().catch(() => undefined), this.o.lagIntervalMs ?? 5000);
      this.lagTimer.unref();
      try {
        await this.source.run((entries) => this.handle(entries));
      } finally {
        if (this.lagTimer) clearInterval(this.lagTimer);
      }
    })();
    return this.running;
  }

  async lag(): Promise<LagReport> {
    return this.measureLag();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.source.stop();
    await this.running?.catch(() => undefined);
    await this.sink.close?.();
  }

  private async measureLag(): Promise<LagReport> {
    const report = await this.source.lag();
    this.lastLag = report;
    return report;
  }

  private async handle(entries: SourceEntry[]): Promise<void> {
    const labels = { consumer: this.sink.name };
    const toWrite: SourceEntry[] = [];
    const dead: SourceDeadLetter[] = [];
    for (const e of entries) {
      if (!e.record) {
        dead.push({ entry: e, code: e.error?.code ?? 'TG_RECORD_UNDECODABLE', message: e.error?.message ?? 'not a record' });
        continue;
      }
      if (!isKnownRecord(e.record) && !(this.sink.keepsUnknownTypes && isKnownVersion(e.record))) {
        this.metrics.counter('trailgate_consumer_records_skipped_total', 'Records of a type or version this build does not know, skipped.', { ...labels, type: String(e.record.type) });
        continue;
      }
      if (!this.sink.streams.includes(e.record.stream)) continue;
      toWrite.push(e);
    }
    if (toWrite.length) {
      const { deadLetters } = await this.writeWithRetry(toWrite.map((e) => e.record!));
      const byId = new Map(toWrite.map((e) => [e.record!.id, e]));
      for (const d of deadLetters) {
        const entry = byId.get(d.record.id) ?? { record: d.record, origin: 'sink', raw: null };
        dead.push({ entry, code: d.code, message: d.message });
      }
    }
    if (dead.length) {
      await this.source.deadLetter(dead);
      for (const d of dead) this.metrics.counter('trailgate_consumer_dead_letters_total', 'Records put into the dead-letter place.', { ...labels, code: d.code });
    }
    this.metrics.counter('trailgate_consumer_records_total', 'Records the consumer read from the log.', labels, entries.length);
  }

  /** A sink rejects on transient failures: wait and try the same batch again until it takes it. */
  private async writeWithRetry(records: AuditRecord[]): Promise<{ deadLetters: DeadLetter[] }> {
    let wait = this.o.retryMs ?? 200;
    for (;;) {
      try {
        const written = await this.sink.write(records);
        this.tracker.delivered();
        return written;
      } catch (err) {
        if (!this.stopping) this.tracker.failed(err, this.sink);
        this.metrics.counter('trailgate_consumer_sink_failures_total', 'Batches the sink failed to store (retried).', { consumer: this.sink.name });
        (this.o.log ?? console.error)(`trailgate: ${this.sink.name}: the sink failed, retrying the batch in ${wait} ms (${(err as Error).message}) [TG_SINK_RETRY]`);
        if (this.stopping) throw err;
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 10_000);
        if (this.stopping) throw err;
      }
    }
  }
}
