import { ERROR, RESIZE, STDERR, STDIN, STDOUT } from './channel-protocol.js';
import type { ExecRecording } from './exec-recording.js';
import { statusBody } from './kube-status.js';
import { SpdyProtocolError, type SpdyEvent } from './spdy-frames.js';

/**
 * What the SPDY streams of one exec, attach or port-forward carry, from the events of both directions:
 * kubectl opens one stream per channel and names it in its `streamtype` header (k8s.io/api/core/v1:
 * error, stdin, stdout, stderr, resize; port-forward: data and error per forwarded connection).
 */
export interface SpdyObserver {
  event(toClient: boolean, e: SpdyEvent): void;
  /** The connection ended: whatever a stream left unread is read now. */
  end(): void;
  /** Frames that tell the client why the gateway cut the stream (as the cluster would say it), or null. */
  farewell(reason: string): Buffer | null;
}

const EXEC_CHANNELS: Record<string, { channel: number; toClient: boolean }> = {
  stdin: { channel: STDIN, toClient: false },
  resize: { channel: RESIZE, toClient: false },
  stdout: { channel: STDOUT, toClient: true },
  stderr: { channel: STDERR, toClient: true },
  error: { channel: ERROR, toClient: true },
};

/** The error stream holds one Status; resize lines are tiny: a peer sending more is not kubectl. */
const SMALL_STREAM_BYTES = 64 * 1024;

function streamType(e: Extract<SpdyEvent, { kind: 'stream' }>): string {
  return e.headers.get('streamtype')?.[0] ?? '';
}

/** Exec and attach: each stream's data to the terminal recording as its WebSocket channel. */
export class ExecStreams implements SpdyObserver {
  private readonly streams = new Map<number, { channel: number; toClient: boolean }>();
  private errorStatus: Buffer[] = [];
  private errorBytes = 0;
  private errorRead = false;
  private resize = '';
  private errorStream = 0;

  constructor(
    private readonly rec: ExecRecording,
    private readonly protocol: string,
  ) {}

  event(toClient: boolean, e: SpdyEvent): void {
    if (e.kind === 'stream') {
      const c = EXEC_CHANNELS[streamType(e)];
      if (!c) throw new SpdyProtocolError(`a stream of type '${streamType(e).slice(0, 40)}' in an exec`);
      this.streams.set(e.id, c);
      if (c.channel === ERROR) this.errorStream = e.id;
      return;
    }
    if (e.kind !== 'data') return;
    const s = this.streams.get(e.id);
    if (!s) throw new SpdyProtocolError(`data on stream ${e.id}, which was never opened`);
    if (e.data.length > 0 && s.toClient !== toClient) throw new SpdyProtocolError(`data ${toClient ? 'to' : 'from'} the client on its ${s.channel === STDIN ? 'stdin' : 'output'} stream ${e.id}`);
    if (s.channel === ERROR) {
      this.errorBytes += e.data.length;
      if (this.errorBytes > SMALL_STREAM_BYTES) throw new SpdyProtocolError(`an error stream of more than ${SMALL_STREAM_BYTES} bytes`);
      if (e.data.length) this.errorStatus.push(Buffer.from(e.data));
      if (e.fin) this.readError();
    } else if (s.channel === RESIZE) {
      // kubectl writes one JSON object per line (json.Encoder)
      this.resize += e.data.toString('utf8');
      if (this.resize.length > SMALL_STREAM_BYTES) throw new SpdyProtocolError(`a resize line of more than ${SMALL_STREAM_BYTES} bytes`);
      const lines = this.resize.split('\n');
      this.resize = lines.pop()!;
      for (const l of lines) if (l.trim()) this.rec.channel(false, RESIZE, Buffer.from(l));
    } else if (e.data.length) {
      this.rec.channel(toClient, s.channel, e.data);
    }
  }

  private readError(): void {
    if (this.errorRead) return;
    this.errorRead = true;
    const status = Buffer.concat(this.errorStatus);
    if (status.length) this.rec.channel(true, ERROR, status);
  }

  /**
   * The error stream's last word, with its end: kubectl reads the stream whole and, without it, takes a cut
   * connection for a command that succeeded (exit 0). v4/v5 carry a Status; older protocols the message itself.
   */
  farewell(reason: string): Buffer | null {
    if (!this.errorStream || this.errorRead || this.errorBytes > 0) return null;
    this.errorRead = true;
    const message = this.protocol.startsWith('v4.') || this.protocol.startsWith('v5.') ? statusBody(500, reason) : reason;
    return dataFrame(this.errorStream, Buffer.from(message), true);
  }

  end(): void {
    // a Status whose stream was not closed before the connection (the API server closes the connection right after)
    if (this.errorBytes > 0) this.readError();
  }
}

/** Port-forward: the bytes of the forwarded connections (data streams) each way; error streams are the kubelet's words, not counted. */
export class ForwardStreams implements SpdyObserver {
  fromClient = 0;
  toClient = 0;
  private readonly data = new Set<number>();
  private readonly known = new Set<number>();

  event(toClient: boolean, e: SpdyEvent): void {
    if (e.kind === 'stream') {
      const t = streamType(e);
      if (t !== 'data' && t !== 'error') throw new SpdyProtocolError(`a stream of type '${t.slice(0, 40)}' in a port-forward`);
      this.known.add(e.id);
      if (t === 'data') this.data.add(e.id);
      return;
    }
    if (e.kind !== 'data') return;
    if (!this.known.has(e.id)) throw new SpdyProtocolError(`data on stream ${e.id}, which was never opened`);
    if (!this.data.has(e.id)) return;
    if (toClient) this.toClient += e.data.length;
    else this.fromClient += e.data.length;
  }

  end(): void {}

  farewell(): Buffer | null {
    return null;
  }
}

/** A DATA frame: stream id, flags and 24-bit length, then the payload. */
function dataFrame(id: number, payload: Buffer, fin: boolean): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(id & 0x7fffffff, 0);
  h.writeUInt32BE(((fin ? 1 : 0) << 24) | payload.length, 4);
  return Buffer.concat([h, payload]);
}
