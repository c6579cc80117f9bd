import { OutgoingBytes } from './outgoing-bytes.js';
import { Be, ProtocolError } from './protocol.js';

export interface BackendMessageHandler {
  /** A complete buffered message; return a buffer to send the client instead of it. */
  message(type: number, body: Buffer): Buffer | undefined;
  /** A streamed message (rows, copy data): only its type and size are seen, its bytes pass through. */
  streamed(type: number, bodyLength: number): void;
  /** Whether a message of a streamed type must be assembled and given to `message` instead (rows being masked). */
  wantsWhole?(type: number): boolean;
  /**
   * A whole message `wantsWhole` asked for, `data[start, end)` its body: written, rewritten, into `out` (after
   * `out.reserve`), or nothing written and false when it goes to the client as it came. Where a handler has this,
   * the framer calls it instead of `message` for those messages, so rows being masked share one outgoing buffer.
   */
  rewrite?(type: number, data: Buffer, start: number, end: number, out: OutgoingBytes): boolean;
}

/** Messages that can be large and need no inspection: forwarded as they arrive, never assembled. */
const STREAMED = new Set<number>([Be.DataRow, Be.CopyData]);

/**
 * Frames the target's byte stream while forwarding it: returns the buffers to write to the client.
 * Complete chunks pass through as one slice; only a message the handler replaces is rebuilt.
 */
export class BackendFramer {
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Full size of the held message once its header is known, so it is assembled once, not per chunk. */
  private heldNeed = 0;
  /** Bytes still to pass through of a streamed message. */
  private skipping = 0;
  /** Rewritten messages of the current chunk, written back to back. */
  private readonly outgoing = new OutgoingBytes();

  constructor(private readonly handler: BackendMessageHandler) {}

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let data = chunk;
    let offset = 0;
    // Start of the bytes that pass through unchanged; the rest of a streamed message is among them.
    let passStart = 0;

    if (this.skipping > 0) {
      const n = Math.min(this.skipping, data.length);
      this.skipping -= n;
      offset = n;
    } else if (this.heldBytes > 0) {
      // Finish the held message header or body before looking at the rest of the chunk.
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes < 5 || this.heldBytes < this.heldNeed) return out;
      this.heldNeed = 0;
      const head = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes);
      const type = head[0]!;
      const total = messageSize(head, 0);
      if (STREAMED.has(type) && !this.handler.wantsWhole?.(type)) {
        this.held = [];
        this.heldBytes = 0;
        this.handler.streamed(type, total - 5);
        out.push(head.subarray(0, Math.min(total, head.length)));
        if (head.length < total) {
          this.skipping = total - head.length;
          return out;
        }
        data = head;
        offset = total;
        passStart = total;
      } else {
        if (head.length < total) {
          this.held = [head];
          this.heldNeed = total;
          return out;
        }
        this.held = [];
        this.heldBytes = 0;
        if (this.handler.rewrite && STREAMED.has(type)) {
          this.outgoing.before(out, head, 0, 0);
          if (!this.handler.rewrite(type, head, 5, total, this.outgoing)) out.push(head.subarray(0, total));
        } else {
          const replacement = this.handler.message(type, head.subarray(5, total));
          out.push(replacement ?? head.subarray(0, total));
        }
        data = head;
        offset = total;
        passStart = total;
      }
    }

    while (offset < data.length) {
      if (data.length - offset < 5) {
        this.hold(data.subarray(offset));
        break;
      }
      const type = data[offset]!;
      const total = messageSize(data, offset);
      if (STREAMED.has(type) && !this.handler.wantsWhole?.(type)) {
        this.handler.streamed(type, total - 5);
        if (data.length - offset < total) {
          this.skipping = total - (data.length - offset);
          offset = data.length;
          break;
        }
        offset += total;
        continue;
      }
      if (data.length - offset < total) {
        this.hold(data.subarray(offset), total);
        break;
      }
      if (this.handler.rewrite && STREAMED.has(type)) {
        this.outgoing.before(out, data, passStart, offset);
        if (this.handler.rewrite(type, data, offset + 5, offset + total, this.outgoing)) passStart = offset + total;
        offset += total;
        continue;
      }
      const replacement = this.handler.message(type, data.subarray(offset + 5, offset + total));
      if (replacement) {
        this.outgoing.takeInto(out);
        if (offset > passStart) out.push(data.subarray(passStart, offset));
        out.push(replacement);
        passStart = offset + total;
      }
      offset += total;
    }
    this.outgoing.takeInto(out);
    const passEnd = this.heldBytes > 0 ? data.length - this.heldBytes : offset;
    if (passEnd > passStart) out.push(data.subarray(passStart, passEnd));
    return out;
  }

  private hold(rest: Buffer, need = 0): void {
    this.held = [rest];
    this.heldBytes = rest.length;
    this.heldNeed = need;
  }
}

/** Size of the message at `offset` including its type byte; a length below 4 would misframe everything after it. */
function messageSize(data: Buffer, offset: number): number {
  const length = data.readInt32BE(offset + 1);
  if (length < 4) throw new ProtocolError('TG_TARGET_PROTOCOL', `target sent message '${String.fromCharCode(data[offset]!)}' with invalid length ${length}`);
  return length + 1;
}
