import type { FrontendMessage } from './frontend-framer.js';

/** How much a client may pipeline while its earlier commands wait (for the durable write, an approval). */
export interface InboxLimit {
  messages: number;
  bytes: number;
}

export const DEFAULT_INBOX_LIMIT: InboxLimit = { messages: 1024, bytes: 1024 * 1024 };

/**
 * The client's messages that wait for the relay. Above the limit the client socket is paused (TCP
 * pushes back on the client) instead of the queue growing; once the relay has handled what it took,
 * reading resumes. It holds at most the limit plus one socket read.
 */
export class ClientInbox {
  private queue: FrontendMessage[] = [];
  private bytes = 0;
  private paused = false;
  /** Most messages ever waiting at once, and how often reading was paused for it: for tests and metrics. */
  highWater = 0;
  pauses = 0;

  constructor(
    private readonly client: { pause(): unknown; resume(): unknown },
    /** Whether reading may resume now (false while the target pushes back). */
    private readonly mayResume: () => boolean,
    private readonly limit: InboxLimit = DEFAULT_INBOX_LIMIT,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  push(messages: FrontendMessage[]): void {
    this.queue = this.queue.length ? this.queue.concat(messages) : messages;
    for (const m of messages) this.bytes += m.raw.length;
    if (this.queue.length > this.highWater) this.highWater = this.queue.length;
    if (this.full()) {
      if (!this.paused) this.pauses++;
      this.paused = true;
      this.client.pause();
    }
  }

  /** Everything waiting, in order; the relay handles it as one batch. */
  take(): FrontendMessage[] {
    const batch = this.queue;
    this.queue = [];
    this.bytes = 0;
    return batch;
  }

  /** The relay has handled (and forwarded) what it took: reading goes on if the queue has room. */
  settled(): void {
    if (!this.paused || this.full() || !this.mayResume()) return;
    this.paused = false;
    this.client.resume();
  }

  private full(): boolean {
    return this.queue.length >= this.limit.messages || this.bytes >= this.limit.bytes;
  }
}
