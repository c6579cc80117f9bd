import type { FileOperationData } from '../../../events/index.js';
import type { ScpInvocation } from '../policy/ssh-policy.js';

export type ScpOperation = Omit<FileOperationData, 'protocol' | 'channel'>;

interface Expected {
  kind: 'ready' | 'header' | 'data' | 'other';
  file?: { path: string; name: string; size: number };
}

/**
 * Reads a legacy scp transfer (`scp -t` / `scp -f` on the target) from both directions of its channel
 * without changing a byte: the source's control lines (C, D, E, T), the file data it skips over, and
 * the sink's acknowledgements, which say whether each file arrived. One record per file.
 */
export class ScpObserver {
  private state: 'line' | 'data' | 'dataEnd' = 'line';
  private line: number[] = [];
  private dataLeft = 0;
  private readonly dirs: string[] = [];
  private readonly expected: Expected[] = [{ kind: 'ready' }];
  private current: Expected['file'];
  private ackLine: number[] | null = null;

  constructor(
    private readonly invocation: ScpInvocation,
    private readonly record: (op: ScpOperation) => void,
  ) {}

  /** Bytes from the side that sends files: the client for an upload, the target for a download. */
  fromSource(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.state === 'data') {
        const take = Math.min(this.dataLeft, chunk.length - at);
        this.dataLeft -= take;
        at += take;
        if (this.dataLeft === 0) this.state = 'dataEnd';
        continue;
      }
      if (this.state === 'dataEnd') {
        // The source's own status byte after the data; a non-zero one is followed by a message line.
        const ok = chunk[at++] === 0;
        this.state = 'line';
        if (ok) this.expected.push({ kind: 'data', ...(this.current ? { file: this.current } : {}) });
        else if (this.current) this.fileDone(this.current, 'error', 'the sending side failed while reading the file');
        continue;
      }
      const nl = chunk.indexOf(0x0a, at);
      const end = nl === -1 ? chunk.length : nl;
      if (this.line.length < 4096) for (let i = at; i < end && this.line.length < 4096; i++) this.line.push(chunk[i]!);
      at = end;
      if (nl === -1) break;
      at++;
      this.controlLine(Buffer.from(this.line).toString('utf8'));
      this.line = [];
    }
  }

  /** Bytes from the receiving side: a 0 byte per accepted step, or 1/2 and a message line. */
  fromSink(chunk: Buffer): void {
    for (const byte of chunk) {
      if (this.ackLine) {
        if (byte === 0x0a) {
          this.ack(Buffer.from(this.ackLine.slice(1)).toString('utf8'));
          this.ackLine = null;
        } else if (this.ackLine.length < 4096) this.ackLine.push(byte);
        continue;
      }
      if (byte === 0) this.ack(undefined);
      else if (byte === 1 || byte === 2) this.ackLine = [byte];
    }
  }

  /** The channel closed: whatever was not acknowledged did not arrive. */
  end(exitStatus: number | undefined): void {
    const why = exitStatus === undefined ? 'the channel closed before the transfer finished' : `scp exited with status ${exitStatus} before the file was acknowledged`;
    const open = new Set(this.expected.splice(0).flatMap((e) => (e.file ? [e.file] : [])));
    if (this.current && this.state !== 'line') open.add(this.current);
    for (const file of open) this.fileDone(file, 'error', why);
    this.current = undefined;
  }

  private controlLine(text: string): void {
    const kind = text[0];
    if (kind === 'C') {
      const m = /^C[0-7]{4} (\d+) (.*)$/.exec(text);
      if (!m) return;
      const size = Number(m[1]);
      this.current = { path: [this.invocation.path, ...this.dirs].join('/'), name: m[2]!, size };
      this.expected.push({ kind: 'header', file: this.current });
      this.dataLeft = size;
      this.state = size > 0 ? 'data' : 'dataEnd';
      return;
    }
    if (kind === 'D') {
      const m = /^D[0-7]{4} \d+ (.*)$/.exec(text);
      if (m) this.dirs.push(m[1]!);
      this.expected.push({ kind: 'other' });
      return;
    }
    if (kind === 'E') {
      this.dirs.pop();
      this.expected.push({ kind: 'other' });
      return;
    }
    if (kind === 'T') {
      this.expected.push({ kind: 'other' });
      return;
    }
    if (kind === '\x01' || kind === '\x02') {
      // The source could not send something (a download of a missing file): its message says what.
      this.record({ op: this.op(), path: this.invocation.path, outcome: 'error', error: text.slice(1) });
    }
  }

  private ack(error: string | undefined): void {
    const e = this.expected.shift();
    if (!e?.file) return;
    if (e.kind === 'data') {
      this.fileDone(e.file, error === undefined ? 'ok' : 'error', error);
    } else if (e.kind === 'header' && error !== undefined) {
      // The sink refused the file, so the source sends no data for it.
      if (this.current === e.file) {
        this.state = 'line';
        this.dataLeft = 0;
      }
      this.fileDone(e.file, 'error', error);
    }
  }

  private fileDone(file: NonNullable<Expected['file']>, outcome: 'ok' | 'error', error?: string): void {
    if (this.current === file) this.current = undefined;
    this.record({ op: this.op(), path: file.path, name: file.name, bytes: file.size, outcome, ...(error ? { error } : {}) });
  }

  private op(): 'upload' | 'download' {
    return this.invocation.direction;
  }
}
