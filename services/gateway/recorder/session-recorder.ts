import type { Direction, EventDataByType, EventType, SessionContext } from '../../../events/index.js';
import type { LogWriter } from './log-writer.js';

export interface ChunkPolicy {
  /** Bytes per chunk before it is closed. */
  chunkBytes: number;
  /** Milliseconds a partly filled chunk may wait. */
  chunkMillis: number;
}

interface OpenChunk {
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
  private readonly offsets: Record<Direction, number> = { client: 0, server: 0 };
  private readonly chunks: Record<Direction, OpenChunk | null> = { client: null, server: null };
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
  bytes(direction: Direction, data: Buffer): void {
    if (data.length === 0) return;
    let chunk = this.chunks[direction];
    if (!chunk) {
      chunk = { parts: [], size: 0, offset: this.offsets[direction], ts: new Date().toISOString() };
      this.chunks[direction] = chunk;
      this.timer ??= setTimeout(() => this.closeChunks(), this.policy.chunkMillis);
    }
    chunk.parts.push(data);
    chunk.size += data.length;
    this.offsets[direction] += data.length;
    if (chunk.size >= this.policy.chunkBytes) this.closeChunk(direction);
  }

  get byteCounts(): Record<Direction, number> {
    return { ...this.offsets };
  }

  /** Closes open chunks; call before an event whose position relative to the bytes matters. */
  closeChunks(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.closeChunk('client');
    this.closeChunk('server');
  }

  /** Resolves when every record appended so far is on disk. */
  durable(): Promise<void> {
    return this.writer.durable();
  }

  private closeChunk(direction: Direction): void {
    const chunk = this.chunks[direction];
    if (!chunk) return;
    this.chunks[direction] = null;
    this.ensureOpen();
    const data = chunk.parts.length === 1 ? chunk.parts[0]! : Buffer.concat(chunk.parts, chunk.size);
    this.writer.append({ sessionId: this.context.sessionId, seq: ++this.seq, ts: chunk.ts, stream: 'bytes', direction, offset: chunk.offset, data });
  }

  private ensureOpen(): void {
    if (this.opened) return;
    this.opened = true;
    this.writer.openSession(this.context);
  }
}
