import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordSink } from '../../connectors/consumer/record-sink.js';
import type { AuditRecord } from '../../events/index.js';
import type { DeadLetterPlace } from './dead-letters.js';

export interface DeliveryOptions {
  batchSize: number;
  /** Pause before a batch the sink rejected (cluster down, throttled past its retries) is delivered again. */
  redeliveryDelayMs: number;
  /** Give up (and reject) when one batch has not gone through for this long. */
  giveUpAfterMs: number;
  deadLetters: DeadLetterPlace;
  /** Told about each redelivery, for logs and tests. */
  onRedelivery?: (err: Error, attempt: number) => void;
}

export interface DeliveryReport {
  records: number;
  batches: number;
  redeliveries: number;
  deadLetters: number;
}

/**
 * Hands records to a sink in batches, as the consumer framework will: a batch counts only when
 * `write` resolves (its dead letters put away); a rejected batch is delivered again, whole.
 */
export async function deliver(sink: RecordSink, records: readonly AuditRecord[], o: DeliveryOptions): Promise<DeliveryReport> {
  const report: DeliveryReport = { records: 0, batches: 0, redeliveries: 0, deadLetters: 0 };
  const wanted = records.filter((r) => sink.streams.includes(r.stream));
  for (let i = 0; i < wanted.length; i += o.batchSize) {
    const batch = wanted.slice(i, i + o.batchSize);
    const since = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const { deadLetters } = await sink.write(batch);
        await o.deadLetters.put(sink.name, deadLetters);
        report.deadLetters += deadLetters.length;
        break;
      } catch (err) {
        if (Date.now() - since >= o.giveUpAfterMs) throw err;
        report.redeliveries++;
        o.onRedelivery?.(err as Error, attempt);
        await sleep(o.redeliveryDelayMs);
      }
    }
    report.batches++;
    report.records += batch.length;
  }
  return report;
}
