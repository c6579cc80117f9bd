import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** SQLite's own autocheckpoint threshold, in WAL pages: the same cadence, on another thread. */
export const CHECKPOINT_PAGES = 1000;
const PAGE_BYTES = 4096;
/** What one commit writes besides its payload: the table's and the index's leaf pages, the sequence row. */
const PAGES_PER_COMMIT = 3;
/**
 * A WAL restarts from its start only once a checkpoint has caught up with every frame, which one that
 * runs beside a writer that never pauses does not: past this many frames the writer's own connection
 * copies the rest (about one checkpoint's worth) so the file stays bounded during a long transfer.
 */
export const CATCH_UP_FRAMES = 8192;
/** How long close() waits for the thread to let go of the file (a checkpoint in progress finishes first). */
const CLOSE_WAIT_MS = 10_000;

// Plain JavaScript on purpose: the thread needs nothing but better-sqlite3, from sources or from dist/ alike.
const CHECKPOINT_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const closed = new Int32Array(workerData.closed);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('synchronous = ' + workerData.synchronous);
db.pragma('busy_timeout = 5000');
parentPort.on('message', (m) => {
  if (m === 'close') {
    try {
      db.close();
    } finally {
      Atomics.store(closed, 0, 1);
      Atomics.notify(closed, 0);
      parentPort.close();
    }
    return;
  }
  try {
    const row = db.pragma('wal_checkpoint(PASSIVE)')[0];
    parentPort.postMessage({ frames: row ? row.log : 0 });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
});
`;

/**
 * Runs the WAL checkpoints of a log whose writer commits on the event loop: copying the WAL's pages
 * into the database file and the two fsyncs around it (synchronous=NORMAL syncs at checkpoints)
 * happen on a thread of their own, so a relay recording a bulk transfer is not stalled by them every
 * 4 MiB. PASSIVE checkpoints never block the writer; one runs at a time.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  /** Set to 1 by the thread once its connection is closed. */
  private readonly threadClosed = new Int32Array(new SharedArrayBuffer(4));
  private pages = 0;
  private running = false;
  private pending = false;
  private closed = false;

  constructor(
    file: string,
    synchronous: 'full' | 'normal',
    /** Called once if the thread fails: the caller checkpoints on its own again. */
    private readonly onFailure: (err: Error) => void,
    /** Called when the WAL has grown past CATCH_UP_FRAMES: the writer checkpoints the rest itself. */
    private readonly catchUp: () => void,
  ) {
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(CHECKPOINT_THREAD, { eval: true, workerData: { file, synchronous, sqlite, closed: this.threadClosed.buffer } });
    this.worker.unref();
    this.worker.on('message', (reply: { error?: string; frames?: number }) => {
      this.running = false;
      if (reply.error) console.error(`trailgate: TG_LOG_CHECKPOINT: a WAL checkpoint failed (${reply.error}); the next one tries again`);
      if (!this.closed && (reply.frames ?? 0) >= CATCH_UP_FRAMES) this.catchUp();
      if (this.pending) this.start();
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`the checkpoint thread exited with code ${code}`));
    });
  }

  /** Counts a committed batch; asks for a checkpoint once about CHECKPOINT_PAGES have gone into the WAL. */
  committed(payloadBytes: number): void {
    if (this.closed) return;
    this.pages += PAGES_PER_COMMIT + payloadBytes / PAGE_BYTES;
    if (this.pages < CHECKPOINT_PAGES) return;
    this.pages = 0;
    if (this.running) this.pending = true;
    else this.start();
  }

  /**
   * Waits (blocking, as the log's own close does) until the thread has closed its connection, so that
   * the writer's connection closes last: SQLite then checkpoints the whole WAL into the database file
   * and removes it, and a clean stop leaves one self-contained file to copy or back up.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.postMessage('close');
    if (Atomics.wait(this.threadClosed, 0, 0, CLOSE_WAIT_MS) === 'timed-out') {
      console.error(`trailgate: TG_LOG_CHECKPOINT: the checkpoint thread did not close within ${CLOSE_WAIT_MS / 1000} s; the WAL stays beside the database file and is replayed at the next open`);
    }
  }

  private start(): void {
    this.pending = false;
    this.running = true;
    this.worker.postMessage('checkpoint');
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.onFailure(err);
  }
}
