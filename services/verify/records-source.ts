import { readFileSync } from 'node:fs';
import type { AuditRecord } from '../../events/index.js';
import type { VerifySource } from './verify-source.js';

/** What reading an export found besides the records: copies, lines that are no record, values a sink cut. */
export interface RecordsFileSummary {
  lines: number;
  records: number;
  /** Copies of a record already read, identical to it (a resend): removed. */
  duplicates: number;
  /** Record ids seen twice with different content: one of the copies is not what the gateway wrote. */
  conflicting: string[];
  /** Lines that hold no forwarded envelope (line numbers, 1-based). */
  unreadable: number[];
  /** Records whose values a SIEM sink marks as cut to its field limit, with the SHA-256 of each full value. */
  truncated: { id: string; sessionId: string; seq: number; fields: string[]; sha256: string[] }[];
}

type Envelope = Record<string, unknown> & { id: string; sessionId: string; seq: number; hash: string };

function isEnvelope(v: unknown): v is Envelope {
  const e = v as Partial<Envelope> | null;
  return !!e && typeof e === 'object' && typeof e.id === 'string' && typeof e.sessionId === 'string' && typeof e.seq === 'number' && typeof e.hash === 'string';
}

/**
 * Finds the forwarded envelope in one exported line: the envelope itself, a HEC event
 * (`{"event": {...}}`), or a Splunk search export (`{"result": {"_raw": "..."}}`, `{"_raw": "..."}`).
 */
export function envelopeOf(line: unknown): Envelope | null {
  if (isEnvelope(line)) return line;
  if (!line || typeof line !== 'object') return null;
  const o = line as Record<string, unknown>;
  for (const candidate of [o.event, o.result, o._raw, o.record, o.Record]) {
    if (typeof candidate === 'string') {
      try {
        const found = envelopeOf(JSON.parse(candidate));
        if (found) return found;
      } catch {
        // not JSON: not the envelope
      }
    } else if (candidate && typeof candidate === 'object') {
      const found = envelopeOf(candidate);
      if (found) return found;
    }
  }
  return null;
}

/** The exported copy of a record that is chained: identical copies are resends, others conflict. */
function sameRecord(a: Envelope, b: Envelope): boolean {
  return a.hash === b.hash && a.prev === b.prev && JSON.stringify(a.data ?? null) === JSON.stringify(b.data ?? null) && a.sha256 === b.sha256 && a.ts === b.ts;
}

/**
 * A VerifySource over records exported back out of a SIEM as NDJSON: deduplicated by record id,
 * in seq order per session. Byte chunks carry their SHA-256 and length instead of the payload, which
 * is all the chain needs (events/CHAIN.md). An export holds no gateway ledger.
 */
export function recordsFileSource(file: string): { source: VerifySource; summary: RecordsFileSummary } {
  const text = readFileSync(file, 'utf8');
  const summary: RecordsFileSummary = { lines: 0, records: 0, duplicates: 0, conflicting: [], unreadable: [], truncated: [] };
  const byId = new Map<string, Envelope>();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    summary.lines++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      summary.unreadable.push(i + 1);
      return;
    }
    const env = envelopeOf(parsed);
    if (!env) {
      summary.unreadable.push(i + 1);
      return;
    }
    const seen = byId.get(env.id);
    if (seen) {
      if (sameRecord(seen, env)) summary.duplicates++;
      else if (!summary.conflicting.includes(env.id)) summary.conflicting.push(env.id);
      return;
    }
    byId.set(env.id, env);
    // Only the record's data is ever cut (`data_truncated`, `data.text_truncated`): the chain fields are short.
    const cut = Object.keys(env).filter((k) => k.startsWith('data') && k.endsWith('_truncated') && env[k] === true).map((k) => k.slice(0, -'_truncated'.length));
    if (cut.length) summary.truncated.push({ id: env.id, sessionId: env.sessionId, seq: env.seq, fields: cut, sha256: cut.map((f) => String(env[`${f}_sha256`] ?? '')) });
  });
  summary.records = byId.size;
  const sessions = new Map<string, AuditRecord[]>();
  for (const env of byId.values()) {
    const list = sessions.get(env.sessionId) ?? [];
    list.push(env as unknown as AuditRecord);
    sessions.set(env.sessionId, list);
  }
  for (const list of sessions.values()) list.sort((a, b) => a.seq - b.seq);
  const cutById = new Map(summary.truncated.map((t) => [t.id, t.fields]));
  const source: VerifySource = {
    describe: () => `records exported from a SIEM, ${file} (${summary.records} records, ${summary.duplicates} duplicate copies removed)`,
    sessionIds: () => [...sessions.keys()].sort(),
    records: (id) => sessions.get(id) ?? [],
    // An export carries records only: no ledger to hold them against, so no start times are checked either.
    ledger: () => [],
    sessionStarts: () => [],
    cutFields: (r) => cutById.get(r.id) ?? [],
  };
  return { source, summary };
}
