import type { JobIdentity, KubeRequestData, StatementDecision, PolicyDecidedData, SessionContext, SessionEndedData, TokenReusedData } from '../../../events/index.js';
import { newSessionId } from '../../../events/index.js';
import type { ClaimRule } from '../../config/schema.js';
import { IdentityError } from '../identity/errors.js';
import { TokenReusedError, type TokenUses } from '../identity/token-uses.js';
import { decide } from '../policy/claim-rules.js';
import { applicationNameFor } from '../postgres/application-name.js';
import type { LogWriter } from '../recorder/log-writer.js';
import { SessionRecorder, type CheckpointPolicy, type ChunkPolicy } from '../recorder/session-recorder.js';
import type { KubeEndpoint } from './kube-endpoint.js';
import { kubeGrants, type KubeRuleGrant } from './kube-rights.js';
import { impersonatedUser } from './impersonation.js';

export interface KubeGatewayDeps {
  instance: string;
  verifier: { verify(token: string | undefined): Promise<JobIdentity> };
  targets: ReadonlyMap<string, KubeEndpoint>;
  rules: ClaimRule[];
  writer: LogWriter;
  chunkPolicy: ChunkPolicy;
  checkpoints: CheckpointPolicy;
  recordingMode: 'strict' | 'async';
  admission?: () => { code: string; message: string; reason?: SessionEndedData['reason'] } | null;
  tokenUses?: TokenUses;
}

/** Why a request was turned away before it reached the cluster: HTTP status, TG_ code and the message. */
export class KubeRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The policy's word when it refused, recorded with the request. */
    readonly decision?: StatementDecision,
  ) {
    super(message);
  }
}

/**
 * One client connection: kubectl keeps a TLS connection open for many requests, and an exec or
 * port-forward takes one over. The first request's token decides who the job is and what it may do on
 * the target named in the path; every later request on the connection must carry the same job.
 */
export class KubeSession {
  readonly context: SessionContext;
  readonly recorder: SessionRecorder;
  identity: JobIdentity | null = null;
  endpoint: KubeEndpoint | null = null;
  grants: KubeRuleGrant[] = [];
  private token: string | null = null;
  private opened = false;
  ended = false;
  requests = 0;
  bytesFromClient = 0;
  bytesToClient = 0;
  /** Set while an exec, attach or port-forward owns the connection; ends it with the session. */
  stream: { end(reason: string): void } | null = null;
  /** seq of the command.started of the exec or attach this connection carries. */
  execSeq: number | null = null;

  constructor(
    private readonly deps: KubeGatewayDeps,
    client: { address: string; port: number },
    private readonly userAgent: string | undefined,
  ) {
    this.context = { sessionId: newSessionId(), instance: deps.instance, protocol: 'kubernetes', target: null, identity: null, client };
    this.recorder = new SessionRecorder(this.context, deps.writer, deps.chunkPolicy, deps.checkpoints);
  }

  get strict(): boolean {
    return this.deps.recordingMode === 'strict';
  }

  /**
   * Makes sure the request's job and target are this session's; opens the session at the first request.
   * Throws KubeRefusal (recorded by the caller with the request) when the token or the policy says no.
   */
  async admit(targetName: string, authorization: string | undefined): Promise<void> {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (this.opened) {
      if (this.endpoint?.name !== targetName) throw new KubeRefusal(400, 'TG_KUBE_TARGET_CHANGED', `this connection serves target '${this.endpoint?.name}'; open another connection for '${targetName}'`);
      if (token === this.token) return;
      const again = await this.verify(token);
      if (again.issuer !== this.identity!.issuer || again.subject !== this.identity!.subject || again.ci.runId !== this.identity!.ci.runId) {
        throw new KubeRefusal(401, 'TG_KUBE_IDENTITY_CHANGED', 'a token of another job on an open connection; each connection carries one job');
      }
      this.token = token!;
      return;
    }
    const full = this.deps.admission?.();
    if (full) {
      this.open(null, undefined, undefined);
      throw new KubeRefusal(503, full.code, `${full.message}; try again later, or through another gateway`);
    }
    let identity: JobIdentity;
    let reuse: TokenReusedData | undefined;
    try {
      identity = await this.verify(token);
      reuse = await this.deps.tokenUses?.admit(identity, token!, this.context.client.address, this.context.sessionId);
    } catch (err) {
      if (err instanceof TokenReusedError) reuse = err.reuse;
      const e = err instanceof KubeRefusal ? err : new KubeRefusal(401, err instanceof IdentityError ? err.code : 'TG_AUTH_MALFORMED', `token rejected: ${(err as Error).message}`);
      this.open(null, undefined, reuse);
      this.recorder.event('auth.decided', { outcome: 'rejected', method: 'oidc-token', code: e.code, reason: e.message });
      throw e;
    }
    this.context.identity = identity;
    this.identity = identity;
    this.token = token!;
    const endpoint = this.deps.targets.get(targetName);
    if (!endpoint) {
      this.open(identity, undefined, reuse);
      throw new KubeRefusal(404, 'TG_TARGET_UNKNOWN', `no Kubernetes target named '${targetName}' on this gateway; the kubeconfig's server is https://<gateway>/<target>`);
    }
    this.context.target = { name: endpoint.name, kind: 'kubernetes' };
    const grant = decide(this.deps.rules, identity, endpoint.name, 'kubernetes');
    const policy: PolicyDecidedData = { outcome: grant.rights.length ? 'granted' : 'denied', target: endpoint.name, rights: grant.rights, matched: grant.matched, notMatched: grant.notMatched };
    this.open(identity, policy, reuse);
    if (!grant.rights.length) {
      const who = identity.ci.repository ?? identity.subject;
      throw new KubeRefusal(403, 'TG_POLICY_NO_RULE', `no policy rule grants ${who} access to target '${endpoint.name}'; \`trailgate policy explain --target ${endpoint.name}\` shows why`);
    }
    this.endpoint = endpoint;
    this.grants = kubeGrants(grant.matched, this.deps.rules);
    this.recorder.event('target.connected', {
      host: endpoint.url.hostname,
      port: Number(endpoint.url.port || 443),
      user: impersonatedUser(identity),
      tls: true,
      applicationName: applicationNameFor(identity),
    });
  }

  private async verify(token: string | undefined): Promise<JobIdentity> {
    if (!token) throw new KubeRefusal(401, 'TG_AUTH_MISSING', 'no bearer token: set the CI token as the kubeconfig user token (or use `trailgate kube-credential`), over https');
    return this.deps.verifier.verify(token);
  }

  private open(identity: JobIdentity | null, policy: PolicyDecidedData | undefined, reuse: TokenReusedData | undefined): void {
    if (this.opened) return;
    this.opened = true;
    this.recorder.event('session.started', {
      protocol: 'kubernetes',
      instance: this.context.instance,
      client: this.context.client,
      tls: true,
      requested: {},
      ...(this.userAgent ? { clientSoftware: this.userAgent.slice(0, 256) } : {}),
    });
    if (identity) this.recorder.event('auth.decided', { outcome: 'granted', method: 'oidc-token', identity });
    if (reuse) this.recorder.event('token.reused', reuse);
    if (policy) this.recorder.event('policy.decided', policy);
  }

  /** Whether the session may serve requests (a refusal at the first request leaves it closed). */
  get ready(): boolean {
    return this.endpoint !== null && !this.ended;
  }

  request(data: KubeRequestData): void {
    if (this.ended) return;
    this.requests++;
    this.bytesFromClient += data.bytesIn;
    this.bytesToClient += data.bytesOut;
    this.recorder.event('kube.request', data);
  }

  end(reason: SessionEndedData['reason'], detail?: string): void {
    if (this.ended) return;
    this.stream?.end(detail ?? reason);
    if (!this.opened) {
      this.ended = true;
      return;
    }
    this.ended = true;
    this.recorder.closeChunks();
    this.recorder.event('session.ended', { reason, ...(detail ? { detail } : {}), bytesFromClient: this.bytesFromClient, bytesToClient: this.bytesToClient, commands: this.requests });
  }
}
