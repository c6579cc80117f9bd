import type net from 'node:net';
import type tls from 'node:tls';
import type { JobIdentity, PolicyDecidedData, SessionContext, SessionEndedData, TokenReusedData } from '../../../events/index.js';
import { newSessionId } from '../../../events/index.js';
import { IdentityError } from '../identity/errors.js';
import { TokenReusedError, type TokenUses } from '../identity/token-uses.js';
import type { ClaimRule } from '../../config/schema.js';
import { backendSettings } from '../policy/backend-settings.js';
import { decide } from '../policy/claim-rules.js';
import { SessionPolicy } from '../policy/session-policy.js';
import { SessionMasking } from '../../masking/session-masking.js';
import type { LogWriter } from '../recorder/log-writer.js';
import { SessionRecorder, type CheckpointPolicy, type ChunkPolicy } from '../recorder/session-recorder.js';
import { applicationNameFor } from './application-name.js';
import { isUtf8EncodingName } from './client-encoding.js';
import { connectTarget, sendCancel, TargetError, type TargetEndpoint } from './backend-connection.js';
import { authenticationOk, backendKeyData, parameterStatus, readyForQuery } from './backend-writer.js';
import type { CancelRegistry } from './cancel-registry.js';
import { ClientHandshake } from './client-handshake.js';
import { ProtocolError, SqlState } from './protocol.js';
import { RelaySession } from './relay-session.js';
import { RunTag } from './run-tag.js';
import { sqlcommenterComment } from './sqlcommenter.js';
import type { StatementGate } from './statement-gate.js';
import type { ApprovalDesk } from '../../approvals/approval-desk.js';
import { StatementApprovals } from '../../approvals/statement-approvals.js';

export interface PostgresGatewayDeps {
  instance: string;
  verifier: { verify(token: string | undefined): Promise<JobIdentity> };
  targets: ReadonlyMap<string, TargetEndpoint>;
  gate: StatementGate;
  rules: ClaimRule[];
  writer: LogWriter;
  cancels: CancelRegistry;
  tlsContext: tls.SecureContext | null;
  requireTlsForRemote: boolean;
  maxMessageBytes: number;
  authTimeoutMs: number;
  chunkPolicy: ChunkPolicy;
  checkpoints: CheckpointPolicy;
  recordingMode: 'strict' | 'async';
  /** Asked before each new session: a refusal (the spool is low on disk) turns the client away. */
  admission?: () => { code: string; message: string; reason?: SessionEndedData['reason'] } | null;
  /** Replay protection: a token's later sessions are checked against its first (identity/token-uses.ts). */
  tokenUses?: TokenUses;
  /** Holds statements that approval rules name until people decide. */
  approvals?: ApprovalDesk;
}

/** SQLSTATE cannot_connect_now: the client may try again later. */
const CANNOT_CONNECT_NOW = '57P03';

/**
 * Startup parameters passed on to the target; everything else (options, replication, role tricks) is
 * dropped. Settings that change how the server reads statement text (standard_conforming_strings, a
 * non-UTF8 client_encoding) would let the target parse a statement differently from the policy.
 */
const FORWARDED_PARAMETERS = new Set(['client_encoding', 'DateStyle', 'TimeZone', 'IntervalStyle', 'extra_float_digits', 'search_path']);

/** One client connection, from its first byte to its last: handshake, token, target, relay. */
export async function servePostgresConnection(socket: net.Socket, deps: PostgresGatewayDeps, sessions: Set<RelaySession>): Promise<void> {
  socket.setNoDelay(true);
  const remote = { address: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 };
  const context: SessionContext = { sessionId: newSessionId(), instance: deps.instance, protocol: 'postgres', target: null, identity: null, client: remote };
  const recorder = new SessionRecorder(context, deps.writer, deps.chunkPolicy, deps.checkpoints);
  const handshake = new ClientHandshake(socket, { tlsContext: deps.tlsContext, requireTls: deps.requireTlsForRemote && !isLoopback(remote.address), maxMessageBytes: deps.maxMessageBytes });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    handshake.reject(SqlState.InvalidAuthorization, `authentication not completed within ${deps.authTimeoutMs / 1000} s [TG_AUTH_TIMEOUT]`);
  }, deps.authTimeoutMs);

  let started: { tls: boolean; requested: { database?: string; user?: string; applicationName?: string } } | null = null;
  // Decisions taken before the target answers are recorded together, once the outcome is known.
  let policy: PolicyDecidedData | null = null;
  let authGranted = false;
  let reuse: TokenReusedData | undefined;
  const recordOpening = () => {
    recorder.event('session.started', { protocol: 'postgres', instance: context.instance, client: context.client, ...(started ?? { tls: false, requested: {} }) });
    if (reuse && !authGranted) recorder.event('token.reused', reuse);
    if (authGranted && context.identity) recorder.event('auth.decided', { outcome: 'granted', method: 'oidc-token', identity: context.identity });
    if (reuse && authGranted) recorder.event('token.reused', reuse);
    if (policy) recorder.event('policy.decided', policy);
  };
  const refuse = (sqlstate: string, code: string, message: string, reason: SessionEndedData['reason'], hint?: string) => {
    if (!timedOut) handshake.reject(sqlstate, `${message} [${code}]`, hint);
    recordOpening();
    if (!authGranted) recorder.event('auth.decided', { outcome: 'rejected', method: 'oidc-token', code, reason: message });
    recorder.event('session.ended', { reason, detail: `${code}: ${message}`, bytesFromClient: 0, bytesToClient: 0, commands: 0 });
  };

  try {
    const hello = await handshake.run();
    if (hello.kind === 'cancel') {
      clearTimeout(timer);
      // The client learns nothing either way; it waits for the close, so the cancel goes out first.
      await deps.cancels.find(hello.processId, hello.secretKey)?.cancel();
      handshake.finish();
      return;
    }
    const params = hello.parameters;
    const refusal = deps.admission?.();
    if (refusal) {
      started = { tls: hello.tls, requested: {} };
      refuse(CANNOT_CONNECT_NOW, refusal.code, refusal.message, refusal.reason ?? 'recording-unavailable', 'try again later, or through another gateway');
      return;
    }
    started = {
      tls: hello.tls,
      requested: {
        ...(params.database !== undefined ? { database: params.database } : {}),
        ...(params.user !== undefined ? { user: params.user } : {}),
        ...(params.application_name !== undefined ? { applicationName: params.application_name } : {}),
      },
    };
    let identity: JobIdentity;
    try {
      identity = await deps.verifier.verify(hello.password);
      reuse = await deps.tokenUses?.admit(identity, hello.password ?? '', remote.address, context.sessionId);
    } catch (err) {
      if (err instanceof TokenReusedError) reuse = err.reuse;
      const e = err instanceof IdentityError ? err : new IdentityError('TG_AUTH_MALFORMED', 'the token could not be verified');
      refuse(SqlState.InvalidAuthorization, e.code, `token rejected: ${e.message}`, 'auth-failed', 'pass the CI job\'s OIDC token as the password');
      return;
    }
    context.identity = identity;
    authGranted = true;
    // The database name the client asks for names the target; the job never learns the real one.
    const targetName = params.database ?? params.user ?? '';
    const endpoint = deps.targets.get(targetName);
    if (!endpoint) {
      refuse(SqlState.InvalidCatalogName, 'TG_TARGET_UNKNOWN', `no target named '${targetName}' on this gateway; pass the target name as the database name`, 'policy-denied');
      return;
    }
    context.target = { name: endpoint.name, kind: 'postgres' };
    const grant = decide(deps.rules, identity, endpoint.name);
    const masking = endpoint.masking ? new SessionMasking(endpoint.masking, endpoint.masking.exemptBy(grant.matched.map((m) => m.rule))) : undefined;
    policy = { outcome: grant.rights.length ? 'granted' : 'denied', target: endpoint.name, rights: grant.rights, matched: grant.matched, notMatched: grant.notMatched, ...(masking?.exempt ? { masking: { exempt: [...masking.exemptBy] } } : {}) };
    if (!grant.rights.length) {
      const who = identity.ci.repository ?? identity.subject;
      refuse(SqlState.InsufficientPrivilege, 'TG_POLICY_NO_RULE', `no policy rule grants ${who} access to target '${endpoint.name}'`, 'policy-denied', `run \`trailgate policy explain --target ${endpoint.name}\` with this job's token to see why each rule did not apply`);
      return;
    }

    const runTag = await RunTag.create(applicationNameFor(identity));
    const applicationName = runTag.applicationName(params.application_name);
    const forwarded: Record<string, string> = { application_name: applicationName };
    for (const [k, v] of Object.entries(params)) if (FORWARDED_PARAMETERS.has(k)) forwarded[k] = v;
    // Enforced by the database too: read-only mode and the configured role, set at backend startup.
    const enforcement = backendSettings(grant.rights, endpoint.roles ?? []);
    if (enforcement.options) forwarded.options = enforcement.options;
    if (forwarded.client_encoding !== undefined && !isUtf8EncodingName(forwarded.client_encoding)) {
      refuse(SqlState.FeatureNotSupported, 'TG_PG_ENCODING', `client_encoding '${forwarded.client_encoding}' is not relayed: the gateway reads statements as UTF8; connect with client_encoding=UTF8`, 'protocol-error');
      return;
    }

    let link;
    try {
      link = await connectTarget(endpoint, forwarded, deps.authTimeoutMs);
    } catch (err) {
      const e = err instanceof TargetError ? err : new TargetError('TG_TARGET_UNREACHABLE', (err as Error).message);
      refuse(SqlState.CannotConnect, e.code, `could not connect to target '${endpoint.name}': ${e.message}`, 'target-unavailable');
      return;
    }
    clearTimeout(timer);

    recordOpening();
    const serverVersion = link.parameters.find(([k]) => k === 'server_version')?.[1];
    recorder.event('target.connected', {
      host: endpoint.host,
      port: endpoint.port,
      database: endpoint.database,
      user: endpoint.user,
      tls: link.tls,
      backendPid: link.processId,
      applicationName,
      ...(serverVersion ? { serverVersion } : {}),
      ...(enforcement.readOnly ? { readOnly: true } : {}),
      ...(enforcement.role ? { role: enforcement.role } : {}),
    });

    let relay: RelaySession | null = null;
    const cancelKey = deps.cancels.issue({
      cancel: async () => {
        // A statement still waiting for approval never reached the target: the cancel withdraws it.
        if (relay?.withdrawHeld()) {
          recorder.event('cancel.requested', { forwarded: false });
          return true;
        }
        recorder.event('cancel.requested', { forwarded: true });
        try {
          await sendCancel(endpoint, link.processId, link.secretKey, deps.authTimeoutMs);
          return true;
        } catch {
          return false;
        }
      },
    });
    const client = hello.socket;
    handshake.detach();
    const welcome = Buffer.concat([
      authenticationOk(),
      ...link.parameters.map(([k, v]) => parameterStatus(k, v)),
      backendKeyData(cancelKey.processId, cancelKey.secretKey),
      readyForQuery(link.status),
    ]);
    client.write(welcome);
    recorder.bytes('server', welcome);

    const runsCode = grant.rights.some((r) => r === 'all' || r === 'function');
    const readOnlyRunningCode = enforcement.readOnly && grant.rights.some((r) => r === 'function' || r === 'code');
    const approvalRules = deps.approvals?.forTarget(endpoint.name);
    relay = new RelaySession({
      client,
      target: link.socket,
      framer: hello.framer,
      recorder,
      gate: deps.gate,
      gateContext: { sessionId: context.sessionId, target: endpoint.name, identity, grant, session: new SessionPolicy(!runsCode, readOnlyRunningCode), ...(masking ? { masking } : {}) },
      statementComment: endpoint.sqlcommenter ? sqlcommenterComment(identity, context.sessionId) : '',
      runTag,
      recordingMode: deps.recordingMode,
      guard: { readOnly: enforcement.readOnly, authorization: !grant.rights.some((r) => r === 'all' || r === 'admin') },
      oneAtATime: readOnlyRunningCode,
      ...(approvalRules ? { approvals: new StatementApprovals(approvalRules, { target: endpoint.name, identity, sessionId: context.sessionId, record: (type, data) => void recorder.event(type, data), trail: endpoint.trail ?? null }) } : {}),
      trail: endpoint.trail ?? null,
    });
    relay.noteStartupSettings(link.parameters);
    sessions.add(relay);
    relay.start();
    await relay.done;
    sessions.delete(relay);
    cancelKey.release();
  } catch (err) {
    clearTimeout(timer);
    const pe = timedOut
      ? new ProtocolError('TG_AUTH_TIMEOUT', `authentication not completed within ${deps.authTimeoutMs / 1000} s`, SqlState.InvalidAuthorization)
      : err instanceof ProtocolError
        ? err
        : new ProtocolError('TG_PG_STARTUP', (err as Error).message);
    // A connection that closes before saying anything (a health check, a port scan) is not a session.
    if (pe.code === 'TG_PG_CLIENT_GONE' && !started) return;
    refuse(pe.sqlstate, pe.code, pe.message, pe.sqlstate === SqlState.InvalidAuthorization ? 'auth-failed' : 'protocol-error');
  }
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
