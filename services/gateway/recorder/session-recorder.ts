import { SCHEMA_VERSION, canonicalJson, chainedJsonOf, linkHash, type Direction, type EventDataByType, type EventType, type SessionContext } from '../../../events/index.js';
import type { PendingRecord } from '../../../connectors/embedded-log/embedded-log.js';
import { CHECKPOINT_TYP, type HeadSigner } from '../../integrity/checkpoint-signer.js';
import type { LogHeldLimitError } from './log-unwritable.js';
import type { LogWriter } from './log-writer.js';

export interface ChunkPolicy {
  /** Bytes per chunk before it is closed. */
  chunkBytes: number;
  /** Milliseconds a partly filled chunk may wait. */
  chunkMillis: number;
}

export interface CheckpointPolicy {
  signer: HeadSigner;
  /** Records between signed checkpoints. */
  every: number;
  /** Milliseconds a signed head may lag behind the newest record. */
  millis: number;
}

/** Where a session's chain continues from, when a restarted gateway closes it. */
export interface ChainHead {
  seq: number;
  hash: string;
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
 * Gives one session its sequence numbers and turns its traffic into records: events as they happen,
 * raw bytes in chunks per direction; links each record into the session's hash chain and signs the
 * head every `every` records or `millis`, and at the end.
 */
export class SessionRecorder {
  private seq: number;
  private head: string;
  private opened: boolean;
  private sinceCheckpoint = 0;
  private checkpointTimer: NodeJS.Timeout | null = null;
  /** Set by session.ended or session.aborted: only the final checkpoint may follow. */
  private ending = false;
  /** Records that arrived after the end and were dropped (a defect if ever non-zero). */
  lateRecords = 0;
  private readonly totals: Record<Direction, number> = { client: 0, server: 0 };
  /** Next offset per byte stream: a direction, and the channel where the protocol has several. */
  private readonly offsets = new Map<string, number>();
  private readonly chunks = new Map<string, OpenChunk>();
  private timer: NodeJS.Timeout | null = null;
  /** Set when the session opened while the writer held more than it may for an unwritable log: nothing of it is kept, and it may run nothing. */
  private unrecorded: LogHeldLimitError | null = null;

  constructor(
    readonly context: SessionContext,
    private readonly writer: LogWriter,
    private readonly policy: ChunkPolicy,
    private readonly checkpoints: CheckpointPolicy,
    from?: ChainHead,
  ) {
    this.seq = from?.seq ?? 0;
    this.head = from?.hash ?? '';
    this.opened = from !== undefined;
  }

  get sessionId(): string {
    return this.context.sessionId;
  }

  /** Appends an event and returns its sequence number; byte chunks carry their own offsets, so they stay open. */
  event<T extends EventType>(type: T, data: EventDataByType[T]): number {
    const last = type === 'session.ended' || type === 'session.aborted';
    if (last) this.closeChunks();
    const seq = this.append({ sessionId: this.context.sessionId, seq: 0, ts: nowIso(), stream: 'events', type, data, prev: '', hash: '' });
    if (last) this.seal();
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
      chunk = { direction, channel, stderr, parts: [], size: 0, offset: this.offsets.get(key) ?? 0, ts: nowIso() };
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
    if (this.unrecorded) return Promise.reject(this.unrecorded);
    return this.writer.durable();
  }

  /** Why this session may not send anything to its target even without waiting for the disk (async recording), or null. */
  refusal(): LogHeldLimitError | null {
    return this.unrecorded;
  }

  private closeChunk(key: string, chunk: OpenChunk): void {
    this.chunks.delete(key);
    this.ensureOpen();
    const data = chunk.parts.length === 1 ? chunk.parts[0]! : Buffer.concat(chunk.parts, chunk.size);
    const { direction, channel, offset, ts } = chunk;
    this.append({
      sessionId: this.context.sessionId,
      seq: 0,
      ts,
      stream: 'bytes',
      direction,
      ...(channel === undefined ? {} : { channel }),
      ...(chunk.stderr ? { stderr: true as const } : {}),
      offset,
      data,
      prev: '',
      hash: '',
    });
  }

  /** Gives the record its place in the chain and hands it to the writer. */
  private append(record: PendingRecord): number {
    this.ensureOpen();
    if (this.unrecorded) {
      this.writer.droppedRecords++;
      return ++this.seq;
    }
    if (this.ending && !(record.stream === 'events' && record.type === 'checkpoint.signed')) {
      // A record after the signed end would make the session fail verification; throwing here would
      // take every other session down with it. Say so loudly instead (a gateway defect, not input).
      if (this.lateRecords++ === 0) console.error(`trailgate: TG_RECORDING_LATE: session ${this.context.sessionId} produced a ${record.stream === 'events' ? record.type : 'bytes'} record after its end; it was not recorded`);
      return this.seq;
    }
    record.seq = ++this.seq;
    record.prev = this.head;
    // Serialised once: the data's canonical text is hashed inside the record's and stored as it is.
    let dataJson: string | undefined;
    if (record.stream === 'events') dataJson = canonicalJson(record.data);
    record.hash = linkHash(this.head, chainedJsonOf(SCHEMA_VERSION, record, dataJson));
    this.head = record.hash;
    this.writer.append(record, dataJson);
    if (record.stream === 'events' && record.type === 'checkpoint.signed') return record.seq;
    if (++this.sinceCheckpoint >= this.checkpoints.every) this.checkpoint(false);
    else this.checkpointTimer ??= setTimeout(() => this.checkpoint(false), this.checkpoints.millis).unref();
    return record.seq;
  }

  private seal(): void {
    this.ending = true;
    this.checkpoint(true);
  }

  /** Signs the current head; the signature is recorded as soon as it exists. */
  private checkpoint(final: boolean): void {
    if (this.unrecorded) return;
    if (this.checkpointTimer) {
      clearTimeout(this.checkpointTimer);
      this.checkpointTimer = null;
    }
    this.sinceCheckpoint = 0;
    const covers = { seq: this.seq, hash: this.head };
    const signer = this.checkpoints.signer;
    const signed = signer.sign(CHECKPOINT_TYP, { v: 1, sid: this.context.sessionId, ...covers, final }).then((jws) => {
      // A periodic signature that returns after the end is covered by the final one.
      if (this.ending && !final) return;
      this.append({ sessionId: this.context.sessionId, seq: 0, ts: nowIso(), stream: 'events', type: 'checkpoint.signed', data: { covers, kid: signer.kid, jws, final }, prev: '', hash: '' });
    });
    this.writer.track(signed);
  }

  private ensureOpen(): void {
    if (this.opened || this.unrecorded) return;
    // Past the bound a new session (a refusal: admission turns sessions away while the log refuses writes) is not kept.
    this.unrecorded = this.writer.overHeldLimit;
    if (this.unrecorded) return;
    this.opened = true;
    this.writer.openSession(this.context);
  }
}

let lastMillis = -1;
let lastIso = '';

/** The record timestamp (ISO 8601, milliseconds); formatted once per millisecond, not once per record. */
function nowIso(): string {
  const ms = Date.now();
  if (ms !== lastMillis) {
    lastMillis = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
