import type { ServerChannel } from 'ssh2';

/** ssh2's bookkeeping for a write that waits for window space (Channel.js, server.js WINDOW_ADJUST). */
interface PendingWrite {
  _chunk?: Buffer;
  _chunkcb?: () => void;
  _chunkErr?: Buffer;
  _chunkcbErr?: () => void;
}

const EMPTY = Buffer.alloc(0);

/**
 * A session channel's output toward the client, stdout and stderr, in the order the target produced it.
 *
 * ssh2 1.x keeps the last write that had to wait for window space in `_chunk` (stdout) or `_chunkErr`
 * (stderr) and never clears it; a window adjustment re-sends `_chunk` if it is set before it looks at
 * `_chunkErr`. So once stdout has waited for window, a stderr write that waits too is never sent (and
 * stale stdout goes out twice). Plain stdout goes straight to the channel; a stderr write first lets
 * stdout drain, clears ssh2's leftover, and then everything goes one write at a time until the queue
 * is empty again: a window adjustment then always finds the one write that waits.
 */
export class ClientOutput {
  private readonly queue: { data: Buffer; stderr: boolean }[] = [];
  private queued = 0;
  /** True from the first stderr write until the queue behind it is empty. */
  private serial = false;
  private blocked = false;
  private closed = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly channel: ServerChannel,
    /** Called when output that asked the producer to pause has room again. */
    private readonly onRoom: () => void,
    private readonly highWater = 2 * 1024 * 1024,
  ) {
    channel.on('drain', onRoom);
    channel.once('close', () => {
      this.closed = true;
      this.queue.length = 0;
      this.settle();
    });
  }

  /** Sends or queues bytes; false asks the producer to pause until onRoom. */
  write(data: Buffer, stderr = false): boolean {
    if (this.closed || data.length === 0) return true;
    if (!this.serial && !stderr) return this.channel.write(data);
    this.queue.push({ data, stderr });
    this.queued += data.length;
    if (!this.serial) {
      this.serial = true;
      // Everything already on stdout goes out first; then ssh2's leftover of it is cleared.
      this.channel.write(EMPTY, () => {
        this.forget(false);
        this.pump();
      });
    }
    if (this.queued >= this.highWater) this.blocked = true;
    return !this.blocked;
  }

  /** Resolves once everything written so far is handed to the connection (or the channel closed). */
  flushed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle.push(resolve);
      if (!this.serial) this.settle();
    });
  }

  private pump(): void {
    if (this.closed) return;
    const next = this.queue.shift();
    if (!next) {
      this.serial = false;
      if (this.blocked) {
        this.blocked = false;
        this.onRoom();
      }
      this.settle();
      return;
    }
    const stream = next.stderr ? this.channel.stderr : this.channel;
    stream.write(next.data, () => {
      this.forget(next.stderr);
      this.queued -= next.data.length;
      if (this.blocked && this.queued < this.highWater / 2) {
        this.blocked = false;
        this.onRoom();
      }
      this.pump();
    });
  }

  /** Clears what ssh2 keeps of a finished write, so no window adjustment sends it again. */
  private forget(stderr: boolean): void {
    const pending = this.channel as unknown as PendingWrite;
    if (stderr) {
      pending._chunkErr = undefined;
      pending._chunkcbErr = undefined;
    } else {
      pending._chunk = undefined;
      pending._chunkcb = undefined;
    }
  }

  /** Resolves the flush waiters once stdout, too, has gone out. */
  private settle(): void {
    const waiters = this.idle.splice(0);
    if (waiters.length === 0) return;
    if (this.closed) {
      for (const resolve of waiters) resolve();
      return;
    }
    this.channel.write(EMPTY, () => {
      for (const resolve of waiters) resolve();
    });
  }
}
