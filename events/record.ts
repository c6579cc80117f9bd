import type { EventDataByType, EventType } from './catalogue.js';
import type { JobIdentity } from './identity.js';

/** Bumped when a field changes meaning; readers accept every version they know and skip the rest. */
export const SCHEMA_VERSION = 1;

export type Direction = 'client' | 'server';

/** The protocols the gateway speaks; a target has the kind of the protocol that reaches it. */
export type Protocol = 'postgres' | 'ssh' | 'kubernetes';

/** What is fixed for a whole session and carried by each of its records. */
export interface SessionContext {
  sessionId: string;
  /** Gateway instance that owns the session. */
  instance: string;
  protocol: Protocol;
  target: { name: string; kind: Protocol } | null;
  /** Absent while (or because) authentication did not succeed. */
  identity: JobIdentity | null;
  client: { address: string; port: number };
}

interface RecordEnvelope {
  v: number;
  /** Deterministic: `${sessionId}:${seq}`. */
  id: string;
  sessionId: string;
  /** One sequence per session across both streams, starting at 1. */
  seq: number;
  /** ISO 8601 with milliseconds. */
  ts: string;
  instance: string;
  target: SessionContext['target'];
  identity: JobIdentity | null;
  client: SessionContext['client'];
  /** Hash of the previous record of the session ("" for the first): see events/chain.ts. */
  prev: string;
  /** This record's link in the session's hash chain. */
  hash: string;
}

export type EventRecord<T extends EventType = EventType> = RecordEnvelope & {
  stream: 'events';
  type: T;
  data: EventDataByType[T];
};

/** Raw session bytes as the client sent them (`client`) or received them (`server`). */
export interface BytesRecord extends RecordEnvelope {
  stream: 'bytes';
  type: 'bytes';
  direction: Direction;
  /** SSH channel the bytes belong to; absent for single-stream protocols (Postgres). */
  channel?: number;
  /** SSH extended data (the channel's stderr); its offsets count apart from the channel's stdout. */
  stderr?: true;
  /** Offset of the first byte within that direction (and channel) of the session. */
  offset: number;
  data: Buffer;
}

export type AuditRecord = EventRecord | BytesRecord;

export function recordId(sessionId: string, seq: number): string {
  return `${sessionId}:${seq}`;
}
