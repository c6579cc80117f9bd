/**
 * Runs in a worker thread: owns the embedded log's write connection, so that SQLite commits never
 * block the relay's event loop. Each batch is one transaction; the reply says it is on disk.
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { EmbeddedLog, type CanonicalData, type PendingRecord } from './embedded-log.js';
import type { SessionContext } from '../../events/index.js';

export interface WriteRequest {
  id: number;
  sessions: SessionContext[];
  records: PendingRecord[];
  /** Per record: an event's data as it was hashed; such events come without their data object. */
  canonical?: CanonicalData;
}

export interface WriteReply {
  /** Every request up to and including this id is settled. */
  id: number;
  error?: string;
  /** With an error: the first request of the failed group. */
  first?: number;
}

const { file, synchronous, port } = workerData as { file: string; synchronous: 'full' | 'normal'; port: MessagePort };
const log = new EmbeddedLog(file, { synchronous });

port.on('message', (first: WriteRequest | 'close') => {
  // Group commit: every batch already queued behind this one goes into the same transaction.
  const batch: WriteRequest[] = [];
  let closing = false;
  for (let msg: WriteRequest | 'close' | undefined = first; msg !== undefined; msg = (receiveMessageOnPort(port)?.message as WriteRequest | 'close' | undefined)) {
    if (msg === 'close') closing = true;
    else batch.push(msg);
  }
  if (batch.length) write(batch);
  if (closing) {
    log.close();
    port.close();
  }
});

function write(batch: WriteRequest[]): void {
  const last = batch[batch.length - 1]!;
  try {
    const sessions = batch.flatMap((b) => b.sessions);
    const records = batch.flatMap((b) => b.records);
    const canonical = batch.flatMap((b) => b.canonical ?? new Array<undefined>(b.records.length));
    // Buffers arrive as plain Uint8Arrays after the structured clone.
    for (const r of records) {
      if (r.stream !== 'bytes' || Buffer.isBuffer(r.data)) continue;
      const u8 = r.data as Uint8Array;
      r.data = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
    }
    log.writeBatch(sessions, records, canonical);
    // Replies are in order, so acknowledging the last request acknowledges the whole group.
    port.postMessage({ id: last.id } satisfies WriteReply);
  } catch (err) {
    port.postMessage({ id: last.id, error: (err as Error).message, first: batch[0]!.id } satisfies WriteReply);
  }
}
