// Masks result rows on their way to the client. Each RowDescription says where every column comes from (table OID,
// attribute number); each DataRow after it is rewritten as it arrives, with exact lengths, and nothing else is held.
// A result whose masking cannot be done (a masked non-string column asked for in binary, an unattributed column
// the rules refuse) fails closed: the client gets an ErrorResponse instead, and nothing of it until ReadyForQuery.
import { serialize } from 'pg-protocol';
import type { DetectorName } from '../../masking/detectors/index.js';
import { redactSensitive } from '../../masking/detectors/index.js';
import type { ColumnMask } from '../../masking/column-origins.js';
import type { SessionMasking } from '../../masking/session-masking.js';
import type { BackendMessageHandler } from './backend-framer.js';
import type { ServerError } from './backend-messages.js';
import { errorResponse, message as backendMessage } from './backend-writer.js';
import { OutgoingBytes } from './outgoing-bytes.js';
import { Be, ProtocolError, SqlState } from './protocol.js';

/** Types whose binary form is their UTF-8 text: text, varchar, bpchar, name. */
const STRING_TYPES = new Set([25, 1043, 1042, 19]);
const TEXT_OID = 25;
const EMPTY = Buffer.alloc(0);
const STAR = 0x2a;
/** Shorter values are copied byte by byte: cheaper than a native copy call. */
const SHORT_COPY = 48;

/** How a column's cells are rewritten, decided once per RowDescription (the row loop switches on a small integer). */
const PASS = 0;
const NULL = 1;
const CONSTANT = 2;
const PARTIAL = 3;
const FUNCTION = 4;
const SCAN = 5;

/** What the masked columns of one session's commands counted, for `command.completed`. */
export interface MaskingCounts {
  /** Masked cells per source column (`schema.table.column`). */
  cells: Record<string, number>;
  /** Cells of unattributed columns that went through the detectors, and what they found. */
  scanned?: number;
  detectorHits?: Record<string, number>;
}

export interface MaskedTracker extends BackendMessageHandler {
  /** Marks the command being answered as failed (the record says why). */
  failCurrent(error: ServerError): void;
}

type Action = { kind: 'rule'; mask: ColumnMask & { rule: NonNullable<ColumnMask['rule']> } } | { kind: 'scan' } | null;

interface Description {
  actions: Action[];
  /** Per column: PASS, NULL, CONSTANT, PARTIAL, FUNCTION or SCAN, with what each needs. */
  ops: Uint8Array;
  constants: (Buffer | undefined)[];
  keep: Int32Array;
  fns: (((value: Buffer) => Buffer) | undefined)[];
  binary: boolean[];
  /** Whether any column needs rewriting: rows of the rest stream through untouched. */
  masked: boolean;
  /** Masked cells per column since the counts were last folded into the command's (one add per cell). */
  counts: Uint32Array;
}

/** The client messages the relay forwarded whose answers the masker must tell apart, in order. */
type Expect = { kind: 'describe'; injected: boolean; suspect: boolean } | { kind: 'query'; suspect: boolean } | { kind: 'sync' };

export class ResultMasker implements BackendMessageHandler {
  private readonly queue: Expect[] = [];
  private current: Description | null = null;
  /** Dropping the target's answers until ReadyForQuery: the client already has the error. */
  private failing = false;
  private counts: MaskingCounts = { cells: {} };
  private counted = false;

  constructor(
    private readonly inner: MaskedTracker,
    private readonly session: SessionMasking,
  ) {}

  // --- client side: what the relay forwards ---

  query(text: string): void {
    this.queue.push({ kind: 'query', suspect: this.session.suspect(text) });
  }

  clientDescribe(): void {
    this.queue.push({ kind: 'describe', injected: false, suspect: false });
  }

  /** Before an Execute: the gateway's own Describe of the portal, so the rows' origins are known; its answer is kept. */
  execute(portal: string, statementText: string): Buffer {
    this.queue.push({ kind: 'describe', injected: true, suspect: this.session.suspect(statementText) });
    return serialize.describe({ type: 'P', name: portal });
  }

  sync(): void {
    this.queue.push({ kind: 'sync' });
  }

  /** Counts since the last call (the command just completed), or undefined when nothing was masked or scanned. */
  takeCounts(): MaskingCounts | undefined {
    this.fold();
    if (!this.counted) return undefined;
    const c = this.counts;
    this.counts = { cells: {} };
    this.counted = false;
    return c;
  }

  // --- target side ---

  wantsWhole(type: number): boolean {
    return this.failing || (type === Be.DataRow && this.current !== null && this.current.masked);
  }

  streamed(type: number, bodyLength: number): void {
    this.inner.streamed(type, bodyLength);
  }

  /** Rows being masked are written straight into the framer's outgoing buffer; anything else goes through `message`. */
  rewrite(type: number, data: Buffer, start: number, end: number, out: OutgoingBytes): boolean {
    if (type === Be.DataRow && !this.failing && this.current?.masked) {
      this.inner.streamed(type, end - start);
      return this.maskRow(data, start, end, out);
    }
    const replaced = this.message(type, data.subarray(start, end));
    if (replaced === undefined) return false;
    out.append(replaced);
    return true;
  }

  /** For rows handed over one at a time (tests, the in-process bench): a masked row comes back in a buffer of its own. */
  private readonly own = new OutgoingBytes();

  message(type: number, body: Buffer): Buffer | undefined {
    if (type === Be.DataRow) {
      this.inner.streamed(type, body.length);
      if (this.failing) return EMPTY;
      return this.current?.masked && this.maskRow(body, 0, body.length, this.own) ? this.own.take() : undefined;
    }
    const replaced = this.inner.message(type, body);
    if (this.failing) {
      if (type === Be.ReadyForQuery) {
        this.failing = false;
        this.readyForQuery();
        return replaced;
      }
      if (type === Be.ErrorResponse) this.errorSeen();
      return EMPTY;
    }
    switch (type) {
      case Be.RowDescription:
        return this.rowDescription(body) ?? replaced;
      case Be.NoData: {
        const head = this.queue[0];
        if (head?.kind !== 'describe') return replaced;
        this.queue.shift();
        if (head.injected) {
          this.setCurrent(null);
          return EMPTY;
        }
        return replaced;
      }
      case Be.CommandComplete:
      case Be.PortalSuspended:
      case Be.EmptyQueryResponse:
        this.setCurrent(null);
        return replaced;
      case Be.CopyOutResponse: {
        const head = this.queue[0];
        // The gate refuses COPY TO on masked relations; a COPY that still names one gets no rows.
        if (head?.kind === 'query' && head.suspect) {
          return this.fail(SqlState.InsufficientPrivilege, 'COPY TO of a relation with masked columns is refused: copied rows cannot be masked [TG_MASKING_COPY]', 'select the columns instead; masked columns come back masked');
        }
        return replaced;
      }
      case Be.ErrorResponse:
        this.errorSeen();
        return replaced;
      case Be.ReadyForQuery:
        this.readyForQuery();
        return replaced;
      default:
        return replaced;
    }
  }

  private rowDescription(body: Buffer): Buffer | undefined {
    const head = this.queue[0];
    let injected = false;
    let names = false;
    if (head?.kind === 'describe') {
      this.queue.shift();
      injected = head.injected;
      names = head.suspect;
      if (!head.injected) return this.describe(body, names).rewritten;
    } else if (head?.kind === 'query') names = head.suspect;
    const d = this.describe(body, names);
    if (d.refusal) return this.fail(d.refusal.sqlstate, d.refusal.message, d.refusal.hint);
    this.setCurrent(d.description);
    return injected ? EMPTY : d.rewritten;
  }

  /** Reads a RowDescription: each column's action, and the description as the client gets it (masked columns become text). */
  private describe(body: Buffer, suspect: boolean): { description: Description; rewritten: Buffer | undefined; refusal?: { sqlstate: string; message: string; hint?: string } } {
    const origins = this.session.origins;
    const policy = this.session.policy;
    const n = body.readInt16BE(0);
    const actions: Action[] = [];
    const binary: boolean[] = [];
    const ops = new Uint8Array(n);
    const constants: (Buffer | undefined)[] = [];
    const keep = new Int32Array(n);
    const fns: (((value: Buffer) => Buffer) | undefined)[] = [];
    let masked = false;
    let rewrite: Buffer | undefined;
    let offset = 2;
    let refusal: { sqlstate: string; message: string; hint?: string } | undefined;
    for (let i = 0; i < n; i++) {
      const nameEnd = body.indexOf(0, offset);
      const column = body.toString('utf8', offset, nameEnd);
      const f = nameEnd + 1;
      const tableOid = body.readUInt32BE(f);
      const attnum = body.readInt16BE(f + 4);
      const typeOid = body.readUInt32BE(f + 6);
      const isBinary = body.readInt16BE(f + 16) === 1;
      offset = f + 18;
      binary.push(isBinary);
      if (!origins) {
        refusal ??= { sqlstate: SqlState.InsufficientPrivilege, message: `the gateway could not read which columns of target '${policy.target}' are masked, so it returns no rows [TG_MASKING_UNRESOLVED]`, hint: 'run the statement again; if it persists, check the target is reachable' };
        actions.push(null);
        continue;
      }
      const mask = origins.maskOf(tableOid, attnum);
      let action: Action = null;
      if (mask?.rule) {
        action = { kind: 'rule', mask: mask as Extract<Action, { kind: 'rule' }>['mask'] };
        if (isBinary && mask.rule.mask && !STRING_TYPES.has(typeOid)) {
          refusal ??= { sqlstate: SqlState.FeatureNotSupported, message: `result column "${column}" (${mask.label}) is masked and was asked for in binary format, which the gateway masks only for text types [TG_MASKING_BINARY]`, hint: 'ask for this column in text format, or cast it to text in the query' };
        }
        if (mask.rule.mask && typeOid !== TEXT_OID) {
          // The masked value is no longer of the column's type: the client reads it as text.
          rewrite ??= Buffer.from(body);
          rewrite.writeUInt32BE(TEXT_OID, f + 6);
          rewrite.writeInt16BE(-1, f + 10);
          rewrite.writeInt32BE(-1, f + 12);
        }
      } else if (mask || tableOid === 0) {
        // No source column: a view's expression over masked data, or an expression, UNION, JSON in the query.
        const fromMaskedView = mask !== undefined;
        if (policy.unattributed === 'scan') action = isBinary && !STRING_TYPES.has(typeOid) ? null : { kind: 'scan' };
        else if (policy.unattributed === 'deny' && (fromMaskedView || suspect)) {
          refusal ??= { sqlstate: SqlState.InsufficientPrivilege, message: `result column "${column}" cannot be traced to a table column${mask ? ` (${mask.label} reads masked columns)` : ''}, and target '${policy.target}' refuses such columns in statements that read masked relations [TG_MASKING_UNATTRIBUTED]`, hint: 'select the masked columns themselves (they come back masked), or leave them out of expressions' };
        }
      }
      actions.push(action);
      constants.push(undefined);
      fns.push(undefined);
      if (action?.kind === 'scan') ops[i] = SCAN;
      else if (action) {
        const rule = action.mask.rule;
        if (rule.mask === null) ops[i] = NULL;
        else if (rule.constant) {
          ops[i] = CONSTANT;
          constants[i] = rule.constant;
        } else if (rule.keepLast !== undefined) {
          ops[i] = PARTIAL;
          keep[i] = rule.keepLast;
        }
        if (rule.mask !== null) fns[i] = rule.mask;
        if (ops[i] === PASS) ops[i] = FUNCTION;
      }
      if (action) masked = true;
    }
    return { description: { actions, ops, constants, keep, fns, binary, masked, counts: new Uint32Array(n) }, rewritten: rewrite ? backendMessage(Be.RowDescription, rewrite) : undefined, ...(refusal ? { refusal } : {}) };
  }

  /**
   * Two passes over the row in `data[start, end)`: the new size (and the outputs that need a function: hmac, scans,
   * non-ASCII partial values), then the rewritten row written once into `out`; unchanged cells are copied in runs.
   * False, with nothing written, when no cell changed.
   */
  private maskRow(data: Buffer, start: number, end: number, out: OutgoingBytes): boolean {
    const d = this.current!;
    const ops = d.ops;
    const counts = d.counts;
    const n = data.readInt16BE(start);
    const outs = this.outs;
    let size = end - start;
    let changed = false;
    let off = start + 2;
    for (let i = 0; i < n; i++) {
      const len = data.readInt32BE(off);
      off += 4;
      const op = ops[i] ?? PASS; // a row with more columns than its description passes them through
      if (op === PASS || len < 0) {
        if (len > 0) off += len;
        continue;
      }
      switch (op) {
        case NULL:
          size -= len;
          counts[i]!++;
          changed = true;
          break;
        case CONSTANT:
          size += d.constants[i]!.length - len;
          counts[i]!++;
          changed = true;
          break;
        case PARTIAL: {
          counts[i]!++;
          changed = true;
          let ascii = true;
          for (let j = off; j < off + len; j++) {
            if (data[j]! >= 0x80) {
              ascii = false;
              break;
            }
          }
          if (ascii) {
            outs[i] = undefined;
          } else {
            const o = d.fns[i]!(data.subarray(off, off + len));
            outs[i] = o;
            size += o.length - len;
          }
          break;
        }
        case FUNCTION: {
          counts[i]!++;
          changed = true;
          const o = d.fns[i]!(data.subarray(off, off + len));
          outs[i] = o;
          size += o.length - len;
          break;
        }
        default: {
          const value = data.subarray(off, off + len);
          const o = this.scan(value);
          if (o === value) outs[i] = undefined;
          else {
            outs[i] = o;
            size += o.length - len;
            changed = true;
          }
        }
      }
      off += len;
    }
    if (off > end) throw new ProtocolError('TG_TARGET_PROTOCOL', `target sent a DataRow whose values run past its length (${end - start})`);
    if (!changed) return false;
    const buf = out.reserve(1 + 4 + size);
    let w = out.at;
    buf[w] = Be.DataRow;
    buf.writeInt32BE(size + 4, w + 1);
    buf.writeInt16BE(n, w + 5);
    w += 7;
    off = start + 2;
    /** Start of the unchanged bytes not yet copied (-1: none). */
    let run = -1;
    for (let i = 0; i < n; i++) {
      const len = data.readInt32BE(off);
      const raw = len > 0 ? len : 0;
      const op = ops[i] ?? PASS;
      if (op === PASS || len < 0 || (op === SCAN && outs[i] === undefined)) {
        if (run === -1) run = off;
        off += 4 + raw;
        continue;
      }
      if (run !== -1) {
        w = copy(data, run, off, buf, w);
        run = -1;
      }
      const value = off + 4;
      off = value + raw;
      if (op === NULL) {
        buf.writeInt32BE(-1, w);
        w += 4;
        continue;
      }
      const o = op === CONSTANT ? d.constants[i]! : op === PARTIAL && outs[i] === undefined ? null : outs[i]!;
      if (o === null) {
        // Partial over ASCII: same length, stars then the kept tail.
        buf.writeInt32BE(len, w);
        w += 4;
        const cut = value + Math.max(0, len - d.keep[i]!);
        const stars = cut - value;
        if (stars < SHORT_COPY) for (let j = 0; j < stars; j++) buf[w + j] = STAR;
        else buf.fill(STAR, w, w + stars);
        w = copy(data, cut, off, buf, w + stars);
      } else {
        buf.writeInt32BE(o.length, w);
        w = copy(o, 0, o.length, buf, w + 4);
      }
    }
    if (run !== -1) w = copy(data, run, off, buf, w);
    out.at = w;
    return true;
  }

  /** Per-row scratch: each masked cell's output (null: SQL NULL; undefined: unchanged). */
  private readonly outs: (Buffer | null | undefined)[] = [];

  private setCurrent(d: Description | null): void {
    this.fold();
    this.current = d;
  }

  /** Adds the current description's per-column counts to the command's counts. */
  private fold(): void {
    const d = this.current;
    if (!d) return;
    for (let i = 0; i < d.counts.length; i++) {
      const c = d.counts[i]!;
      if (c === 0) continue;
      const action = d.actions[i];
      if (action?.kind === 'rule') {
        this.counts.cells[action.mask.label] = (this.counts.cells[action.mask.label] ?? 0) + c;
        this.counted = true;
      }
      d.counts[i] = 0;
    }
  }

  private scan(value: Buffer): Buffer {
    this.counted = true;
    this.counts.scanned = (this.counts.scanned ?? 0) + 1;
    const text = value.toString('utf8');
    const { text: redacted, hits } = redactSensitive(text, this.session.policy.detectors as DetectorName[]);
    const names = Object.keys(hits);
    if (names.length === 0) return value;
    const dh = (this.counts.detectorHits ??= {});
    for (const [k, v] of Object.entries(hits)) dh[k] = (dh[k] ?? 0) + (v ?? 0);
    return Buffer.from(redacted);
  }

  /** Replaces the current answer with an error and drops the rest of it, up to ReadyForQuery. */
  private fail(sqlstate: string, message: string, hint?: string): Buffer {
    this.failing = true;
    this.setCurrent(null);
    this.inner.failCurrent({ severity: 'ERROR', sqlstate, message });
    return errorResponse({ severity: 'ERROR', sqlstate, message, ...(hint ? { hint } : {}) });
  }

  /** After an error the target skips to the next Sync: describes before it get no answer. */
  private errorSeen(): void {
    this.setCurrent(null);
    while (this.queue.length && this.queue[0]!.kind === 'describe') this.queue.shift();
  }

  private readyForQuery(): void {
    this.setCurrent(null);
    while (this.queue.length) {
      const e = this.queue.shift()!;
      if (e.kind !== 'describe') break;
    }
  }
}

/** Copies src[from, to) to dst at `at`; returns the position after it. */
function copy(src: Buffer, from: number, to: number, dst: Buffer, at: number): number {
  const n = to - from;
  if (n < SHORT_COPY) for (let j = 0; j < n; j++) dst[at + j] = src[from + j]!;
  else src.copy(dst, at, from, to);
  return at + n;
}

