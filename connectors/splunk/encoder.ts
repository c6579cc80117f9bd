import { payloadDigest, type AuditRecord } from '../../events/index.js';
import { limitField } from '../siem/field-limit.js';

/** One record as a HEC event: the JSON line posted to /services/collector/event. */
export interface HecEvent {
  record: AuditRecord;
  /** The envelope as JSON text, newline-terminated, ready to concatenate. */
  line: string;
  bytes: number;
  truncated: string[];
}

export type EncodedEvent = { kind: 'event'; event: HecEvent } | { kind: 'too-large'; record: AuditRecord; bytes: number };

export interface EventEncoding {
  source: string;
  sourcetype: string;
  index?: string;
  maxFieldBytes: number;
  maxEventBytes: number;
}

/**
 * The forwarded envelope: the record exactly as chained (so `trailgate verify --records` can check it
 * from an export), except that byte chunks carry only their SHA-256 and length, never the payload
 * (it may hold anything a terminal showed), and strings longer than the field limit are cut, with
 * `<path>_truncated` and `<path>_sha256` of the full value beside the record's fields.
 */
export function forwardedEnvelope(record: AuditRecord, maxFieldBytes: number): { event: Record<string, unknown>; truncated: string[] } {
  const truncated: string[] = [];
  const flags: Record<string, unknown> = {};
  const base = {
    v: record.v,
    id: record.id,
    sessionId: record.sessionId,
    seq: record.seq,
    ts: record.ts,
    stream: record.stream,
    type: record.type,
    instance: record.instance,
    target: record.target,
    identity: record.identity,
    client: record.client,
    prev: record.prev,
    hash: record.hash,
  };
  if (record.stream === 'bytes') {
    const chunk = {
      direction: record.direction,
      ...(record.channel === undefined ? {} : { channel: record.channel }),
      ...(record.stderr ? { stderr: true } : {}),
      offset: record.offset,
      length: record.data.length,
      sha256: payloadDigest(record.data),
    };
    return { event: { ...base, ...chunk }, truncated };
  }
  const data = cutStrings(record.data, 'data', maxFieldBytes, (path, sha256) => {
    truncated.push(path);
    flags[`${path}_truncated`] = true;
    flags[`${path}_sha256`] = sha256;
  });
  return { event: { ...base, data, ...flags }, truncated };
}

function cutStrings(value: unknown, path: string, max: number, cut: (path: string, sha256: string) => void): unknown {
  if (typeof value === 'string') {
    const limited = limitField(value, max);
    if (limited.truncated) cut(path, limited.sha256!);
    return limited.value;
  }
  if (Array.isArray(value)) return value.map((v, i) => cutStrings(v, `${path}.${i}`, max, cut));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cutStrings(v, `${path}.${k}`, max, cut)]));
  return value;
}

/** Index-time fields: flat strings only (HEC refuses nesting with code 15); few, for fast tstats. */
function indexedFields(record: AuditRecord): Record<string, string> {
  const ci = record.identity?.ci;
  const fields: Record<string, string | undefined> = {
    record_id: record.id,
    session_id: record.sessionId,
    seq: String(record.seq),
    record_type: record.type,
    stream: record.stream,
    gateway: record.instance,
    target: record.target?.name,
    repository: ci?.repository,
    run_id: ci?.runId,
    actor: ci?.actor,
  };
  return Object.fromEntries(Object.entries(fields).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
}

/** Splunk's `time`: epoch seconds with the record's milliseconds. */
export function hecTime(ts: string): number {
  return Math.round(Date.parse(ts)) / 1000;
}

export function encodeEvent(record: AuditRecord, o: EventEncoding): EncodedEvent {
  const { event, truncated } = forwardedEnvelope(record, o.maxFieldBytes);
  const envelope = {
    time: hecTime(record.ts),
    host: record.instance,
    source: o.source,
    sourcetype: o.sourcetype,
    ...(o.index ? { index: o.index } : {}),
    event,
    fields: indexedFields(record),
  };
  const line = `${JSON.stringify(envelope)}\n`;
  const bytes = Buffer.byteLength(line);
  if (bytes > o.maxEventBytes) return { kind: 'too-large', record, bytes };
  return { kind: 'event', event: { record, line, bytes, truncated } };
}
