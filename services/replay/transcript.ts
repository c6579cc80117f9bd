import type { AuditRecord, CommandCompletedData, CommandStartedData, EventRecord, JobIdentity, ParameterValue, StatementDecision } from '../../events/index.js';

/** One statement of a Postgres session with everything recorded about it. */
export interface TranscriptEntry {
  /** seq of its command.started record. */
  seq: number;
  startedAt: string;
  /** Seconds since the session started. */
  offset: number;
  protocol: string;
  text: string;
  statementName?: string;
  portal?: string;
  parameters?: ParameterValue[];
  decision?: StatementDecision;
  completion?: {
    seq: number;
    outcome: CommandCompletedData['outcome'];
    durationMs: number;
    tags: string[];
    rows: number;
    copyBytes?: number;
    sqlstate?: string;
    error?: string;
  };
  /** Masking records that name this command, as recorded (the recording holds what the client saw). */
  masking: { seq: number; type: string; data: unknown }[];
  /** Other events between this statement and the next (cancel requests, notifications). */
  notes: { seq: number; ts: string; type: string; data: unknown }[];
}

export interface Transcript {
  session: string;
  target: string | null;
  identity: JobIdentity | null;
  startedAt: string | null;
  endedAt: string | null;
  endReason: string | null;
  firstSeq: number | null;
  lastSeq: number | null;
  entries: TranscriptEntry[];
}

const NOTE_TYPES = new Set(['cancel.requested', 'notification.received']);

/** Pairs every command.started with its completion, its masking records and the events around it. */
export function buildTranscript(sessionId: string, records: readonly AuditRecord[]): Transcript {
  const events = records.filter((r): r is EventRecord => r.stream === 'events');
  const started = events.find((e) => e.type === 'session.started') ?? events[0];
  const ended = events.find((e) => e.type === 'session.ended');
  const zero = started ? Date.parse(started.ts) : 0;
  const bySeq = new Map<number, TranscriptEntry>();
  const entries: TranscriptEntry[] = [];
  let current: TranscriptEntry | undefined;
  for (const e of events) {
    if (e.type === 'command.started') {
      const d = e.data as CommandStartedData;
      current = {
        seq: e.seq,
        startedAt: e.ts,
        offset: (Date.parse(e.ts) - zero) / 1000,
        protocol: d.protocol,
        text: String(d.text ?? ''),
        ...(d.statementName !== undefined ? { statementName: d.statementName } : {}),
        ...(d.portal !== undefined ? { portal: d.portal } : {}),
        ...(d.parameters ? { parameters: d.parameters } : {}),
        ...(d.decision ? { decision: d.decision } : {}),
        masking: [],
        notes: [],
      };
      bySeq.set(e.seq, current);
      entries.push(current);
    } else if (e.type === 'command.completed') {
      const d = e.data as CommandCompletedData;
      const entry = bySeq.get(d.commandSeq);
      if (entry) entry.completion = { seq: e.seq, outcome: d.outcome, durationMs: d.durationMs, tags: d.tags ?? [], rows: d.rows ?? 0, ...pick(d, ['copyBytes', 'sqlstate', 'error']) };
    } else if (e.type.startsWith('masking.')) {
      const target = bySeq.get((e.data as { commandSeq?: number } | null)?.commandSeq ?? -1) ?? current;
      target?.masking.push({ seq: e.seq, type: e.type, data: e.data });
    } else if (NOTE_TYPES.has(e.type)) {
      current?.notes.push({ seq: e.seq, ts: e.ts, type: e.type, data: e.data });
    }
  }
  const first = records[0];
  return {
    session: sessionId,
    target: first?.target?.name ?? null,
    identity: first?.identity ?? null,
    startedAt: started?.ts ?? null,
    endedAt: ended?.ts ?? null,
    endReason: ended ? (ended.data as { reason?: string }).reason ?? null : null,
    firstSeq: first?.seq ?? null,
    lastSeq: records[records.length - 1]?.seq ?? null,
    entries,
  };
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** A parameter as it reads in the transcript: text quoted, NULL bare, binary as base64. */
export function parameterText(p: ParameterValue): string {
  if (p === null) return 'NULL';
  if (typeof p === 'string') return `'${p.replace(/'/g, "''")}'`;
  return `binary(base64:${p.base64})`;
}

export function decisionText(d: StatementDecision | undefined): string {
  if (!d) return 'no decision recorded';
  const needs = d.needs.length ? d.needs.join(', ') : 'no rights';
  if (d.outcome === 'allowed') return `allowed (needs ${needs}${d.rules?.length ? `; rule ${d.rules.join(', ')}` : ''})`;
  return `DENIED (needs ${needs}${d.missing?.length ? `; missing ${d.missing.join(', ')}` : ''}${d.parseError ? `; parse error: ${d.parseError}` : ''})`;
}

export function outcomeText(c: TranscriptEntry['completion']): string {
  if (!c) return 'no completion recorded (session ended first)';
  const parts = [c.outcome === 'ok' ? 'ok' : c.outcome.toUpperCase(), c.tags.join('; '), `${c.rows} row${c.rows === 1 ? '' : 's'}`, `${c.durationMs} ms`];
  if (c.copyBytes) parts.push(`${c.copyBytes} COPY bytes`);
  if (c.sqlstate || c.error) parts.push(`error ${c.sqlstate ?? ''} ${c.error ?? ''}`.trim());
  return parts.filter(Boolean).join(' · ');
}

/**
 * The transcript as text for a terminal. Recorded text is hostile: control characters other than
 * newline and tab are shown as \xNN so that they cannot rewrite the reader's terminal.
 */
export function transcriptText(t: Transcript): string {
  const ci = t.identity?.ci;
  const lines = [
    `-- Trailgate transcript of session ${t.session}`,
    `-- target ${t.target ?? '-'} · repository ${ci?.repository ?? '-'} · run ${ci?.runId ? `${ci.runId}/${ci.runAttempt ?? '1'}` : '-'} · actor ${ci?.actor ?? '-'} · subject ${t.identity?.subject ?? '-'}`,
    `-- started ${t.startedAt ?? '-'} · ended ${t.endedAt ?? 'not recorded'}${t.endReason ? ` (${t.endReason})` : ''} · records ${t.firstSeq ?? '-'}..${t.lastSeq ?? '-'}`,
    '',
  ];
  for (const e of t.entries) {
    lines.push(`-- #${e.seq} ${e.startedAt} (+${e.offset.toFixed(3)} s) ${e.protocol}${e.statementName ? ` statement ${e.statementName}` : ''} · ${decisionText(e.decision)}`);
    lines.push(e.text.endsWith(';') ? e.text : `${e.text};`);
    e.parameters?.forEach((p, i) => lines.push(`--   $${i + 1} = ${parameterText(p)}`));
    lines.push(`--   -> ${outcomeText(e.completion)}`);
    for (const m of e.masking) lines.push(`--   masking: ${m.type} ${JSON.stringify(m.data)}`);
    for (const n of e.notes) lines.push(`--   ${n.type} at ${n.ts}: ${JSON.stringify(n.data)}`);
    lines.push('');
  }
  return terminalSafe(lines.join('\n'));
}

export function terminalSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
