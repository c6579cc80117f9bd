import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditRecord } from '../../events/index.js';
import type { DeadLetter, RecordSink } from '../consumer/record-sink.js';
import { SentinelConfig } from './config.js';
import { encodeRow } from './encoder.js';
import { buildUploads, halves, type PendingRow } from './request-builder.js';
import { backoffMs, failureVerdict } from './retry.js';
import { LogsIngestionService, type IngestionService, type UploadFailure } from './service.js';

export interface SentinelSinkStats {
  /** Rows handed to the sink to deliver. */
  queued: number;
  /** Rows sent for the first time. */
  sent: number;
  /** Rows the service accepted (204 for their request). */
  acknowledged: number;
  /** Rows sent again after a throttle, an error or no answer. */
  resent: number;
  deadLettered: number;
  /** Records not sent by design, by reason. */
  skipped: Record<string, number>;
}

export interface SinkHealth {
  state: 'ok' | 'degraded' | 'stopped';
  code?: string;
  reason?: string;
}

/** The batch could not be delivered now (retries spent); the consumer delivers it again and accepted rows are not re-sent. */
export class SentinelSinkUnavailable extends Error {
  readonly code = 'TG_SENTINEL_UNAVAILABLE';
}

/** The sink stopped on a configuration error; it sends nothing until stoppedRetryMs has passed. */
export class SentinelSinkStopped extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Options = Pick<SentinelConfig, 'streams' | 'maxFieldBytes' | 'maxRowsPerUpload' | 'maxConcurrency' | 'maxAttempts' | 'initialBackoffMs' | 'maxBackoffMs' | 'stoppedRetryMs'>;

/**
 * Forwards records to Microsoft Sentinel through the Logs Ingestion API. The SDK sends a batch's
 * requests concurrently and out of order, so `write` resolves only once every row of the batch is
 * accepted or dead-lettered: the consumer's position never passes a row that is not in Sentinel.
 */
export class SentinelSink implements RecordSink {
  /** The consumer group: `sentinel` unless a second Sentinel sink needs a position of its own. */
  readonly name: string;
  readonly streams: readonly AuditRecord['stream'][];
  private readonly counters: SentinelSinkStats = { queued: 0, sent: 0, acknowledged: 0, resent: 0, deadLettered: 0, skipped: {} };
  /** Records of an unfinished batch the service already took, so a batch delivered again skips them. */
  private readonly accepted = new Set<string>();
  /** Records of an unfinished batch sent at least once, so a second sending counts as resent. */
  private readonly attempted = new Set<string>();
  private state: SinkHealth = { state: 'ok' };
  private stoppedAt = 0;
  private closing = false;
  private readonly options: Options;

  constructor(
    readonly service: IngestionService,
    options: Partial<Options> = {},
    private readonly o: { name?: string; wait?: (ms: number) => Promise<unknown>; log?: (line: string) => void } = {},
  ) {
    this.name = o.name ?? 'sentinel';
    this.options = { ...SentinelConfig.parse({ endpoint: 'https://unused.invalid', ruleId: `dcr-${'0'.repeat(32)}`, credential: { kind: 'managed-identity' } }), ...options };
    this.streams = this.options.streams;
  }

  get stats(): SentinelSinkStats {
    return { ...this.counters, skipped: { ...this.counters.skipped } };
  }

  health(): SinkHealth {
    return { ...this.state };
  }

  async write(records: readonly AuditRecord[]): Promise<{ deadLetters: DeadLetter[] }> {
    if (this.state.state === 'stopped') {
      if (Date.now() - this.stoppedAt < this.options.stoppedRetryMs) throw new SentinelSinkStopped(this.state.code!, `sentinel sink stopped: ${this.state.reason} [${this.state.code}]`);
      this.log(`trailgate: sentinel: trying again after ${this.state.code} [TG_SENTINEL_PROBE]`);
    }
    const pending: PendingRow[] = [];
    for (const record of records) {
      if (this.accepted.has(record.id)) continue;
      const encoded = encodeRow(record, this.options);
      if (encoded.kind === 'skip') {
        this.counters.skipped[encoded.reason] = (this.counters.skipped[encoded.reason] ?? 0) + 1;
        continue;
      }
      pending.push({ record, row: encoded.row });
    }
    this.counters.queued += pending.length;
    const deadLetters: DeadLetter[] = [];
    for (const upload of buildUploads(pending, this.options.maxRowsPerUpload)) deadLetters.push(...(await this.deliver(upload)));
    this.accepted.clear();
    this.attempted.clear();
    this.counters.deadLettered += deadLetters.length;
    this.state = { state: 'ok' };
    return { deadLetters };
  }

  /** Sends again at once after a stop (the role assignment or DCR was fixed) instead of waiting stoppedRetryMs. */
  resume(): void {
    if (this.state.state === 'stopped') this.stoppedAt = 0;
  }

  async close(): Promise<void> {
    this.closing = true;
  }

  /** Sends rows until each is accepted or dead; throttled and unanswered ones go again after a backoff. */
  private async deliver(rows: PendingRow[]): Promise<DeadLetter[]> {
    const deadLetters: DeadLetter[] = [];
    let outstanding = rows;
    for (let attempt = 1; outstanding.length; attempt++) {
      for (const r of outstanding) {
        if (this.attempted.has(r.record.id)) this.counters.resent++;
        else {
          this.attempted.add(r.record.id);
          this.counters.sent++;
        }
      }
      const failures = await this.service.upload(outstanding.map((r) => r.row), { maxConcurrency: this.options.maxConcurrency });
      const byId = new Map(outstanding.map((r) => [r.record.id, r]));
      const failedIds = new Set(failures.flatMap((f) => f.rows.map((row) => String(row.RecordId))));
      for (const r of outstanding) {
        if (failedIds.has(r.record.id)) continue;
        this.accepted.add(r.record.id);
        this.counters.acknowledged++;
      }
      const retry: PendingRow[] = [];
      let retryAfterMs = 0;
      let lastReason = '';
      for (const f of failures) {
        const failed = rowsOf(f, byId);
        const verdict = failureVerdict(f);
        if (verdict.kind === 'stop') this.stop(verdict.code, verdict.reason);
        if (verdict.kind === 'split') deadLetters.push(...(await this.split(failed, verdict.code, verdict.reason)));
        else {
          retry.push(...failed);
          retryAfterMs = Math.max(retryAfterMs, f.retryAfterMs ?? 0);
          lastReason = verdict.reason;
        }
      }
      outstanding = retry.sort((a, b) => rows.indexOf(a) - rows.indexOf(b));
      if (!outstanding.length) break;
      this.state = { state: 'degraded', code: 'TG_SENTINEL_RETRYING', reason: `${outstanding.length} rows not accepted yet (${lastReason})` };
      if (attempt >= this.options.maxAttempts || this.closing) {
        throw new SentinelSinkUnavailable(`Sentinel did not take ${outstanding.length} rows after ${attempt} attempts (${lastReason}); the batch will be delivered again`);
      }
      await (this.o.wait ?? sleep)(backoffMs(attempt, this.options.initialBackoffMs, this.options.maxBackoffMs, retryAfterMs));
    }
    return deadLetters;
  }

  /** Rows refused as a set are halved until the one the service refuses on its own is found and dead-lettered. */
  private async split(rows: PendingRow[], code: string, reason: string): Promise<DeadLetter[]> {
    if (rows.length === 1) {
      this.log(`trailgate: sentinel: record ${rows[0]!.record.id} refused for good, dead-lettered (${reason}) [${code}]`);
      return [{ record: rows[0]!.record, code, message: `Sentinel refused the row: ${reason}` }];
    }
    const [a, b] = halves(rows);
    return [...(await this.deliver(a)), ...(await this.deliver(b))];
  }

  private stop(code: string, reason: string): never {
    this.state = { state: 'stopped', code, reason };
    this.stoppedAt = Date.now();
    this.log(`trailgate: sentinel: sink stopped: ${reason} [${code}]`);
    throw new SentinelSinkStopped(code, `sentinel sink stopped: ${reason} [${code}]`);
  }

  private log(line: string): void {
    (this.o.log ?? console.error)(line);
  }
}

function rowsOf(f: UploadFailure, byId: Map<string, PendingRow>): PendingRow[] {
  return f.rows.map((row) => byId.get(String(row.RecordId))).filter((r): r is PendingRow => r !== undefined);
}

/** The sink `trailgate forwarder` runs for a `sentinel:` section. */
export function sentinelSinkFor(config: SentinelConfig, o: { name?: string; log?: (line: string) => void } = {}): SentinelSink {
  return new SentinelSink(new LogsIngestionService(config), config, { ...(o.name ? { name: o.name } : {}), ...(o.log ? { log: o.log } : {}) });
}
