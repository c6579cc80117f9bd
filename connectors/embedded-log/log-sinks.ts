import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { SessionContext } from '../../events/index.js';
import type { CanonicalData, EmbeddedLog, PendingRecord } from './embedded-log.js';
import type { WriteReply, WriteRequest } from './log-writer-thread.js';

/** Where the gateway's records go; resolves once a batch is durable. */
export interface LogSink {
  /** `canonical`: per record, the event data's hashed text where the writer has it (a sink may ignore it). */
  write(sessions: SessionContext[], records: PendingRecord[], canonical?: CanonicalData): Promise<void>;
  close(): Promise<void>;
}

// Running from TypeScript sources (tests, development) the worker needs the same loader as this thread.
const fromSource = import.meta.url.endsWith('.ts');
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.fromSource) (await import('tsx/esm/api')).register();
  await import(workerData.moduleUrl);
})().catch((err) => { setImmediate(() => { throw err; }); });
`;

/**
 * Writes batches on the calling thread: the commit blocks the event loop, but no thread hop is paid.
 * The log's WAL checkpoints, which copy every recorded byte again and fsync, run on a thread of their own.
 */
export class InlineLogSink implements LogSink {
  constructor(private readonly log: EmbeddedLog) {
    log.checkpointInBackground();
  }

  write(sessions: SessionContext[], records: PendingRecord[], canonical?: CanonicalData): Promise<void> {
    try {
      this.log.writeBatch(sessions, records, canonical);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  async close(): Promise<void> {}
}

/** Writes batches to the embedded log from a worker thread. */
export class ThreadedLogSink implements LogSink {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private failure: Error | null = null;

  constructor(file: string, synchronous: 'full' | 'normal') {
    const moduleUrl = new URL(fromSource ? './log-writer-thread.ts' : './log-writer-thread.js', import.meta.url).href;
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: { file, synchronous, moduleUrl, fromSource, port: port2 }, transferList: [port2] });
    this.port.on('message', (reply: WriteReply) => {
      // One reply settles every request up to its id: the thread commits them as one group.
      for (const [id, w] of this.waiting) {
        if (id > reply.id) break;
        this.waiting.delete(id);
        if (reply.error && id >= (reply.first ?? id)) w.reject(new Error(reply.error));
        else w.resolve();
      }
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`the log writer thread exited with code ${code}`));
    });
  }

  write(sessions: SessionContext[], records: PendingRecord[], canonical?: CanonicalData): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    // An event whose text is at hand crosses without its data object: a string clones for a fraction of an object tree.
    const sent = canonical ? records.map((r, i) => (r.stream === 'events' && canonical[i] !== undefined ? withoutData(r) : r)) : records;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.port.postMessage({ id, sessions, records: sent, ...(canonical ? { canonical } : {}) } satisfies WriteRequest);
    });
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.port.postMessage('close');
    await exited;
    this.port.close();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}

/** The record without its data object, written out field by field (a spread costs several times more per record). */
function withoutData(r: PendingRecord & { stream: 'events' }): PendingRecord {
  return { sessionId: r.sessionId, seq: r.seq, ts: r.ts, stream: 'events', type: r.type, data: undefined, prev: r.prev, hash: r.hash };
}
