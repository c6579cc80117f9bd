import { BufferReader } from './buffer-reader.js';
import { Be, ProtocolError } from './protocol.js';

/** What the gateway's own query on a session's backend returned: its rows, or the target's error. */
export interface PrivateResult {
  rows: (string | null)[][];
  error?: string;
}

/**
 * Reads the target's answer to a query the gateway itself sent between the client's statements: rows are
 * collected, asynchronous messages (notifications, notices, setting changes) still belong to the client.
 */
export class PrivateReply {
  private pending: Buffer = Buffer.alloc(0);
  private readonly rows: (string | null)[][] = [];
  private error: string | undefined;

  constructor(
    private readonly done: (result: PrivateResult, status: 'I' | 'T' | 'E') => void,
    private readonly passOn: (type: number, message: Buffer) => void,
  ) {}

  /** The session ended before the answer came. */
  abort(): void {
    this.done({ rows: [], error: 'the session ended' }, 'E');
  }

  /** Takes target bytes; returns the bytes after the reply's ReadyForQuery, or null while it is not complete. */
  push(chunk: Buffer): Buffer | null {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (this.pending.length - offset >= 5) {
      const type = this.pending[offset]!;
      const length = this.pending.readInt32BE(offset + 1);
      if (length < 4) throw new ProtocolError('TG_TARGET_PROTOCOL', `target sent message '${String.fromCharCode(type)}' with invalid length ${length}`);
      if (this.pending.length - offset < length + 1) break;
      const body = this.pending.subarray(offset + 5, offset + 1 + length);
      const whole = this.pending.subarray(offset, offset + 1 + length);
      offset += length + 1;
      if (type === Be.DataRow) this.rows.push(dataRow(body));
      else if (type === Be.ErrorResponse) this.error ??= errorMessage(body);
      else if (type === Be.NotificationResponse || type === Be.NoticeResponse || type === Be.ParameterStatus) this.passOn(type, whole);
      else if (type === Be.ReadyForQuery) {
        this.done({ rows: this.rows, ...(this.error ? { error: this.error } : {}) }, String.fromCharCode(body[0] ?? 0x49) as 'I' | 'T' | 'E');
        return this.pending.subarray(offset);
      }
    }
    this.pending = this.pending.subarray(offset);
    return null;
  }
}

function dataRow(body: Buffer): (string | null)[] {
  const r = new BufferReader(body);
  const n = r.int16();
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    out.push(len < 0 ? null : r.bytes(len).toString('utf8'));
  }
  return out;
}

function errorMessage(body: Buffer): string {
  const r = new BufferReader(body);
  let sqlstate = '';
  let message = '';
  while (r.remaining > 0) {
    const code = r.byte();
    if (code === 0) break;
    const value = r.cstring();
    if (code === 0x43) sqlstate = value;
    else if (code === 0x4d) message = value;
  }
  return `${message} (${sqlstate})`;
}

/**
 * The gateway's query wrapped so that it changes nothing the client can see and nothing the client set can change
 * it: search_path is pg_catalog alone (a user's operator must never be what the gateway's own query calls), JIT is
 * off (compiling the catalogue query costs seconds), for this query only; inside the client's transaction the
 * settings end with a savepoint that is rolled back at once.
 */
export function privateQueryText(sql: string, status: 'I' | 'T'): string {
  const settings = 'set local search_path = pg_catalog, pg_temp; set local jit = off';
  if (status === 'I') return `${settings}; ${sql}`;
  return `savepoint trailgate_private; ${settings}; ${sql}; rollback to savepoint trailgate_private; release savepoint trailgate_private`;
}
