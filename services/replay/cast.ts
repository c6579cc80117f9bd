import type { AuditRecord, BytesRecord, EventRecord } from '../../events/index.js';
import { terminalOpened, terminalResized } from './terminal-contract.js';

export const DEFAULT_COLS = 80;
export const DEFAULT_ROWS = 24;

export interface CastOptions {
  /** asciicast format version: 2 (absolute times) or 3 (intervals). */
  version?: 2 | 3;
  /** SSH channel of the terminal; default: the first `terminal.opened`, else the first channel with output. */
  channel?: number;
  /** Also write what the client typed as "i" events (only where input was recorded). */
  input?: boolean;
}

/** Where the cast came from, in the header, so that a reader (and later `verify`) can trace it. */
export interface CastProvenance {
  session: string;
  channel: number;
  /** `terminal.opened`, or `default` when the recording has no terminal event. */
  size: 'terminal.opened' | 'default';
  note?: string;
  firstSeq: number | null;
  lastSeq: number | null;
}

export type CastEvent = [time: number, code: 'o' | 'i' | 'r' | 'm' | 'x', data: string];

export interface Cast {
  version: 2 | 3;
  cols: number;
  rows: number;
  term?: string;
  /** Unix seconds of time zero. */
  timestamp: number;
  title: string;
  provenance: CastProvenance;
  /** Times are seconds since time zero, never decreasing. */
  events: CastEvent[];
}

export class CastError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MARKER_MAX = 200;

/**
 * Turns one session's records (in sequence order) into a terminal recording: what the terminal
 * showed (server bytes of one channel), with the time each chunk was recorded, resizes and markers.
 */
export function buildCast(sessionId: string, records: readonly AuditRecord[], o: CastOptions = {}): Cast {
  const events = records.filter((r): r is EventRecord => r.stream === 'events');
  const opened = events.map((e) => (e.type === ('terminal.opened' as string) ? { record: e, data: terminalOpened(e.data) } : null)).filter((x) => x?.data);
  const chosen = o.channel === undefined ? opened[0] : opened.find((x) => x!.data!.channel === o.channel);
  const firstOutput = records.find((r): r is BytesRecord => r.stream === 'bytes' && r.direction === 'server' && (o.channel === undefined || r.channel === o.channel));
  if (!chosen && !firstOutput) {
    throw new CastError('TG_CAST_NO_TERMINAL', o.channel === undefined ? `session ${sessionId} has no terminal output to replay` : `session ${sessionId} has no terminal on channel ${o.channel}`);
  }
  if (!chosen && firstOutput!.channel === undefined) {
    throw new CastError('TG_CAST_NOT_TERMINAL', `session ${sessionId} carries no terminal (a Postgres session?); read it with \`trailgate transcript\``);
  }
  const channel = chosen ? chosen.data!.channel : firstOutput!.channel!;
  const zeroTs = Date.parse((chosen?.record ?? records[0]!).ts);
  const cast: Cast = {
    version: o.version ?? 2,
    cols: chosen?.data?.cols ?? DEFAULT_COLS,
    rows: chosen?.data?.rows ?? DEFAULT_ROWS,
    ...(chosen?.data?.term ? { term: chosen.data.term } : {}),
    timestamp: Math.floor(zeroTs / 1000),
    title: `Trailgate session ${sessionId} channel ${channel}`,
    provenance: {
      session: sessionId,
      channel,
      size: chosen ? 'terminal.opened' : 'default',
      ...(chosen ? {} : { note: `no terminal.opened event in the recording: size defaults to ${DEFAULT_COLS}x${DEFAULT_ROWS}` }),
      firstSeq: records[0]?.seq ?? null,
      lastSeq: records[records.length - 1]?.seq ?? null,
    },
    events: [],
  };
  const zeroMs = zeroTs - (zeroTs % 1000);
  let last = 0;
  const push = (ts: string, code: CastEvent[1], data: string) => {
    const at = Math.max(last, (Date.parse(ts) - zeroMs) / 1000);
    last = at;
    cast.events.push([at, code, data]);
  };
  // One decoder per direction: a character split across two chunks is completed by the next one.
  const output = new TextDecoder('utf-8');
  const input = new TextDecoder('utf-8');
  const expected = { server: 0, client: 0 };
    for (const r of records) {
    if (r.stream === 'bytes') {
      if (r.channel !== channel || (r.direction === 'client' && !o.input)) continue;
      if (r.offset !== expected[r.direction]) push(r.ts, 'm', `[trailgate] ${r.direction} bytes ${expected[r.direction]}..${r.offset} are missing from the recording`);
      expected[r.direction] = r.offset + r.data.length;
      const text = (r.direction === 'server' ? output : input).decode(r.data, { stream: true });
      if (text) push(r.ts, r.direction === 'server' ? 'o' : 'i', text);
      continue;
    }
    const marker = markerFor(r, channel);
    if (marker !== null) {
      push(r.ts, 'm', marker);
      continue;
    }
    if (r.type === ('terminal.resized' as string)) {
      const size = terminalResized(r.data);
      if (size && size.channel === channel) push(r.ts, 'r', `${size.cols}x${size.rows}`);
    }
  }
  const tail = output.decode();
  if (tail) push(records[records.length - 1]!.ts, 'o', tail);
  return cast;
}

/** Whether a session has a terminal to play, without decoding it (for pages that link the cast). */
export function hasTerminal(records: readonly AuditRecord[]): boolean {
  return records.some((r) => (r.stream === 'events' ? r.type === ('terminal.opened' as string) : r.direction === 'server' && r.channel !== undefined));
}

/** Commands and approval decisions become markers; the text is data, never markup. */
function markerFor(r: EventRecord, channel: number): string | null {
  const d = (r.data ?? {}) as unknown as Record<string, unknown>;
  if (typeof d.channel === 'number' && d.channel !== channel) return null;
  if (r.type === 'command.started') return clip(`$ ${String(d.text ?? '')}`);
  if (r.type.startsWith('approval.')) {
    const what = [d.decision, d.outcome, d.approver, d.reason].filter((x) => typeof x === 'string').join(' ');
    return clip(`[${r.type}]${what ? ` ${what}` : ''}`);
  }
  return null;
}

function clip(s: string): string {
  const oneLine = s.replace(/\s+/g, ' ').trim();
  return oneLine.length > MARKER_MAX ? `${oneLine.slice(0, MARKER_MAX - 1)}…` : oneLine;
}

/** The cast as asciicast text: a header line, then one JSON array per event. */
export function* castLines(cast: Cast): Generator<string> {
  const trailgate = cast.provenance;
  if (cast.version === 2) {
    const duration = cast.events.length ? cast.events[cast.events.length - 1]![0] : 0;
    yield JSON.stringify({ version: 2, width: cast.cols, height: cast.rows, timestamp: cast.timestamp, duration: round(duration), title: cast.title, ...(cast.term ? { env: { TERM: cast.term } } : {}), trailgate });
    for (const [t, code, data] of cast.events) yield JSON.stringify([round(t), code, data]);
    return;
  }
  yield JSON.stringify({ version: 3, term: { cols: cast.cols, rows: cast.rows, ...(cast.term ? { type: cast.term } : {}) }, timestamp: cast.timestamp, title: cast.title, trailgate });
  let prev = 0;
  for (const [t, code, data] of cast.events) {
    yield JSON.stringify([round(round(t) - round(prev)), code, data]);
    prev = t;
  }
}

export function castText(cast: Cast): string {
  let out = '';
  for (const line of castLines(cast)) out += `${line}\n`;
  return out;
}

function round(t: number): number {
  return Math.round(t * 1e6) / 1e6;
}
