import type { ServerChannel } from 'ssh2';

/** ssh2's bookkeeping for a write that waits for window space (Channel.js, server.js WINDOW_ADJUST). */
interface PendingWrite {
  _chunk?: Buffer;
  _chunkcb?: () => void;
  _chunkErr?: Buffer;
  _chunkcbErr?: () => void;
}

/**
 * A session channel's output toward the client, stdout and stderr, written one write at a time in
 * the order the target produced them.
 *
 * Why one at a time: ssh2 1.x keeps the last write that had to wait for window space in `_chunk`
 * (stdout) or `_chunkErr` (stderr) and never clears it; the next window adjustment re-sends `_chunk`
 * if it is set, before looking at `_chunkErr`. With both streams busy a stderr write then waits
 * forever (or stale stdout is sent twice). Here no two writes are ever in flight, and a finished
 * write's leftovers are cleared, so a window adjustment always finds the one write that waits.
 */
export class ClientOutput {
  private readonly queue: { data: Buffer; stderr: boolean }[] = [];
  private queued = 0;
  private writing = false;
  private blocked = false;
  private closed = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly channel: ServerChannel,
    /** Called when the queue, after being full, has room again. */
    private readonly onRoom: () => void,
    private readonly highWater = 1024 * 1024,
  ) {
    channel.once('close', () => {
      this.closed = true;
      this.queue.length = 0;
      for (const resolve of this.idle.splice(0)) resolve();
    });
  }

  /** Queues bytes; false asks the producer to pause until onRoom. */
  write(data: Buffer, stderr = false): boolean {
    if (this.closed || data.length === 0) return true;
    this.queue.push({ data, stderr });
    this.queued += data.length;
    this.pump();
    if (this.queued >= this.highWater) this.blocked = true;
    return !this.blocked;
  }

  /** Resolves once everything queued so far is handed to the connection (or the channel closed). */
  flushed(): Promise<void> {
    if (this.closed || (!this.writing && this.queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    if (this.writing || this.closed) return;
    const next = this.queue.shift();
    if (!next) {
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    this.writing = true;
    const stream = next.stderr ? this.channel.stderr : this.channel;
    stream.write(next.data, () => {
      const pending = this.channel as unknown as PendingWrite;
      if (next.stderr) {
        pending._chunkErr = undefined;
        pending._chunkcbErr = undefined;
      } else {
        pending._chunk = undefined;
        pending._chunkcb = undefined;
      }
      this.writing = false;
      this.queued -= next.data.length;
      if (this.blocked && this.queued < this.highWater / 2) {
        this.blocked = false;
        this.onRoom();
      }
      this.pump();
    });
  }
}
