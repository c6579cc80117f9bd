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
  'terminal.opened',
  'terminal.resized',
  'file.operation',
  'request.refused',
  'forward.opened',
  'forward.closed',
  'signal.forwarded',
  'session.ended',
  'spool.watermark',
  'session.aborted',
  'checkpoint.signed',
  'token.reused',
  'environment.requested',
  'kube.request',
  'approval.requested',
  'approval.reviewed',
  'approval.decided',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface SessionStartedData {
  protocol: Protocol;
  /** The gateway instance and client, chained here so that verify can check every record's envelope. */
  instance?: string;
  client?: SessionContext['client'];
  /** Whether the client connection is TLS; false for SSH, whose own encryption is always on. */
  tls: boolean;
  /** What the client asked for in its startup message (never secrets); for SSH `user` is the login name. */
  requested: { database?: string; user?: string; applicationName?: string };
  /** SSH: the client's identification string, e.g. `SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3`. */
  clientSoftware?: string;
}

export interface AuthDecidedData {
  outcome: 'granted' | 'rejected';
  method: 'oidc-token';
  /** SSH: the authentication method that carried the token (`password` or `keyboard-interactive`). */
  via?: 'password' | 'keyboard-interactive';
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
  /** `commands`: the exec command patterns a rule limits its `exec` right to (SSH). */
  matched: { rule: string; rights: string[]; commands?: string[] }[];
  /** Why each other rule did not apply. */
  notMatched: { rule: string; reason: string }[];
  /** Result masking: `exempt` names the rules whose grant lets this session see raw data of masked columns. */
  masking?: { exempt: string[] };
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
  /** Postgres only. */
  database?: string;
  user: string;
  /** Postgres: TLS toward the target; SSH targets are always encrypted and report false. */
  tls: boolean;
  backendPid?: number;
  /** Postgres: `application_name` set on the target; SSH: the same run tag, also sent as TRAILGATE_* environment. */
  applicationName: string;
  serverVersion?: string;
  /** Postgres: the backend was started with default_transaction_read_only on (the session has no write right). */
  readOnly?: boolean;
  /** Postgres: the database role the backend runs as (targets.<name>.roles). */
  role?: string;
  /** SSH: the target's host key as `SHA256:<base64>`, after it matched the pinned key. */
  hostKey?: string;
}

export type ParameterValue = string | null | { base64: string };

export interface CommandStartedData {
  /** Which protocol path carried it: Postgres simple/extended/function; SSH exec, shell or subsystem (sftp). */
  protocol: 'simple' | 'extended' | 'function' | 'exec' | 'shell' | 'subsystem';
  /** The SQL, the exec command line, empty for a shell, the subsystem name. */
  text: string;
  /** SSH: the session channel the command runs on (as in bytes records). */
  channel?: number;
  /** SSH: whether the channel has a terminal (see terminal.opened). */
  pty?: boolean;
  statementName?: string;
  portal?: string;
  parameters?: ParameterValue[];
  parameterTypes?: number[];
  /** Only for the function-call protocol. */
  functionOid?: number;
  decision?: StatementDecision;
  /** The approval that let this command run (approval.decided approved). */
  approvalId?: string;
  /** Values the trail's detectors replaced in `text` and `parameters` (`[masked:<detector>]`), per detector. */
  detectorHits?: Record<string, number>;
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
  /** SSH: the channel of the command; `tags` is empty and `rows` 0 for SSH commands. */
  channel?: number;
  /** SSH: exit status the target reported. */
  exitStatus?: number;
  /** SSH: signal that ended the command on the target, without `SIG` (e.g. `TERM`). */
  exitSignal?: { name: string; coreDumped: boolean; message?: string };
  /**
   * Result masking: masked cells per source column (`schema.table.column`), cells of untraceable columns that
   * went through the detectors, and the detectors' hits there. Absent when nothing was masked or scanned.
   */
  masking?: { cells: Record<string, number>; scanned?: number; detectorHits?: Record<string, number> };
}

/** SSH: a pty was granted on a session channel; cast replay starts from this size. */
export interface TerminalOpenedData {
  channel: number;
  term: string;
  cols: number;
  rows: number;
}

/** SSH: the client's window-change on a pty channel; recorded in order with the channel's output bytes. */
export interface TerminalResizedData {
  channel: number;
  cols: number;
  rows: number;
}

/**
 * SSH: one file operation over SFTP or legacy scp. Reads and writes on an SFTP handle are summed
 * into one `read` and one `write` record when the handle closes (a 20 MB copy is not 640 records).
 */
export interface FileOperationData {
  protocol: 'sftp' | 'scp';
  channel: number;
  op: 'open' | 'close' | 'read' | 'write' | 'stat' | 'setstat' | 'list' | 'remove' | 'rename' | 'mkdir' | 'rmdir' | 'symlink' | 'link' | 'readlink' | 'extended' | 'upload' | 'download';
  path?: string;
  /** rename, symlink and link: the second path. */
  toPath?: string;
  /** scp: the file name the sending side gave; the file is `path/name` when `path` is a directory. */
  name?: string;
  /** open: the access asked for (read, write, append, create, truncate, exclusive). */
  flags?: string[];
  /** read/write/upload/download: bytes moved; stat: the file's size. */
  bytes?: number;
  /** read/write: requests summed into this record; list: entries returned. */
  count?: number;
  /** extended: the request name, e.g. posix-rename@openssh.com. */
  request?: string;
  outcome: 'ok' | 'error' | 'denied';
  /** SFTP status name (NO_SUCH_FILE, PERMISSION_DENIED, ...) or scp error text. */
  status?: string;
  error?: string;
  /** Why the gateway refused it: the right it needs. */
  needs?: string[];
}

/** SSH: a request the gateway refused because no rule grants it (forwarding, agent, X11, a subsystem ...). */
export interface RequestRefusedData {
  request: 'forward-local' | 'forward-remote' | 'agent' | 'x11' | 'streamlocal' | 'subsystem' | 'session' | 'env';
  channel?: number;
  /** What was asked for, e.g. `db.internal:5432` or a subsystem name. */
  detail?: string;
  reason: string;
  needs?: string[];
}

/** SSH: a forwarded connection a rule allowed; `agent`: the target used the client's forwarded agent. */
export interface ForwardOpenedData {
  direction: 'local' | 'remote' | 'agent';
  /** The forwarded connection's channel; -1 for the port a remote forward bound on the target. */
  channel: number;
  /** local: where the target connects to; remote: the port bound on the target. */
  host: string;
  port: number;
  origin?: string;
  rules: string[];
}

export interface ForwardClosedData {
  channel: number;
  bytesFromClient: number;
  bytesToClient: number;
}

/** SSH: a signal the client sent to a running command. */
export interface SignalForwardedData {
  channel: number;
  signal: string;
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

/**
 * A token that already opened a session opened another (by its jti, else its SHA-256 digest). Recorded in
 * the later session, whether the issuer's `tokenReuse` allowed it or the gateway refused it.
 */
export interface TokenReusedData {
  /** The token's jti, or `sha256:<hex>` of the token for issuers that set none; never the token. */
  tokenId: string;
  /** The issuer's setting that decided. */
  policy: 'any' | 'same-client' | 'single-session';
  outcome: 'allowed' | 'refused';
  /** When refused: TG_AUTH_TOKEN_REUSED. */
  code?: string;
  /** Whether this client's address is the one that first used the token. */
  sameClient: boolean;
  /** The session that first used the token: its client address, gateway instance and time. */
  first: { sessionId: string; client: string; instance: string; at: string };
}

/**
 * SSH: a variable the client asked to set on a session channel, and what came of it: relayed and
 * accepted by the target, refused by the target, or refused by the gateway (then never relayed).
 */
export interface EnvironmentRequestedData {
  channel: number;
  name: string;
  /** Left out when a rule masks the variable (`maskEnv`). */
  value?: string;
  masked?: boolean;
  outcome: 'accepted' | 'target-refused' | 'refused';
  /** Why the gateway refused it, e.g. that no rule's `env` lists it. */
  reason?: string;
  /** Rules whose `env` allowed it (or granted shell or all). */
  rules?: string[];
}

/**
 * Kubernetes: one API request through the gateway, recorded when its answer ends (a watch or `logs -f`
 * when the stream closes), or when the gateway refused it. A write's body is recorded through the trail's
 * detectors, cut at the target's `writeBodyBytes`; a Secret's never is.
 */
export interface KubeRequestData {
  method: string;
  /** The Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection, or the HTTP method in lower case for other paths. */
  verb: string;
  /** The path below the target (`/api/v1/namespaces/x/pods/y`), query string left out. */
  path: string;
  apiGroup?: string;
  apiVersion?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** HTTP status the client got. */
  status: number;
  outcome: 'ok' | 'error' | 'denied';
  /** Body bytes from the client and to the client. */
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  decision: StatementDecision;
  /** Why the gateway refused or failed it: a TG_ code and the message the client got. */
  code?: string;
  reason?: string;
  /** An exec, attach or port-forward: the upgrade asked for (websocket or SPDY/3.1) and the subprotocol agreed. */
  upgrade?: { protocol: string; subprotocol?: string };
  userAgent?: string;
  /** A create, update or patch: its body as text, detector hits replaced by `[masked:<detector>]`. */
  body?: string;
  /** The body was longer than the recorded part (bytesIn has its length). */
  bodyTruncated?: true;
  /** Why a write's body is not recorded: a Secret's data never is; a binary (protobuf) body is not text. */
  bodyOmitted?: 'secret' | 'binary';
  /** Values the detectors replaced in `body`, per detector. */
  detectorHits?: Record<string, number>;
}

/** The run the approval is bound to: an approval for one run never lets another run through. */
export interface ApprovalRun {
  repository?: string;
  workflow?: string;
  ref?: string;
  runId?: string;
  runAttempt?: string;
  actor?: string;
  environment?: string;
}

/** A statement or SSH command held until people approve it. */
export interface ApprovalRequestedData {
  approvalId: string;
  rule: string;
  target: string;
  /** A held statement or command; or asked for ahead by the job: a statement set (plan and apply) or a time window. */
  kind: 'statement' | 'command' | 'statement-set' | 'window';
  /** The SQL or the exec command line as the client sent it, detector hits masked (`[masked:card]`); a set: its statements, one per line. */
  text: string;
  /**
   * SHA-256 (hex) of the normalised text, and of the parameters (extended protocol), together binding the approval.
   * When the trail's detectors masked part of a held statement: of the masked text; of a planned statement: `scrypt:<hex>`.
   */
  textSha256: string;
  parametersSha256?: string;
  parameters?: ParameterValue[];
  /** statement-set: each statement's digests and recorded text. */
  statements?: { text: string; textSha256: string; parametersSha256?: string; parameters?: ParameterValue[] }[];
  /** window: how long the approved window lasts, from the decision. */
  windowSeconds?: number;
  /** Values the trail's detectors replaced in `text` and `parameters`, per detector. */
  detectorHits?: Record<string, number>;
  run: ApprovalRun;
  quorum: number;
  expiresAt: string;
  /** Where reviewers decide. */
  link?: string;
}

/** One person's verdict; `counted` false when it does not count toward the decision, and why. */
export interface ApprovalReviewedData {
  approvalId: string;
  reviewer: string;
  verdict: 'approve' | 'reject';
  reason?: string;
  counted: boolean;
  refusedReason?: 'self' | 'not-eligible' | 'duplicate';
  /** The rule allows the run's actor to approve, and this reviewer is that actor. */
  selfApproval?: boolean;
  at: string;
}

/** How a held statement or command ended. */
export interface ApprovalDecidedData {
  approvalId: string;
  state: 'approved' | 'rejected' | 'expired' | 'withdrawn' | 'abandoned' | 'refused';
  /** Who approved (approved) or who rejected (rejected). */
  deciders: string[];
  reason?: string;
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
  'terminal.opened': TerminalOpenedData;
  'terminal.resized': TerminalResizedData;
  'file.operation': FileOperationData;
  'request.refused': RequestRefusedData;
  'forward.opened': ForwardOpenedData;
  'forward.closed': ForwardClosedData;
  'signal.forwarded': SignalForwardedData;
  'session.ended': SessionEndedData;
  'spool.watermark': SpoolWatermarkData;
  'session.aborted': SessionAbortedData;
  'checkpoint.signed': CheckpointSignedData;
  'token.reused': TokenReusedData;
  'environment.requested': EnvironmentRequestedData;
  'kube.request': KubeRequestData;
  'approval.requested': ApprovalRequestedData;
  'approval.reviewed': ApprovalReviewedData;
  'approval.decided': ApprovalDecidedData;
}
