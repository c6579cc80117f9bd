import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, existsSync, writeFileSync, statSync } from 'node:fs';
import { open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

/**
 * The gateway's local spool in front of Kafka: an append-only log of frames on disk.
 *
 * A frame is `u32 length | u32 CRC-32 of the payload | payload`. Frames live in segment files named by
 * the spool position of their first byte (`00000000000000000000.spool`); a position is a byte offset
 * over all segments, ever increasing. Appends are group-committed: every batch that queued while a
 * write was in progress goes out in the next write, and only then do their promises resolve. That is
 * the durable write of strict recording. With `fsync` each write is followed by one fdatasync before
 * anything resolves (survives power loss); without it a write survives a crash of the gateway, as
 * the embedded log's does, and the file is fdatasynced in the background every `syncMillis`.
 *
 * The drainer reads frames from its position, delivers them, and commits the position after delivery;
 * segments wholly below the committed position are deleted. A torn frame at the end of the last
 * segment (a crash in the middle of a write) is cut off when the spool is opened.
 */
export interface SpoolOptions {
  /** fdatasync after each group of appends, before they resolve (default true). */
  fsync?: boolean;
  /** Without `fsync`: fdatasync in the background at most this long after a write (default 1000). */
  syncMillis?: number;
  /** Roll to a new segment file after this many bytes. */
  segmentBytes?: number;
}

export interface SpoolFrame {
  payload: Buffer;
  /** Position just past this frame: the position to commit once it is delivered. */
  end: number;
}

const HEADER = 8;
const SEGMENT_SUFFIX = '.spool';
const POSITION_FILE = 'drained.pos';
const ID_FILE = 'spool.id';
/** Largest frame accepted; protects readers from a corrupted length. */
export const MAX_FRAME = 256 * 1024 * 1024;

interface Segment {
  base: number;
  file: string;
  size: number;
}

interface Pending {
  payloads: Buffer[];
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SpoolCorrupt extends Error {
  readonly code = 'TG_SPOOL_CORRUPT';
}

export class Spool {
  /** Distinguishes this spool from an earlier one in the same place (positions restart at 0 with it). */
  readonly id: string;
  private readonly segments: Segment[];
  private active: FileHandle;
  private pending: Pending[] = [];
  private writing = false;
  private closed = false;
  private readHandle: { segment: Segment; fh: FileHandle } | null = null;
  private appendListeners = new Set<() => void>();
  private beforeTrim: ((position: number) => Promise<void>) | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  /** Position up to which frames are written (and synced): readers never pass it. */
  private durableEnd: number;
  private drained: number;

  private constructor(
    readonly dir: string,
    private readonly o: Required<SpoolOptions>,
    id: string,
    segments: Segment[],
    active: FileHandle,
    drained: number,
  ) {
    this.id = id;
    this.segments = segments;
    this.active = active;
    const last = segments[segments.length - 1]!;
    this.durableEnd = last.base + last.size;
    this.drained = Math.min(Math.max(drained, segments[0]!.base), this.durableEnd);
  }

  static async open(dir: string, options: SpoolOptions = {}): Promise<Spool> {
    const o: Required<SpoolOptions> = { fsync: options.fsync ?? true, syncMillis: options.syncMillis ?? 1000, segmentBytes: options.segmentBytes ?? 64 * 1024 * 1024 };
    mkdirSync(dir, { recursive: true });
    const idFile = join(dir, ID_FILE);
    let id: string;
    if (existsSync(idFile)) id = readFileSync(idFile, 'utf8').trim();
    else {
      id = randomBytes(8).toString('hex');
      writeFileSync(idFile, `${id}\n`);
    }
    const segments: Segment[] = readdirSync(dir)
      .filter((f) => f.endsWith(SEGMENT_SUFFIX))
      .map((f) => ({ base: Number(f.slice(0, -SEGMENT_SUFFIX.length)), file: join(dir, f), size: statSync(join(dir, f)).size }))
      .filter((s) => Number.isSafeInteger(s.base))
      .sort((a, b) => a.base - b.base);
    let drained = 0;
    const posFile = join(dir, POSITION_FILE);
    if (existsSync(posFile)) drained = Number(readFileSync(posFile, 'utf8').trim()) || 0;
    if (segments.length === 0) segments.push({ base: drained, file: segmentFile(dir, drained), size: 0 });
    const last = segments[segments.length - 1]!;
    // Only the last segment can end in a torn frame; cut it back to the last whole one.
    last.size = await validLength(last.file);
    const active = await open(last.file, 'a+');
    await active.truncate(last.size);
    return new Spool(dir, o, id, segments, active, drained);
  }

  /** Bytes written but not yet drained. */
  get pendingBytes(): number {
    return this.durableEnd - this.drained;
  }

  /** Bytes the spool's files take on disk. */
  get diskBytes(): number {
    return this.segments.reduce((n, s) => n + s.size, 0);
  }

  /** Position of the oldest frame still on disk. */
  get startPosition(): number {
    return this.segments[0]!.base;
  }

  get drainedPosition(): number {
    return this.drained;
  }

  get endPosition(): number {
    return this.durableEnd;
  }

  /** Appends each payload as one frame; resolves once all of them are on disk. */
  append(payloads: Buffer[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the spool is closed'));
    for (const p of payloads) if (p.length > MAX_FRAME) return Promise.reject(new Error(`a spool frame of ${p.length} bytes is larger than ${MAX_FRAME}`));
    return new Promise((resolve, reject) => {
      this.pending.push({ payloads, resolve, reject });
      if (!this.writing) void this.writeLoop();
    });
  }

  /** Awaits `fn` before segments below a committed position are deleted: what they hold is saved elsewhere first. */
  onTrim(fn: (position: number) => Promise<void>): void {
    this.beforeTrim = fn;
  }

  /** Calls `fn` after each durable append (the drainer waits on it). */
  onAppend(fn: () => void): () => void {
    this.appendListeners.add(fn);
    return () => this.appendListeners.delete(fn);
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length) {
        const group = this.pending;
        this.pending = [];
        const segment = this.segments[this.segments.length - 1]!;
        const buffers: Buffer[] = [];
        let size = 0;
        for (const p of group) {
          for (const payload of p.payloads) {
            const header = Buffer.allocUnsafe(HEADER);
            header.writeUInt32BE(payload.length, 0);
            header.writeUInt32BE(crc32(payload), 4);
            buffers.push(header, payload);
            size += HEADER + payload.length;
          }
        }
        try {
          await writeAll(this.active, buffers, size);
          if (this.o.fsync) await this.active.datasync();
        } catch (err) {
          // Leave the file as it was before this group, so that it stays a sequence of whole frames.
          await this.active.truncate(segment.size).catch(() => undefined);
          for (const p of group) p.reject(err as Error);
          continue;
        }
        segment.size += size;
        this.durableEnd += size;
        for (const p of group) p.resolve();
        for (const fn of this.appendListeners) fn();
        this.scheduleSync();
        if (segment.size >= this.o.segmentBytes) await this.roll();
      }
    } finally {
      this.writing = false;
    }
  }

  private async roll(): Promise<void> {
    const base = this.durableEnd;
    const next = await open(segmentFile(this.dir, base), 'a+');
    const old = this.active;
    this.active = next;
    this.segments.push({ base, file: segmentFile(this.dir, base), size: 0 });
    if (!this.o.fsync) await syncQuietly(old);
    await old.close();
  }

  /** Without fsync per write: one background fdatasync a while after writes, off the appends' path. */
  private scheduleSync(): void {
    if (this.o.fsync || this.syncTimer || this.closed) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      this.syncing = syncQuietly(this.active).finally(() => (this.syncing = null));
    }, this.o.syncMillis);
    this.syncTimer.unref();
  }

  /**
   * Reads whole frames from `position` on, about `maxBytes` of them (at least one if there is one).
   * Never reads past what is durably written.
   */
  async read(position: number, maxBytes: number): Promise<SpoolFrame[]> {
    const frames: SpoolFrame[] = [];
    let pos = position;
    let budget = maxBytes;
    while (pos < this.durableEnd && (frames.length === 0 || budget > 0)) {
      const segment = this.segmentAt(pos);
      if (!segment) throw new SpoolCorrupt(`no spool segment holds position ${pos}`);
      const segEnd = segment.base + segment.size;
      if (pos >= segEnd) {
        // Exactly at the end of a segment: frames continue in the next one.
        const next = this.segments.find((s) => s.base >= segEnd && s.base > segment.base);
        if (!next) break;
        pos = next.base;
        continue;
      }
      const fh = await this.handleFor(segment);
      const limit = Math.min(segEnd, this.durableEnd);
      const want = Math.max(HEADER, Math.min(limit - pos, Math.max(budget, HEADER)));
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, pos - segment.base);
      let o = 0;
      let progressed = false;
      while (o + HEADER <= bytesRead) {
        const len = buf.readUInt32BE(o);
        const crc = buf.readUInt32BE(o + 4);
        if (len > MAX_FRAME) throw new SpoolCorrupt(`frame at spool position ${pos + o} claims ${len} bytes`);
        let payload: Buffer;
        if (o + HEADER + len <= bytesRead) payload = Buffer.from(buf.subarray(o + HEADER, o + HEADER + len));
        else if (!progressed) {
          // A frame larger than the read budget: read it whole.
          payload = Buffer.allocUnsafe(len);
          const r = await fh.read(payload, 0, len, pos - segment.base + o + HEADER);
          if (r.bytesRead !== len) throw new SpoolCorrupt(`frame at spool position ${pos + o} is cut short`);
        } else break;
        if (crc32(payload) !== crc) throw new SpoolCorrupt(`frame at spool position ${pos + o} fails its CRC (${segment.file})`);
        o += HEADER + len;
        frames.push({ payload, end: pos + o });
        budget -= HEADER + len;
        progressed = true;
        if (budget <= 0) break;
      }
      if (!progressed) throw new SpoolCorrupt(`no whole frame at spool position ${pos} (${segment.file})`);
      pos += o;
    }
    return frames;
  }

  /** Records that everything before `position` is delivered; deletes segments wholly before it. */
  async commit(position: number): Promise<void> {
    if (position < this.drained) return;
    if (position > this.durableEnd) throw new Error(`cannot commit spool position ${position} past its end ${this.durableEnd}`);
    this.drained = position;
    const tmp = join(this.dir, `${POSITION_FILE}.tmp`);
    await writeFile(tmp, `${position}\n`);
    await rename(tmp, join(this.dir, POSITION_FILE));
    if (this.beforeTrim && this.segments.length > 1 && this.segments[1]!.base <= position) await this.beforeTrim(position);
    while (this.segments.length > 1 && this.segments[1]!.base <= position) {
      const gone = this.segments.shift()!;
      if (this.readHandle?.segment === gone) {
        await this.readHandle.fh.close();
        this.readHandle = null;
      }
      await rm(gone.file, { force: true });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let queued appends finish first.
    while (this.writing || this.pending.length) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    await this.syncing;
    if (!this.o.fsync) await syncQuietly(this.active);
    await this.active.close();
    await this.readHandle?.fh.close();
    this.readHandle = null;
  }

  private segmentAt(pos: number): Segment | undefined {
    let found: Segment | undefined;
    for (const s of this.segments) {
      if (s.base <= pos) found = s;
      else break;
    }
    return found;
  }

  private async handleFor(segment: Segment): Promise<FileHandle> {
    if (this.readHandle?.segment === segment) return this.readHandle.fh;
    await this.readHandle?.fh.close();
    const fh = await open(segment.file, 'r');
    this.readHandle = { segment, fh };
    return fh;
  }
}

function segmentFile(dir: string, base: number): string {
  return join(dir, `${String(base).padStart(20, '0')}${SEGMENT_SUFFIX}`);
}

let syncFailureSaid = false;

/** A background fdatasync: its failure costs only power-loss safety, so it is said once, not thrown. */
async function syncQuietly(fh: FileHandle): Promise<void> {
  try {
    await fh.datasync();
  } catch (err) {
    if (syncFailureSaid) return;
    syncFailureSaid = true;
    console.error(`trailgate: the spool could not be fdatasynced (${(err as Error).message}); records are written but may not survive a power loss: check the spool's disk [TG_SPOOL_SYNC]`);
  }
}

async function writeAll(fh: FileHandle, buffers: Buffer[], size: number): Promise<void> {
  const { bytesWritten } = await fh.writev(buffers);
  if (bytesWritten === size) return;
  // A short write (rare on regular files): the file is in append mode, so write the rest.
  let rest = Buffer.concat(buffers).subarray(bytesWritten);
  while (rest.length) rest = rest.subarray((await fh.write(rest)).bytesWritten);
}

/** Length of the prefix of a segment file that consists of whole frames with good CRCs. */
async function validLength(file: string): Promise<number> {
  if (!existsSync(file)) return 0;
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    let pos = 0;
    const header = Buffer.allocUnsafe(HEADER);
    while (pos + HEADER <= size) {
      await fh.read(header, 0, HEADER, pos);
      const len = header.readUInt32BE(0);
      if (len > MAX_FRAME || pos + HEADER + len > size) break;
      const payload = Buffer.allocUnsafe(len);
      await fh.read(payload, 0, len, pos + HEADER);
      if (crc32(payload) !== header.readUInt32BE(4)) break;
      pos += HEADER + len;
    }
    return pos;
  } finally {
    await fh.close();
  }
}
