import { writeFileSync } from 'node:fs';
import { Consumer, type RecordSource } from '../../connectors/consumer/consumer.js';
import { EmbeddedRecordSource } from '../../connectors/embedded-log/embedded-consumer.js';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import type { SplunkConfig } from '../../connectors/splunk/config.js';
import { SplunkSink } from '../../connectors/splunk/sink.js';
import type { AuditRecord } from '../../events/index.js';
import { Metrics } from '../../services/metrics/metrics.js';
import type { HecStandIn } from '../services/hec-standin.js';
import { eventually } from './kafka-env.js';

/** Every record of every session in an embedded log, in seq order per session. */
export function loggedRecords(file: string): AuditRecord[] {
  const log = new EmbeddedLog(file, { readonly: true });
  try {
    return log.sessionIds().flatMap((id) => log.readSession(id));
  } finally {
    log.close();
  }
}

/** A Splunk sink on the stand-in, with test-sized timings; its log lines are kept for the token check. */
export function standInSink(standIn: HecStandIn, token: string, stateDir: string, o: Omit<Partial<SplunkConfig>, 'token' | 'caFile'> & { ca?: string } = {}): { sink: SplunkSink; lines: string[] } {
  const lines: string[] = [];
  const sink = new SplunkSink(
    {
      url: standIn.url,
      token,
      stateDir,
      source: 'trailgate',
      sourcetype: 'trailgate:audit',
      ack: 'required',
      gzip: false,
      maxBatchBytes: 900_000,
      maxFieldBytes: 64 * 1024,
      maxEventBytes: 1_000_000,
      ackPollMs: 200,
      // Long enough that a busy machine never resends by mistake; the lost-ack tests shorten it.
      ackTimeoutMs: 60_000,
      initialBackoffMs: 20,
      maxBackoffMs: 400,
      requestTimeoutMs: 10_000,
      stoppedRecheckMs: 60_000,
      streams: ['events', 'bytes'],
      ...o,
    },
    (l) => lines.push(l),
  );
  return { sink, lines };
}

/** What the stand-in holds, deduplicated by record id, against what the log holds. */
export interface Delivery {
  /** Record ids in the log that never reached the stand-in. */
  missing: string[];
  /** Record ids the stand-in holds more than once, with the requests that carried them. */
  duplicates: Map<string, number[]>;
  /** Ids the stand-in holds that the log does not. */
  foreign: string[];
}

export function delivery(standIn: HecStandIn, expected: AuditRecord[]): Delivery {
  const seen = new Map<string, number[]>();
  for (const r of standIn.received) {
    const id = (r.envelope.event as { id: string }).id;
    seen.set(id, [...(seen.get(id) ?? []), r.request]);
  }
  const want = new Set(expected.map((r) => r.id));
  return {
    missing: expected.map((r) => r.id).filter((id) => !seen.has(id)),
    duplicates: new Map([...seen].filter(([, reqs]) => reqs.length > 1)),
    foreign: [...seen.keys()].filter((id) => !want.has(id)),
  };
}

/** Runs one consumer until the log is forwarded (its lag is zero), then stops it. */
export async function forwardUntilCaughtUp(source: RecordSource, sink: SplunkSink, o: { done?: () => boolean; log?: (l: string) => void; ignoreLag?: boolean } = {}): Promise<Consumer> {
  const consumer = new Consumer(source, sink, new Metrics(), { retryMs: 50, log: o.log ?? (() => undefined) });
  const running = consumer.run();
  let failed: Error | null = null;
  running.catch((err: Error) => (failed = err));
  try {
    await eventually(async () => {
      if (failed) throw failed;
      return (o.done?.() ?? true) && (o.ignoreLag || (await consumer.lag()).total === 0);
    }, `the ${sink.name} consumer to catch up`, 90_000);
  } finally {
    await consumer.stop();
  }
  return consumer;
}

export function embeddedSource(file: string, consumer: string, batchSize = 100): EmbeddedRecordSource {
  return new EmbeddedRecordSource(file, { name: consumer, streams: ['events', 'bytes'] }, { batchSize });
}

/** What an analyst exports from Splunk: one forwarded event per line, duplicates and all. */
export function exportReceived(standIn: HecStandIn, file: string): void {
  writeFileSync(file, standIn.received.map((r) => JSON.stringify({ event: r.envelope.event })).join('\n') + '\n');
}

/** Whether the stand-in holds whole sessions: seq 1..n without a gap, ending in the final signed checkpoint. */
export function wholeSessions(standIn: HecStandIn): Map<string, number> {
  const bySession = new Map<string, Map<number, { type: string; data?: { final?: boolean } }>>();
  for (const r of standIn.received) {
    const e = r.envelope.event as { sessionId: string; seq: number; type: string; data?: { final?: boolean } };
    const m = bySession.get(e.sessionId) ?? new Map();
    m.set(e.seq, e);
    bySession.set(e.sessionId, m);
  }
  const whole = new Map<string, number>();
  for (const [id, m] of bySession) {
    const n = Math.max(...m.keys());
    const last = m.get(n)!;
    if (m.size === n && last.type === 'checkpoint.signed' && last.data?.final === true) whole.set(id, n);
  }
  return whole;
}
