import type { Direction, EventDataByType, EventType, SessionContext } from '../../../events/index.js';
import type { LogWriter } from './log-writer.js';

export interface ChunkPolicy {
  /** Bytes per chunk before it is closed. */
  chunkBytes: number;
  /** Milliseconds a partly filled chunk may wait. */
  chunkMillis: number;
}

/** How one call's bytes are kept (SSH). */
export interface ByteOptions {
  /** The channel's stderr (SSH extended data): a byte stream of its own, with its own offsets. */
  stderr?: boolean;
  /**
   * Closes the bytes into a record of their own, stamped now, instead of joining an open chunk:
   * terminal output, whose replay needs each write's time and its order against resizes.
   */
  timed?: boolean;
}

interface OpenChunk {
  direction: Direction;
  channel: number | undefined;
  stderr: boolean;
  parts: Buffer[];
  size: number;
  offset: number;
  ts: string;
}

/**
 * Gives one session its sequence numbers and turns its traffic into records:
 * events as they happen, raw bytes in chunks per direction.
 */
export class SessionRecorder {
  private seq = 0;
  private opened = false;
  private readonly totals: Record<Direction, number> = { client: 0, server: 0 };
  /** Next offset per byte stream: a direction, and the channel where the protocol has several. */
  private readonly offsets = new Map<string, number>();
  private readonly chunks = new Map<string, OpenChunk>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly context: SessionContext,
    private readonly writer: LogWriter,
    private readonly policy: ChunkPolicy,
  ) {}

  get sessionId(): string {
    return this.context.sessionId;
  }

  /** Appends an event and returns its sequence number; byte chunks carry their own offsets, so they stay open. */
  event<T extends EventType>(type: T, data: EventDataByType[T]): number {
    this.ensureOpen();
    const seq = ++this.seq;
    this.writer.append({ sessionId: this.context.sessionId, seq, ts: new Date().toISOString(), stream: 'events', type, data });
    return seq;
  }

  /** Records raw bytes; the buffer must not be reused by the caller (socket chunks are not). */
  bytes(direction: Direction, data: Buffer, channel?: number, o: ByteOptions = {}): void {
    if (data.length === 0) return;
    const stderr = o.stderr === true;
    const key = channel === undefined ? direction : `${direction}:${channel}${stderr ? ':stderr' : ''}`;
    let chunk = this.chunks.get(key);
    if (chunk && o.timed) {
      this.closeChunk(key, chunk);
      chunk = undefined;
    }
    if (!chunk) {
      chunk = { direction, channel, stderr, parts: [], size: 0, offset: this.offsets.get(key) ?? 0, ts: new Date().toISOString() };
      this.chunks.set(key, chunk);
      if (!o.timed) this.timer ??= setTimeout(() => this.closeChunks(), this.policy.chunkMillis);
    }
    chunk.parts.push(data);
    chunk.size += data.length;
    this.offsets.set(key, chunk.offset + chunk.size);
    this.totals[direction] += data.length;
    if (o.timed || chunk.size >= this.policy.chunkBytes) this.closeChunk(key, chunk);
  }

  /** Bytes recorded per direction, over all channels. */
  get byteCounts(): Record<Direction, number> {
    return { ...this.totals };
  }

  /** Closes open chunks; call before an event whose position relative to the bytes matters. */
  closeChunks(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    for (const [key, chunk] of this.chunks) this.closeChunk(key, chunk);
  }

  /** Resolves when every record appended so far is on disk. */
  durable(): Promise<void> {
    return this.writer.durable();
  }

  private closeChunk(key: string, chunk: OpenChunk): void {
    this.chunks.delete(key);
    this.ensureOpen();
    const data = chunk.parts.length === 1 ? chunk.parts[0]! : Buffer.concat(chunk.parts, chunk.size);
    const { direction, channel, offset, ts } = chunk;
    this.writer.append({
      sessionId: this.context.sessionId,
      seq: ++this.seq,
      ts,
      stream: 'bytes',
      direction,
      ...(channel === undefined ? {} : { channel }),
      ...(chunk.stderr ? { stderr: true as const } : {}),
      offset,
      data,
    });
  }

  private ensureOpen(): void {
    if (this.opened) return;
    this.opened = true;
    this.writer.openSession(this.context);
  }
}
