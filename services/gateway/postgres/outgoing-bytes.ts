// Rewritten messages toward the client, written one after another into a shared slab: a chunk of masked rows leaves
// as one buffer (one socket write, one recorded part) instead of a buffer per row, and no row allocates its own.
const SLAB = 64 * 1024;
const NONE = Buffer.alloc(0);

export class OutgoingBytes {
  /** Where the next bytes go: `buf[at]` onward. Bytes before `taken` were handed out and are never written again. */
  buf: Buffer = NONE;
  at = 0;
  private taken = 0;
  /** The pieces list and the unchanged bytes `data[from, to)` that must go out before anything written next. */
  private out: Buffer[] | null = null;
  private data: Buffer = NONE;
  private from = 0;
  private to = 0;

  /**
   * Says that `data[from, to)` passes unchanged and comes before whatever is written next (nothing is copied), and
   * that finished pieces go to `out`.
   */
  before(out: Buffer[], data: Buffer, from: number, to: number): void {
    this.out = out;
    this.data = data;
    this.from = from;
    this.to = to;
  }

  /** Room for `n` more bytes at `at`: what was written before and the unchanged bytes go to the pieces list first. */
  reserve(n: number): Buffer {
    const out = this.out;
    if (out !== null && this.to > this.from) {
      this.takeInto(out);
      out.push(this.data.subarray(this.from, this.to));
      this.from = this.to;
    }
    if (this.at + n > this.buf.length) {
      // A new slab. What this one holds and was not taken yet goes out as it is (no copy) when there is a pieces
      // list to put it in; a lone row being rewritten (no list) moves with the new slab.
      if (out !== null) this.takeInto(out);
      const pending = this.at - this.taken;
      const next = Buffer.allocUnsafe(Math.max(SLAB, n + pending));
      if (pending > 0) this.buf.copy(next, 0, this.taken, this.at);
      this.buf = next;
      this.taken = 0;
      this.at = pending;
    }
    return this.buf;
  }

  /** Appends a whole buffer. */
  append(b: Buffer): void {
    this.reserve(b.length);
    b.copy(this.buf, this.at);
    this.at += b.length;
  }

  /** Moves what was written since the last take to `out`, as one buffer that is never written again. */
  takeInto(out: Buffer[]): void {
    if (this.at > this.taken) {
      out.push(this.buf.subarray(this.taken, this.at));
      this.taken = this.at;
    }
  }

  /** What was written since the last take, or undefined. */
  take(): Buffer | undefined {
    if (this.at === this.taken) return undefined;
    const b = this.buf.subarray(this.taken, this.at);
    this.taken = this.at;
    return b;
  }
}
