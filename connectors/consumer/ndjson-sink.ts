import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import type { AuditRecord } from '../../events/index.js';
import type { RecordSink } from './record-sink.js';

/**
 * The forwarder's built-in sink: one JSON record per line in a file (byte chunks base64-encoded),
 * fsynced per batch. Idempotent: a session's records arrive in order per stream, so a record at or
 * below the highest sequence already written for its session and stream was written before and is
 * dropped, which makes a batch delivered again after a crash harmless.
 */
export class NdjsonFileSink implements RecordSink {
  readonly name: string;
  readonly streams: readonly AuditRecord['stream'][];
  private readonly fd: number;
  private readonly written = new Map<string, number>();

  constructor(
    readonly file: string,
    o: { name?: string; streams?: readonly AuditRecord['stream'][] } = {},
  ) {
    this.name = o.name ?? 'forwarder';
    this.streams = o.streams ?? ['events'];
    if (existsSync(file)) this.recover();
    this.fd = openSync(file, 'a');
  }

  async write(records: readonly AuditRecord[]): Promise<{ deadLetters: [] }> {
    const lines: string[] = [];
    for (const r of records) {
      const key = `${r.sessionId}/${r.stream}`;
      if ((this.written.get(key) ?? 0) >= r.seq) continue;
      this.written.set(key, r.seq);
      lines.push(JSON.stringify(r.stream === 'bytes' ? { ...r, data: r.data.toString('base64') } : r));
    }
    if (lines.length) {
      writeSync(this.fd, `${lines.join('\n')}\n`);
      fsyncSync(this.fd);
    }
    return { deadLetters: [] };
  }

  async close(): Promise<void> {
    closeSync(this.fd);
  }

  /** Learns what the file holds; a line cut short by a crash is removed. */
  private recover(): void {
    const text = readFileSync(this.file, 'utf8');
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) truncateSync(this.file, Buffer.byteLength(text.slice(0, end)));
    for (const line of text.slice(0, end).split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line) as { sessionId: string; stream: string; seq: number };
      const key = `${r.sessionId}/${r.stream}`;
      if ((this.written.get(key) ?? 0) < r.seq) this.written.set(key, r.seq);
    }
  }
}

/** Takes everything and stores nothing: for benchmarks of the log itself. */
export class NullSink implements RecordSink {
  records = 0;
  constructor(
    readonly name = 'null',
    readonly streams: readonly AuditRecord['stream'][] = ['events', 'bytes'],
  ) {}

  async write(records: readonly AuditRecord[]): Promise<{ deadLetters: [] }> {
    this.records += records.length;
    return { deadLetters: [] };
  }
}
