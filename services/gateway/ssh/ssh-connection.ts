import type { ApprovalDesk } from '../../approvals/approval-desk.js';
import type { AuthContext, ClientInfo, Connection, KeyboardAuthContext } from 'ssh2';
import type { JobIdentity, PolicyDecidedData, SessionContext, SessionEndedData, TokenReusedData } from '../../../events/index.js';
import { newSessionId } from '../../../events/index.js';
import type { ClaimRule } from '../../config/schema.js';
import { IdentityError } from '../identity/errors.js';
import { TokenReusedError, type TokenUses } from '../identity/token-uses.js';
import { decide } from '../policy/claim-rules.js';
import { applicationNameFor } from '../postgres/application-name.js';
import type { LogWriter } from '../recorder/log-writer.js';
import { SessionRecorder, type CheckpointPolicy, type ChunkPolicy } from '../recorder/session-recorder.js';
import type { SshEndpoint } from '../targets.js';
import { ClientAgentRelay, canRelayAgent } from './agent-relay.js';
import { EnvironmentPolicy } from './environment-policy.js';
import { runTags } from './run-tags.js';
import { SshSession } from './ssh-session.js';
import { connectSshTarget, SshTargetError, type SshTargetLink } from './target-connection.js';

export interface SshGatewayDeps {
  instance: string;
  verifier: { verify(token: string | undefined): Promise<JobIdentity> };
  targets: ReadonlyMap<string, SshEndpoint>;
  rules: ClaimRule[];
  writer: LogWriter;
  chunkPolicy: ChunkPolicy;
  checkpoints: CheckpointPolicy;
  recordingMode: 'strict' | 'async';
  recordInput: boolean;
  authTimeoutMs: number;
  /** Asked before each login: a refusal (the spool is low on disk) turns the client away. */
  admission?: () => { code: string; message: string; reason?: SessionEndedData['reason'] } | null;
  /** Replay protection: a token's later sessions are checked against its first (identity/token-uses.ts). */
  tokenUses?: TokenUses;
  /** Holds exec commands that approval rules name until people decide. */
  approvals?: ApprovalDesk;
}

type Via = 'password' | 'keyboard-interactive';

/**
 * OpenSSH reads at most this many characters per password or keyboard-interactive answer, and CI
 * tokens are often longer: an answer this long is asked to continue (bin/trailgate-askpass answers).
 */
export const OPENSSH_ANSWER_LIMIT = 1023;
/** Bounds the continuation rounds; the verifier refuses anything past 64 KiB anyway. */
const MAX_TOKEN_ROUNDS = 64;

/** The login name names the target: `ssh web-1@gateway`, `scp f web-1@gateway:/srv`, `sftp web-1@gateway`. */
export function targetOfLogin(user: string): string {
  return user;
}

/**
 * One client connection: the token arrives as the password (or the keyboard-interactive answer), is
 * verified, the login name picks the target, the policy decides, and the gateway logs in to the
 * target before it lets the client in. A refusal is shown on the client's screen (keyboard-interactive
 * instructions) and recorded; the token is never shown or recorded.
 */
export function serveSshConnection(conn: Connection, info: ClientInfo, deps: SshGatewayDeps, sessions: Set<SshSession>): void {
  const remote = { address: info.ip ?? 'unknown', port: info.port ?? 0 };
  const context: SessionContext = { sessionId: newSessionId(), instance: deps.instance, protocol: 'ssh', target: null, identity: null, client: remote };
  const recorder = new SessionRecorder(context, deps.writer, deps.chunkPolicy, deps.checkpoints);
  const clientSoftware = info.header?.identRaw;
  let state: 'auth' | 'checking' | 'refused' | 'ready' = 'auth';
  let refusal = '';
  let closed = false;
  let login = '';
  let via: Via = 'password';
  let authGranted = false;
  let reuse: TokenReusedData | undefined;
  let policy: PolicyDecidedData | null = null;

  const timer = setTimeout(() => {
    if (state !== 'ready') conn.end();
  }, deps.authTimeoutMs);
  conn.on('error', () => undefined);
  conn.on('close', () => {
    closed = true;
    clearTimeout(timer);
  });

  const recordOpening = () => {
    recorder.event('session.started', { protocol: 'ssh', instance: context.instance, client: context.client, tls: false, requested: { user: login }, ...(clientSoftware ? { clientSoftware } : {}) });
    if (reuse && !authGranted) recorder.event('token.reused', reuse);
    if (authGranted && context.identity) recorder.event('auth.decided', { outcome: 'granted', method: 'oidc-token', via, identity: context.identity });
    if (reuse && authGranted) recorder.event('token.reused', reuse);
    if (policy) recorder.event('policy.decided', policy);
  };
  const ended = (reason: SessionEndedData['reason'], detail: string) => {
    recorder.event('session.ended', { reason, detail, bytesFromClient: 0, bytesToClient: 0, commands: 0 });
  };

  /** Says why on the client's screen (keyboard-interactive shows an instruction text), once; then no method is left. */
  let refusalShown = false;
  const showRefusal = (ctx: KeyboardAuthContext) => {
    if (refusalShown) {
      ctx.reject([]);
      conn.end();
      return;
    }
    refusalShown = true;
    ctx.prompt([], 'Trailgate refused the login', refusal, () => ctx.reject([]));
  };

  const refuse = (ctx: AuthContext, code: string, message: string, reason: SessionEndedData['reason']) => {
    state = 'refused';
    refusal = `${message} [${code}]`;
    recordOpening();
    if (!authGranted) recorder.event('auth.decided', { outcome: 'rejected', method: 'oidc-token', via, code, reason: message });
    ended(reason, `${code}: ${message}`);
    if (closed) return;
    // A password client is sent to keyboard-interactive, the one method whose answer can carry text.
    if (ctx.method === 'keyboard-interactive') showRefusal(ctx as KeyboardAuthContext);
    else ctx.reject(['keyboard-interactive']);
  };

  /** Runs a login; a failure of the gateway's own ends this connection, recorded, and never the gateway. */
  const startLogin = (ctx: AuthContext, token: string | undefined) => {
    admit(ctx, token).catch((err: Error) => {
      console.error(`trailgate: ssh login: ${err.stack ?? err.message}`);
      if (state === 'checking') refuse(ctx, 'TG_INTERNAL', `the gateway failed: ${err.message}`, 'protocol-error');
      conn.end();
    });
  };

  const admit = async (ctx: AuthContext, token: string | undefined) => {
    state = 'checking';
    login = ctx.username;
    const full = deps.admission?.();
    if (full) {
      refuse(ctx, full.code, `${full.message}; try again later, or through another gateway`, full.reason ?? 'recording-unavailable');
      return;
    }
    let identity: JobIdentity;
    try {
      identity = await deps.verifier.verify(token);
      reuse = await deps.tokenUses?.admit(identity, token ?? '', remote.address, context.sessionId);
    } catch (err) {
      if (err instanceof TokenReusedError) reuse = err.reuse;
      const e = err instanceof IdentityError ? err : new IdentityError('TG_AUTH_MALFORMED', 'the token could not be verified');
      const cut =
        via === 'password' && token?.length === OPENSSH_ANSWER_LIMIT
          ? `; the password is exactly ${OPENSSH_ANSWER_LIMIT} characters, where OpenSSH cuts passwords: log in by keyboard-interactive with bin/trailgate-askpass`
          : '';
      refuse(ctx, e.code, `token rejected: ${e.message}${cut}`, 'auth-failed');
      return;
    }
    context.identity = identity;
    authGranted = true;
    const name = targetOfLogin(login);
    const endpoint = deps.targets.get(name);
    if (!endpoint) {
      refuse(ctx, 'TG_TARGET_UNKNOWN', `no SSH target named '${name}' on this gateway; log in as <target>@<gateway>`, 'policy-denied');
      return;
    }
    context.target = { name: endpoint.name, kind: 'ssh' };
    const grant = decide(deps.rules, identity, endpoint.name, 'ssh');
    policy = { outcome: grant.rights.length ? 'granted' : 'denied', target: endpoint.name, rights: grant.rights, matched: grant.matched, notMatched: grant.notMatched };
    if (!grant.rights.length) {
      const who = identity.ci.repository ?? identity.subject;
      refuse(ctx, 'TG_POLICY_NO_RULE', `no policy rule grants ${who} access to target '${endpoint.name}'; \`trailgate policy explain --target ${endpoint.name}\` shows why`, 'policy-denied');
      return;
    }
    // The client's agent reaches the target only when a rule grants it (each use is an event).
    const agentRight = grant.rights.includes('agent') || grant.rights.includes('all');
    const live: { session?: SshSession } = {};
    const agent = agentRight && canRelayAgent(conn) ? new ClientAgentRelay(conn, () => live.session?.agentUsed()) : undefined;
    let link: SshTargetLink;
    try {
      link = await connectSshTarget(endpoint, agent);
    } catch (err) {
      const e = err instanceof SshTargetError ? err : new SshTargetError('TG_TARGET_UNREACHABLE', (err as Error).message);
      refuse(ctx, e.code, `could not connect to target '${endpoint.name}': ${e.message}`, 'target-unavailable');
      return;
    }
    if (closed) {
      link.client.end();
      recordOpening();
      ended('client-disconnected', 'the client left while the gateway connected to the target');
      return;
    }
    clearTimeout(timer);
    state = 'ready';
    recordOpening();
    const applicationName = applicationNameFor(identity);
    recorder.event('target.connected', {
      host: endpoint.host,
      port: endpoint.port,
      user: endpoint.user,
      tls: false,
      applicationName,
      hostKey: link.hostKey,
      ...(link.serverVersion ? { serverVersion: link.serverVersion } : {}),
    });
    const approvalRules = deps.approvals?.forTarget(endpoint.name);
    const session = new SshSession({
      conn,
      target: link.client,
      targetName: endpoint.name,
      recorder,
      grant,
      identity,
      tags: endpoint.sendEnv ? runTags(identity, context.sessionId, applicationName) : {},
      strict: deps.recordingMode === 'strict',
      recordInput: deps.recordInput,
      agentForwarding: agent !== undefined,
      env: new EnvironmentPolicy(grant.matched, deps.rules),
      sessionId: context.sessionId,
      ...(approvalRules ? { approvals: approvalRules } : {}),
    });
    live.session = session;
    sessions.add(session);
    session.start();
    ctx.accept();
    void session.done.then(() => sessions.delete(session));
  };

  conn.on('authentication', (ctx) => {
    if (state === 'refused') {
      if (ctx.method === 'keyboard-interactive') showRefusal(ctx);
      else ctx.reject([]);
      return;
    }
    if (state !== 'auth') {
      ctx.reject([]);
      return;
    }
    if (ctx.method === 'password') {
      via = 'password';
      startLogin(ctx, ctx.password);
    } else if (ctx.method === 'keyboard-interactive') {
      via = 'keyboard-interactive';
      let token = '';
      let rounds = 0;
      const ask = (prompt: string, title: string, instruction: string) =>
        ctx.prompt([{ prompt, echo: false }], title, instruction, (answers) => {
          if (!Array.isArray(answers) || state !== 'auth') {
            ctx.reject([]);
            return;
          }
          const part = answers[0] ?? '';
          token += part;
          if (part.length >= OPENSSH_ANSWER_LIMIT && ++rounds < MAX_TOKEN_ROUNDS) {
            ask(`CI job OIDC token, continued from character ${token.length + 1}: `, '', '');
            return;
          }
          startLogin(ctx, token);
        });
      ask(`Trailgate: CI job OIDC token for target '${ctx.username}': `, '', '');
    } else {
      // publickey, hostbased, none: the gateway knows jobs only by their token.
      ctx.reject(['keyboard-interactive', 'password']);
    }
  });
}
