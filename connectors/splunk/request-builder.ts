import { gzipSync } from 'node:zlib';
import type { HecEvent } from './encoder.js';

/** Events sent in one POST, in log order. */
export interface HecBatch {
  events: HecEvent[];
  /** How many times these events went out before (0 for a first send). */
  resends: number;
}

/** The wire body of a batch: concatenated JSON envelopes (HEC does not take a JSON array), gzipped if asked. */
export function batchBody(batch: HecBatch, gzip: boolean): Buffer {
  const text = Buffer.from(batch.events.map((e) => e.line).join(''));
  return gzip ? gzipSync(text) : text;
}

/** Splits events into batches of at most maxBytes uncompressed (one event alone may be a batch). */
export function buildBatches(events: HecEvent[], maxBytes: number): HecBatch[] {
  const batches: HecBatch[] = [];
  let current: HecEvent[] = [];
  let bytes = 0;
  for (const e of events) {
    if (current.length && bytes + e.bytes > maxBytes) {
      batches.push({ events: current, resends: 0 });
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += e.bytes;
  }
  if (current.length) batches.push({ events: current, resends: 0 });
  return batches;
}

/**
 * The parts a refused batch is sent again as, to find its poison event: with Splunk's
 * invalid-event-number n, the events before n, event n alone, and the rest; else two halves.
 */
export function bisect(batch: HecBatch, invalidEventNumber: number | undefined): HecBatch[] {
  const ev = batch.events;
  const n = invalidEventNumber;
  const parts =
    n !== undefined && Number.isInteger(n) && n >= 0 && n < ev.length && ev.length > 1
      ? [ev.slice(0, n), ev.slice(n, n + 1), ev.slice(n + 1)]
      : [ev.slice(0, Math.ceil(ev.length / 2)), ev.slice(Math.ceil(ev.length / 2))];
  return parts.filter((p) => p.length).map((events) => ({ events, resends: batch.resends }));
}
