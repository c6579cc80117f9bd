import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { SCHEMA_VERSION, type AuditRecord, type EventRecord, type EventType } from '../../events/index.js';
import { limitField } from '../siem/field-limit.js';
import type { Row } from './columns.js';

/** One record as a row of Custom-TrailgateAudit, or why it is not sent (skips are counted, never errors). */
export type EncodedRow = { kind: 'row'; row: Row } | { kind: 'skip'; reason: 'schema-version' | 'stream' };

export interface RowOptions {
  maxFieldBytes: number;
  streams: readonly AuditRecord['stream'][];
}

/**
 * The full-fidelity row: every envelope field `trailgate verify` needs (id, session, seq, prev, hash,
 * the chained timestamp and data), flat columns for analysts, and large values cut to the column limit
 * with a flag and the SHA-256 of the whole. Byte chunks go by length and digest: their content never leaves.
 */
export function encodeRow(record: AuditRecord, o: RowOptions): EncodedRow {
  if (!o.streams.includes(record.stream)) return { kind: 'skip', reason: 'stream' };
  if (typeof record.v !== 'number' || record.v > SCHEMA_VERSION) return { kind: 'skip', reason: 'schema-version' };
  const ci = record.identity?.ci;
  const row: Row = {
    TimeGenerated: record.ts,
    RecordId: record.id,
    SessionId: record.sessionId,
    Seq: record.seq,
    Prev: record.prev,
    Hash: record.hash,
    RecordStream: record.stream,
    RecordType: record.type,
    SchemaVersion: record.v,
    RecordTs: record.ts,
    Instance: record.instance,
    Protocol: record.target?.kind ?? (record.stream === 'events' && record.type === 'session.started' ? (record as EventRecord<'session.started'>).data.protocol : undefined),
    TargetName: record.target?.name,
    TargetKind: record.target?.kind,
    ClientAddress: record.client?.address,
    ClientPort: record.client?.port,
    IdentityIssuer: record.identity?.issuer,
    IdentitySubject: record.identity?.subject,
    TokenId: record.identity?.tokenId,
    Repository: ci?.repository,
    Workflow: ci?.workflow,
    GitRef: ci?.ref,
    CommitSha: ci?.sha,
    RunId: ci?.runId,
    RunAttempt: ci?.runAttempt,
    Actor: ci?.actor,
    CiEnvironment: ci?.environment,
    Identity: record.identity ?? undefined,
  };
  if (record.stream === 'bytes') {
    Object.assign(row, {
      BytesDirection: record.direction,
      BytesChannel: record.channel,
      BytesStderr: record.stderr,
      BytesOffset: record.offset,
      BytesLength: record.data.length,
      BytesSha256: createHash('sha256').update(record.data).digest('base64url'),
    });
  } else {
    Object.assign(row, typeColumns(record, o.maxFieldBytes), dataColumns(record.data, o.maxFieldBytes));
  }
  return { kind: 'row', row: withoutUndefined(row) };
}

function typeColumns(record: EventRecord, maxBytes: number): Row {
  const r = record as EventRecord<EventType>;
  switch (r.type) {
    case 'auth.decided': {
      const d = (r as EventRecord<'auth.decided'>).data;
      return { Outcome: d.outcome, Reason: cut(d.reason, maxBytes) };
    }
    case 'policy.decided':
      return { Outcome: (r as EventRecord<'policy.decided'>).data.outcome };
    case 'command.started': {
      const d = (r as EventRecord<'command.started'>).data;
      const text = limitField(d.text, maxBytes);
      return {
        Outcome: d.decision?.outcome,
        Reason: d.decision?.outcome === 'denied' ? `missing rights: ${(d.decision.missing ?? []).join(', ')}` : undefined,
        CommandText: text.value,
        CommandTextTruncated: text.truncated,
        CommandTextSha256: text.sha256,
        CommandProtocol: d.protocol,
        DecisionNeeds: d.decision?.needs,
      };
    }
    case 'command.completed': {
      const d = (r as EventRecord<'command.completed'>).data;
      return { Outcome: d.outcome, ErrorMessage: cut(d.error, maxBytes) };
    }
    case 'file.operation': {
      const d = (r as EventRecord<'file.operation'>).data;
      const path = d.name && d.path ? `${d.path.replace(/\/$/, '')}/${d.name}` : (d.path ?? d.name);
      return { Outcome: d.outcome, FileOperation: d.op, FilePath: cut(path, maxBytes), FileBytes: d.bytes, ErrorMessage: cut(d.error, maxBytes) };
    }
    case 'request.refused': {
      const d = (r as EventRecord<'request.refused'>).data;
      return { Outcome: 'refused', Reason: cut(d.reason, maxBytes) };
    }
    case 'kube.request': {
      // Existing columns only (the DCR's stream is fixed): the request as a command line, e.g. `delete pods ci/web-0`.
      const d = (r as EventRecord<'kube.request'>).data;
      const what = [d.verb, d.subresource ? `${d.resource}/${d.subresource}` : d.resource, [d.namespace, d.name].filter(Boolean).join('/')].filter(Boolean).join(' ');
      return { Outcome: d.outcome, Reason: cut(d.reason, maxBytes), CommandText: cut(what || d.path, maxBytes), CommandProtocol: 'kubernetes', DecisionNeeds: d.decision.needs };
    }
    case 'session.ended':
      return { Reason: (r as EventRecord<'session.ended'>).data.reason };
    case 'session.aborted':
      return { Reason: (r as EventRecord<'session.aborted'>).data.reason };
    case 'checkpoint.signed':
      return { CheckpointFinal: (r as EventRecord<'checkpoint.signed'>).data.final };
    default:
      return {};
  }
}

function cut(value: string | undefined, maxBytes: number): string | undefined {
  return value === undefined ? undefined : limitField(value, maxBytes).value;
}

/** The record's data as chained; when its JSON is over the limit the longest strings are cut until it fits. */
function dataColumns(data: unknown, maxBytes: number): Row {
  const json = JSON.stringify(data);
  if (Buffer.byteLength(json) <= maxBytes) return { Data: data as object };
  const copy = JSON.parse(json) as unknown;
  for (let round = 0; round < 64; round++) {
    const size = Buffer.byteLength(JSON.stringify(copy));
    if (size <= maxBytes) break;
    const leaf = longestString(copy);
    if (!leaf || leaf.bytes === 0) break;
    leaf.set(limitField(leaf.value, Math.max(0, leaf.bytes - (size - maxBytes) - 64)).value);
  }
  const fits = Buffer.byteLength(JSON.stringify(copy)) <= maxBytes;
  return {
    Data: fits ? (copy as object) : { truncated: true },
    DataTruncated: true,
    DataSha256: createHash('sha256').update(canonicalize(data) ?? '').digest('hex'),
  };
}

interface Leaf {
  value: string;
  bytes: number;
  set(v: string): void;
}

function longestString(node: unknown): Leaf | null {
  let best: Leaf | null = null;
  const visit = (value: unknown, set: (v: string) => void) => {
    if (typeof value === 'string') {
      const bytes = Buffer.byteLength(value);
      if (!best || bytes > best.bytes) best = { value, bytes, set };
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => visit(v, (s) => (value[i] = s)));
    } else if (value && typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      for (const k of Object.keys(obj)) visit(obj[k], (s) => (obj[k] = s));
    }
  };
  visit(node, () => undefined);
  return best;
}

function withoutUndefined(row: Row): Row {
  for (const k of Object.keys(row) as (keyof Row)[]) if (row[k] === undefined) delete row[k];
  return row;
}
