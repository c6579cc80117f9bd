import type { Writable } from 'node:stream';

/**
 * Writes toward one socket once per turn of the event loop: the first write of a turn corks the
 * socket and a setImmediate uncorks it, so every message relayed in that turn leaves in one writev.
 * It keeps no queue of its own: write() answers as the socket does (false above its high-water
 * mark), and the caller pauses its source until the socket's 'drain', as it would without it.
 */
export class CoalescingWriter {
  private corked = false;
  /** Buffers written and writev calls made: how much the coalescing saved, for tests and profiles. */
  writes = 0;
  flushes = 0;

  constructor(private readonly socket: Writable) {}

  write(chunk: Buffer): boolean {
    if (!this.corked && !this.socket.writableEnded) {
      this.corked = true;
      this.socket.cork();
      setImmediate(this.flush);
    }
    this.writes++;
    return this.socket.write(chunk);
  }

  /** Sends what this turn wrote; end() and destroy() of the socket flush or drop it themselves. */
  readonly flush = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.flushes++;
    if (this.socket.writableCorked > 0) this.socket.uncork();
  };
}
