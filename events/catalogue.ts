import type { JobIdentity } from './identity.js';
import type { Protocol, SessionContext } from './record.js';
/**
 * Every record type Trailgate writes, with the fields of its `data`.
 * Consumers switch on `type` and must skip (and count) types they do not know.
 */
export const EVENT_TYPES = [
  'session.started',
  'auth.decided',
  'policy.decided',
  'target.connected',
  'command.started',
  'command.completed',
  'cancel.requested',
  'notification.received',
  'session.ended',
  'spool.watermark',
  'session.aborted',
  'checkpoint.signed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface SessionStartedData {
  protocol: Protocol;
  /** The gateway instance and client, chained here so that verify can check every record's envelope. */
  instance?: string;
  client?: SessionContext['client'];
  /** Whether the client connection is TLS. */
  tls: boolean;
  /** What the client asked for in its startup message (never secrets). */
  requested: { database?: string; user?: string; applicationName?: string };
}

export interface AuthDecidedData {
  outcome: 'granted' | 'rejected';
  method: 'oidc-token';
  /** Error code when rejected, e.g. TG_AUTH_EXPIRED. */
  code?: string;
  reason?: string;
  /** Who the token proved the job to be, when granted; every later record's envelope must match it. */
  identity?: JobIdentity;
}

/** What the job may do on its target, decided once per session from its token's claims. */
export interface PolicyDecidedData {
  outcome: 'granted' | 'denied';
  target: string;
  rights: string[];
  matched: { rule: string; rights: string[] }[];
  /** Why each other rule did not apply. */
  notMatched: { rule: string; reason: string }[];
}

/** The policy's word on one statement, carried by the command it decided. */
export interface StatementDecision {
  outcome: 'allowed' | 'denied';
  /** Rights the statement needs, from the PostgreSQL parser. */
  needs: string[];
  missing?: string[];
  /** Rules whose rights covered it. */
  rules?: string[];
  parseError?: string;
}

export interface TargetConnectedData {
  host: string;
  port: number;
  database: string;
  user: string;
  tls: boolean;
  backendPid?: number;
  applicationName: string;
  serverVersion?: string;
}

export type ParameterValue = string | null | { base64: string };

export interface CommandStartedData {
  /** Which protocol path carried it. */
  protocol: 'simple' | 'extended' | 'function';
  text: string;
  statementName?: string;
  portal?: string;
  parameters?: ParameterValue[];
  parameterTypes?: number[];
  /** Only for the function-call protocol. */
  functionOid?: number;
  decision?: StatementDecision;
}

export interface CommandCompletedData {
  /** seq of the command.started record this completes. */
  commandSeq: number;
  outcome: 'ok' | 'error' | 'denied' | 'suspended';
  durationMs: number;
  /** Command tags as the server reported them, one per statement. */
  tags: string[];
  rows: number;
  /** COPY payload bytes in either direction. */
  copyBytes?: number;
  sqlstate?: string;
  error?: string;
}

export interface CancelRequestedData {
  /** Whether the target acknowledged the cancel connection. */
  forwarded: boolean;
}

export interface NotificationReceivedData {
  channel: string;
  payload: string;
  processId: number;
}

export interface SessionEndedData {
  reason: 'client-terminated' | 'client-disconnected' | 'target-disconnected' | 'auth-failed' | 'policy-denied' | 'protocol-error' | 'gateway-shutdown' | 'target-unavailable' | 'recording-unavailable';
  detail?: string;
  bytesFromClient: number;
  bytesToClient: number;
  commands: number;
}

/**
 * The gateway's spool in front of Kafka crossed a disk watermark: at `low` new sessions are refused,
 * at `critical` recorded sessions are ended. Recorded in each session open at the crossing.
 */
export interface SpoolWatermarkData {
  level: 'ok' | 'low' | 'critical';
  previous: 'ok' | 'low' | 'critical';
  /** Free bytes on the spool's file system, and bytes waiting in the spool for Kafka. */
  freeBytes: number;
  spoolBytes: number;
}

/** Written by a restarted gateway for each session it owned that never ended: the tail may be lost. */
export interface SessionAbortedData {
  reason: 'gateway-restart';
  /** The last record that reached the log before the gateway stopped. */
  lastSeq: number;
  detail: string;
}

/**
 * The gateway's signature over the chain head at `covers` (a compact JWS, EdDSA, over
 * {v, sid, seq, hash, final}). The final checkpoint comes last and seals the session.
 */
export interface CheckpointSignedData {
  covers: { seq: number; hash: string };
  kid: string;
  jws: string;
  final: boolean;
}

export interface EventDataByType {
  'session.started': SessionStartedData;
  'auth.decided': AuthDecidedData;
  'policy.decided': PolicyDecidedData;
  'target.connected': TargetConnectedData;
  'command.started': CommandStartedData;
  'command.completed': CommandCompletedData;
  'cancel.requested': CancelRequestedData;
  'notification.received': NotificationReceivedData;
  'session.ended': SessionEndedData;
  'spool.watermark': SpoolWatermarkData;
  'session.aborted': SessionAbortedData;
  'checkpoint.signed': CheckpointSignedData;
}
