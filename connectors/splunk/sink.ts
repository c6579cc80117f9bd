import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditRecord } from '../../events/index.js';
import type { DeadLetter, RecordSink } from '../consumer/record-sink.js';
import { persistedChannel } from './channel.js';
import { SPLUNK_SINK_NAME, type SplunkSinkOptions } from './config.js';
import { encodeEvent, type HecEvent } from './encoder.js';
import { batchBody, bisect, buildBatches, type HecBatch } from './request-builder.js';
import { backoffMs, hecVerdict } from './retry.js';
import { HecService, HecTransportError, type HecAnswer } from './service.js';

export interface SplunkSinkStats {
  /** Events handed to the sink and not yet acknowledged (or dead-lettered). */
  queued: number;
  /** Events posted, counting every resend. */
  sent: number;
  /** Events Splunk acknowledged as indexed (with ack off: accepted with HTTP 200). */
  acknowledged: number;
  /** Events sent again after their first copy may have arrived (an ack lost or forgotten, a connection that broke): possible duplicates in Splunk. A retry after 503 or 429 is not counted: Splunk refused that copy. */
  resent: number;
  deadLettered: number;
}

export interface SinkHealth {
  state: 'ok' | 'degraded' | 'stopped';
  code?: string;
  reason?: string;
}

/** The sink stopped on a configuration error; `write` rejects with it until the recheck succeeds. */
export class SplunkSinkStopped extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface InFlight {
  ackId: number;
  batch: HecBatch;
  sentAt: number;
}

/**
 * Forwards records to a Splunk HTTP Event Collector with indexer acknowledgement. `write` resolves
 * only when Splunk has acknowledged every event of the batch (or, with ack off, accepted it), so the
 * consumer's position moves only over what Splunk holds; a batch whose ack is lost or forgotten is
 * sent again after ackTimeoutMs. At-least-once: every event carries its record id and seq, so
 * duplicates are visible and removable (`dedup id` in SPL).
 */
export class SplunkSink implements RecordSink {
  readonly name = SPLUNK_SINK_NAME;
  readonly streams: readonly AuditRecord['stream'][];
  readonly service: HecService;
  private readonly counters: Omit<SplunkSinkStats, 'queued'> = { sent: 0, acknowledged: 0, resent: 0, deadLettered: 0 };
  private queued = 0;
  private state: SinkHealth = { state: 'ok' };
  /** ack: auto falls back to off when the token has no indexer acknowledgement. */
  private ackMode: 'required' | 'auto' | 'off';
  private closing = new AbortController();

  constructor(
    private readonly o: SplunkSinkOptions,
    private readonly log: (line: string) => void = (l) => console.error(l),
  ) {
    this.streams = o.streams;
    this.ackMode = o.ack;
    this.service = new HecService({ url: o.url, token: o.token, channel: persistedChannel(o.stateDir), ...(o.ca ? { ca: o.ca } : {}), timeoutMs: o.requestTimeoutMs });
  }

  get stats(): SplunkSinkStats {
    return { queued: this.queued, ...this.counters };
  }

  health(): SinkHealth {
    return { ...this.state };
  }

  async write(records: readonly AuditRecord[]): Promise<{ deadLetters: DeadLetter[] }> {
    if (this.state.state === 'stopped') {
      // Stopped on a configuration error: try again rarely, never in a loop.
      await this.wait(this.o.stoppedRecheckMs);
    }
    const deadLetters: DeadLetter[] = [];
    const events: HecEvent[] = [];
    for (const record of records) {
      if (!this.streams.includes(record.stream)) continue;
      const encoded = encodeEvent(record, this.o);
      if (encoded.kind === 'too-large') deadLetters.push({ record, code: 'TG_SPLUNK_EVENT_TOO_LARGE', message: `the event is ${encoded.bytes} bytes after cutting its fields to ${this.o.maxFieldBytes} bytes; splunk.maxEventBytes is ${this.o.maxEventBytes}` });
      else events.push(encoded.event);
    }
    this.queued += events.length;
    let settled = 0;
    const settle = (n: number) => {
      settled += n;
      this.queued -= n;
    };
    try {
      const queue = buildBatches(events, this.o.maxBatchBytes);
      const inflight: InFlight[] = [];
      let polls = 0;
      while (queue.length || inflight.length) {
        while (queue.length) {
          const batch = queue.shift()!;
          const outcome = await this.post(batch);
          if (outcome.kind === 'in-flight') inflight.push({ ackId: outcome.ackId, batch, sentAt: Date.now() });
          else if (outcome.kind === 'accepted') {
            this.counters.acknowledged += batch.events.length;
            settle(batch.events.length);
          } else if (outcome.kind === 'dead') {
            deadLetters.push(outcome.letter);
            settle(1);
          } else queue.unshift(...outcome.parts);
        }
        if (inflight.length) {
          await this.wait(Math.min(this.o.ackPollMs, 50 * 2 ** Math.min(polls++, 10)));
          const again = await this.pollAcks(inflight, settle);
          queue.push(...again);
        }
      }
      this.counters.deadLettered += deadLetters.length;
      if (this.state.state !== 'ok') this.state = { state: 'ok' };
      return { deadLetters };
    } finally {
      // What is not settled goes back to the log's position and comes again.
      this.queued -= events.length - settled;
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.service.close();
  }

  /** Posts one batch until Splunk takes it, refuses part of it, or says the configuration is wrong. */
  private async post(batch: HecBatch): Promise<{ kind: 'in-flight'; ackId: number } | { kind: 'accepted' } | { kind: 'dead'; letter: DeadLetter } | { kind: 'split'; parts: HecBatch[] }> {
    for (let attempt = 1; ; attempt++) {
      this.counters.sent += batch.events.length;
      let answer: HecAnswer;
      try {
        answer = await this.service.sendEvents(batchBody(batch, this.o.gzip), this.o.gzip);
      } catch (err) {
        if (!(err instanceof HecTransportError)) throw err;
        // The body may have arrived before the connection broke: the resend can be a duplicate.
        this.counters.resent += batch.events.length;
        await this.retryLater(attempt, 'TG_SPLUNK_UNREACHABLE', err.message);
        continue;
      }
      const verdict = hecVerdict(answer);
      switch (verdict.kind) {
        case 'ok':
          if (answer.ackId !== undefined && this.ackMode !== 'off') return { kind: 'in-flight', ackId: answer.ackId };
          if (this.ackMode === 'required') this.stop('TG_SPLUNK_ACK_DISABLED', 'Splunk accepted the batch without an ackId: the HEC token has indexer acknowledgement off; turn useACK on for the token, or set splunk.ack to auto or off (weaker: accepted is not indexed)');
          return { kind: 'accepted' };
        case 'retry':
          await this.retryLater(attempt, 'TG_SPLUNK_BUSY', verdict.reason, answer.retryAfterMs);
          continue;
        case 'too-large':
          if (batch.events.length === 1) return { kind: 'dead', letter: { record: batch.events[0]!.record, code: 'TG_SPLUNK_EVENT_TOO_LARGE', message: `Splunk refused a request holding only this event as too large (${verdict.reason}); raise max_content_length or lower splunk.maxEventBytes` } };
          return { kind: 'split', parts: bisect(batch, undefined) };
        case 'poison':
          if (batch.events.length === 1) {
            this.log(`trailgate: splunk: event ${batch.events[0]!.record.id} refused for good (${verdict.reason}); it goes to the dead letters [TG_SPLUNK_EVENT_REJECTED]`);
            return { kind: 'dead', letter: { record: batch.events[0]!.record, code: 'TG_SPLUNK_EVENT_REJECTED', message: `Splunk refused the event: ${verdict.reason}` } };
          }
          return { kind: 'split', parts: bisect(batch, answer.invalidEventNumber) };
        case 'ack-disabled':
          if (this.ackMode === 'auto') {
            this.ackMode = 'off';
            this.log('trailgate: splunk: the HEC token has indexer acknowledgement off; with splunk.ack auto, HTTP 200 now counts as delivered (accepted, not proven indexed) [TG_SPLUNK_ACK_DISABLED]');
            continue;
          }
          this.stop('TG_SPLUNK_ACK_DISABLED', `${verdict.reason}: turn useACK on for the token, or set splunk.ack to auto or off`);
          break;
        case 'fatal':
          this.stop(verdict.code, verdict.reason);
      }
    }
  }

  /** Asks Splunk which batches are indexed; returns the batches to send again (ack timed out or channel forgotten). */
  private async pollAcks(inflight: InFlight[], settle: (n: number) => void): Promise<HecBatch[]> {
    let answer: HecAnswer | null = null;
    try {
      answer = await this.service.queryAcks(inflight.map((f) => f.ackId));
    } catch (err) {
      if (!(err instanceof HecTransportError)) throw err;
      this.degrade('TG_SPLUNK_UNREACHABLE', err.message);
    }
    const again: HecBatch[] = [];
    if (answer) {
      const verdict = hecVerdict(answer);
      if (verdict.kind === 'ack-disabled') {
        this.stop('TG_SPLUNK_ACK_DISABLED', `${verdict.reason}: the token gave ackIds but refuses ack queries; check its useACK setting`);
      } else if (verdict.kind === 'fatal' && (answer.code === 10 || answer.code === 11)) {
        // Splunk no longer knows the channel (idle cleanup, restart): nothing pending on it will be acked.
        this.log(`trailgate: splunk: Splunk forgot channel ${this.service.channel} (${verdict.reason}); sending ${inflight.length} unacknowledged batch(es) again [TG_SPLUNK_CHANNEL_FORGOTTEN]`);
        for (const f of inflight.splice(0)) {
          this.counters.resent += f.batch.events.length;
          again.push({ events: f.batch.events, resends: f.batch.resends + 1 });
        }
        return again;
      } else if (verdict.kind === 'fatal') this.stop(verdict.code, verdict.reason);
      else if (verdict.kind !== 'ok') this.degrade('TG_SPLUNK_BUSY', `ack query: ${verdict.reason}`);
    }
    const acks = answer?.acks ?? {};
    const now = Date.now();
    for (let i = inflight.length - 1; i >= 0; i--) {
      const f = inflight[i]!;
      if (acks[String(f.ackId)] === true) {
        this.counters.acknowledged += f.batch.events.length;
        settle(f.batch.events.length);
        inflight.splice(i, 1);
      } else if (now - f.sentAt >= this.o.ackTimeoutMs) {
        this.log(`trailgate: splunk: no ack for ackId ${f.ackId} (${f.batch.events.length} events) after ${this.o.ackTimeoutMs} ms; sending them again (possible duplicates, removable by record id) [TG_SPLUNK_ACK_TIMEOUT]`);
        inflight.splice(i, 1);
        this.counters.resent += f.batch.events.length;
        again.unshift({ events: f.batch.events, resends: f.batch.resends + 1 });
      }
    }
    return again;
  }

  private async retryLater(attempt: number, code: string, reason: string, retryAfterMs?: number): Promise<void> {
    this.degrade(code, reason);
    const ms = backoffMs(attempt, this.o.initialBackoffMs, this.o.maxBackoffMs, retryAfterMs);
    if (attempt === 1 || attempt % 10 === 0) this.log(`trailgate: splunk: ${reason}; trying again in ${ms} ms (attempt ${attempt}) [${code}]`);
    await this.wait(ms);
  }

  private degrade(code: string, reason: string): void {
    this.state = { state: 'degraded', code, reason };
  }

  private stop(code: string, reason: string): never {
    this.state = { state: 'stopped', code, reason };
    this.log(`trailgate: splunk: the sink stopped: ${reason}; it tries again every ${this.o.stoppedRecheckMs} ms [${code}]`);
    throw new SplunkSinkStopped(code, `the Splunk sink stopped: ${reason} [${code}]`);
  }

  private async wait(ms: number): Promise<void> {
    if (this.closing.signal.aborted) throw new SplunkSinkStopped('TG_SPLUNK_CLOSED', 'the Splunk sink is closing');
    await sleep(ms, undefined, { signal: this.closing.signal }).catch(() => {
      throw new SplunkSinkStopped('TG_SPLUNK_CLOSED', 'the Splunk sink is closing');
    });
  }
}
