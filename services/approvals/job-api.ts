import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import type { JobIdentity, SessionContext, SessionEndedData, TokenReusedData } from '../../events/index.js';
import { newSessionId } from '../../events/index.js';
import type { ClaimRule } from '../config/schema.js';
import { IdentityError } from '../gateway/identity/errors.js';
import { TokenReusedError, type TokenUses } from '../gateway/identity/token-uses.js';
import { listenOn } from '../gateway/listen.js';
import { decide } from '../gateway/policy/claim-rules.js';
import { classifyStatement } from '../gateway/policy/statement-classifier.js';
import type { TargetEndpoint } from '../gateway/postgres/backend-connection.js';
import type { LogWriter } from '../gateway/recorder/log-writer.js';
import { SessionRecorder, type CheckpointPolicy, type ChunkPolicy } from '../gateway/recorder/session-recorder.js';
import { isPlanned, runOf, sameRun } from './approval.js';
import type { ApprovalDesk } from './approval-desk.js';
import { watchApproval } from './approval-watch.js';
import type { ApprovalRule } from './config.js';
import { plannedApproval } from './planned-approvals.js';
import { TargetApprovals } from './approval-desk.js';

export interface JobApiDeps {
  instance: string;
  verifier: { verify(token: string | undefined): Promise<JobIdentity> };
  /** Postgres targets: statement sets and windows. */
  targets: ReadonlyMap<string, TargetEndpoint>;
  /** SSH targets: windows over the exec commands a rule holds. */
  sshTargets: ReadonlyMap<string, unknown>;
  rules: ClaimRule[];
  writer: LogWriter;
  chunkPolicy: ChunkPolicy;
  checkpoints: CheckpointPolicy;
  recordingMode: 'strict' | 'async';
  tokenUses?: TokenUses;
  admission?: () => { code: string; message: string } | null;
  desk: ApprovalDesk;
  maxWindowSeconds: number;
}

const MAX_BODY = 1024 * 1024;

const PlanBody = z
  .object({
    target: z.string().min(1).max(200),
    statements: z
      .array(z.object({ text: z.string().min(1).max(256 * 1024), parameters: z.array(z.string().nullable()).max(1000).optional() }).strict())
      .min(1)
      .max(1000)
      .optional(),
    windowSeconds: z.number().int().positive().optional(),
    rule: z.string().min(1).optional(),
  })
  .strict()
  .refine((b) => (b.statements ? 1 : 0) + (b.windowSeconds ? 1 : 0) === 1, { message: 'give either statements (plan and apply) or windowSeconds (a window)' });

/** Why a call was turned away: HTTP status, TG_ code, a message that names the fix. */
class JobApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** One call of the job API, recorded as a session of the target it is about (its token proved like a session's). */
class JobCall {
  readonly context: SessionContext;
  readonly recorder: SessionRecorder;
  private opened = false;
  private ended = false;

  constructor(
    private readonly deps: JobApiDeps,
    req: IncomingMessage,
  ) {
    this.context = { sessionId: newSessionId(), instance: deps.instance, protocol: 'postgres', target: null, identity: null, client: { address: req.socket.remoteAddress ?? 'unknown', port: req.socket.remotePort ?? 0 } };
    this.recorder = new SessionRecorder(this.context, deps.writer, deps.chunkPolicy, deps.checkpoints);
  }

  /** Verifies the token and the policy for the target; throws JobApiError (recorded) when either says no. */
  async admit(authorization: string | undefined, targetName: string): Promise<JobIdentity> {
    const full = this.deps.admission?.();
    if (full) {
      this.open(undefined);
      throw new JobApiError(503, full.code, `${full.message}; try again later, or through another gateway`);
    }
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    let identity: JobIdentity;
    let reuse: TokenReusedData | undefined;
    try {
      if (!token) throw new IdentityError('TG_AUTH_NO_TOKEN', 'no bearer token: send the CI job\'s OIDC token (TRAILGATE_TOKEN or --token-file)');
      identity = await this.deps.verifier.verify(token);
      reuse = await this.deps.tokenUses?.admit(identity, token, this.context.client.address, this.context.sessionId);
    } catch (err) {
      if (err instanceof TokenReusedError) reuse = err.reuse;
      const code = err instanceof IdentityError ? err.code : 'TG_AUTH_MALFORMED';
      const message = err instanceof IdentityError ? err.message : 'the token could not be verified';
      this.open(reuse);
      this.recorder.event('auth.decided', { outcome: 'rejected', method: 'oidc-token', code, reason: message });
      throw new JobApiError(401, code, `token rejected: ${message}`);
    }
    this.context.identity = identity;
    const kind = this.deps.targets.has(targetName) ? 'postgres' : this.deps.sshTargets.has(targetName) ? 'ssh' : null;
    if (!kind) {
      this.open(reuse, identity);
      throw new JobApiError(404, 'TG_TARGET_UNKNOWN', `no Postgres or SSH target named '${targetName}' on this gateway`);
    }
    this.context.protocol = kind;
    this.context.target = { name: targetName, kind };
    const grant = decide(this.deps.rules, identity, targetName, kind);
    this.open(reuse, identity);
    this.recorder.event('policy.decided', { outcome: grant.rights.length ? 'granted' : 'denied', target: targetName, rights: grant.rights, matched: grant.matched, notMatched: grant.notMatched });
    if (!grant.rights.length) {
      throw new JobApiError(403, 'TG_POLICY_NO_RULE', `no policy rule grants ${identity.ci.repository ?? identity.subject} access to target '${targetName}'; \`trailgate policy explain --target ${targetName}\` shows why`);
    }
    return identity;
  }

  private open(reuse: TokenReusedData | undefined, identity?: JobIdentity): void {
    if (this.opened) return;
    this.opened = true;
    this.recorder.event('session.started', { protocol: this.context.protocol, instance: this.context.instance, client: this.context.client, tls: true, requested: {}, clientSoftware: 'trailgate approvals' });
    if (identity) this.recorder.event('auth.decided', { outcome: 'granted', method: 'oidc-token', identity });
    if (reuse) this.recorder.event('token.reused', reuse);
  }

  end(reason: SessionEndedData['reason'], detail?: string): void {
    if (this.ended || !this.opened) return;
    this.ended = true;
    this.recorder.closeChunks();
    this.recorder.event('session.ended', { reason, ...(detail ? { detail } : {}), bytesFromClient: 0, bytesToClient: 0, commands: 0 });
  }
}

/**
 * The job side of approvals on the gateway: `POST /v1/approvals` asks ahead for a statement set (plan and apply)
 * or a window, `GET /v1/approvals/<id>/wait` follows it until it is decided. Each call is a recorded session of
 * the target; the CI token is the bearer token, verified and judged as a Postgres session's password would be.
 */
export class JobApi {
  private readonly server: https.Server;
  private readonly open = new Set<(reason: SessionEndedData['reason']) => void>();

  constructor(
    private readonly deps: JobApiDeps,
    tlsFiles: { cert: Buffer; key: Buffer },
  ) {
    this.server = https.createServer({ ...tlsFiles, requestTimeout: 0 });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.serve(req, res));
    this.server.on('tlsClientError', () => undefined);
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return listenOn(this.server, host, port);
  }

  async close(): Promise<void> {
    for (const stop of [...this.open]) stop('gateway-shutdown');
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const call = new JobCall(this.deps, req);
    try {
      const url = new URL(req.url ?? '/', 'https://gateway');
      const wait = /^\/v1\/approvals\/(apr_[A-Za-z0-9]{1,64})\/wait$/.exec(url.pathname);
      if (req.method === 'POST' && url.pathname === '/v1/approvals') await this.request(call, req, res);
      else if (req.method === 'GET' && wait) await this.wait(call, req, res, wait[1]!);
      else throw new JobApiError(404, 'TG_APPROVAL_API_PATH', 'the job API serves POST /v1/approvals and GET /v1/approvals/<id>/wait');
    } catch (err) {
      const e = err instanceof JobApiError ? err : new JobApiError(500, 'TG_INTERNAL', `the gateway failed: ${(err as Error).message}`);
      if (!(err instanceof JobApiError)) console.error(`trailgate: approvals job API: ${(err as Error).stack ?? (err as Error).message}`);
      call.end(e.status === 401 ? 'auth-failed' : e.status === 403 ? 'policy-denied' : 'protocol-error', `${e.code}: ${e.message}`);
      if (!res.headersSent) reply(res, e.status, { code: e.code, message: e.message });
      else res.end();
    }
  }

  /** A statement set or a window for this run, pending until the rule's quorum approves it. */
  private async request(call: JobCall, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let parsed: z.infer<typeof PlanBody>;
    try {
      const r = PlanBody.safeParse(JSON.parse(raw));
      if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      parsed = r.data;
    } catch (err) {
      throw new JobApiError(400, 'TG_APPROVAL_REQUEST', `the request body is not a plan: ${(err as Error).message}`);
    }
    const identity = await call.admit(req.headers.authorization, parsed.target);
    const { desk } = this.deps;
    const rules = desk.rulesOf(parsed.target);
    const ssh = call.context.target?.kind === 'ssh';
    if (ssh && parsed.statements) throw new JobApiError(400, 'TG_APPROVAL_TARGET_KIND', `'${parsed.target}' is an SSH target: ask for a window (--window), statement sets are for Postgres targets`);
    const rule = parsed.statements ? this.setRule(rules.filter((r) => r.classes.length > 0), parsed.target, parsed.statements.map((s) => s.text), parsed.rule) : this.windowRule(rules.filter((r) => (ssh ? r.commands.length > 0 : r.classes.length > 0)), parsed.target, parsed.rule);
    if (parsed.windowSeconds && parsed.windowSeconds > this.deps.maxWindowSeconds) {
      throw new JobApiError(400, 'TG_APPROVAL_WINDOW', `a window of ${parsed.windowSeconds} s is longer than approvals.maxWindowSeconds (${this.deps.maxWindowSeconds}); ask for less`);
    }
    const endpoint = this.deps.targets.get(parsed.target);
    const { approval, hits } = await plannedApproval({
      rule,
      target: parsed.target,
      identity,
      sessionId: call.context.sessionId,
      instance: this.deps.instance,
      ...(parsed.statements ? { statements: parsed.statements.map((s) => ({ text: s.text, ...(s.parameters?.length ? { parameters: s.parameters } : {}) })) } : {}),
      ...(parsed.windowSeconds ? { windowSeconds: parsed.windowSeconds } : {}),
      trail: endpoint?.trail ?? null,
      now: Date.now(),
    });
    const link = await desk.openPlanned(approval, (type, data) => void call.recorder.event(type, data), hits);
    if (this.deps.recordingMode === 'strict') await call.recorder.durable();
    call.end('client-terminated');
    reply(res, 201, {
      id: approval.id,
      kind: approval.kind,
      state: approval.state,
      rule: approval.rule,
      target: approval.target,
      quorum: approval.quorum,
      expiresAt: approval.expiresAt,
      ...(approval.statements ? { statements: approval.statements.length } : { windowSeconds: approval.windowSeconds }),
      ...(link ? { link } : {}),
    });
  }

  /** The one rule that holds the set's statements (or the one named); a set is approved under one rule. */
  private setRule(rules: ApprovalRule[], target: string, texts: string[], named: string | undefined): ApprovalRule {
    if (named) return this.named(rules, target, named);
    const holding = new TargetApprovals(rules, this.deps.desk);
    const found = new Map<string, ApprovalRule>();
    for (const text of texts) {
      const c = classifyStatement(text);
      if (c.parseError) throw new JobApiError(400, 'TG_APPROVAL_SQL', `a statement does not parse: ${c.parseError}`);
      const r = holding.statementRule(c.classes);
      if (r) found.set(r.name, r);
    }
    if (found.size === 0) throw new JobApiError(400, 'TG_APPROVAL_NOT_NEEDED', `no approval rule on '${target}' holds any of these statements: run them directly`);
    if (found.size > 1) throw new JobApiError(400, 'TG_APPROVAL_RULES', `these statements are held by rules ${[...found.keys()].join(', ')}: ask once per rule with --rule, splitting the file`);
    return [...found.values()][0]!;
  }

  /** `rules`: those that hold what the target runs (statements on Postgres, commands on SSH). */
  private windowRule(rules: ApprovalRule[], target: string, named: string | undefined): ApprovalRule {
    if (named) return this.named(rules, target, named);
    if (rules.length === 1) return rules[0]!;
    if (rules.length === 0) throw new JobApiError(404, 'TG_APPROVAL_NO_RULE', `no approval rule holds anything on '${target}': nothing needs a window`);
    throw new JobApiError(400, 'TG_APPROVAL_RULES', `rules ${rules.map((r) => r.name).join(', ')} hold what runs on '${target}': name one with --rule`);
  }

  private named(rules: ApprovalRule[], target: string, name: string): ApprovalRule {
    const r = rules.find((x) => x.name === name);
    if (!r) throw new JobApiError(404, 'TG_APPROVAL_NO_RULE', `no approval rule '${name}' holds anything on '${target}'`);
    return r;
  }

  /** Follows an approval of this run until it is decided: progress as NDJSON lines, at once and every heartbeat. */
  private async wait(call: JobCall, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const { store } = this.deps.desk;
    const approval = await store.get(id);
    const unknown = new JobApiError(404, 'TG_APPROVAL_UNKNOWN', `no statement set or window ${id} of this run; \`trailgate approvals request\` prints the id`);
    if (!approval || !isPlanned(approval)) throw unknown;
    const identity = await call.admit(req.headers.authorization, approval.target);
    // Another run's approval is as unknown as a missing one.
    if (!sameRun(approval.run, runOf(identity))) throw unknown;
    const rule = this.deps.desk.rulesOf(approval.target).find((r) => r.name === approval.rule);
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    const watch = watchApproval({
      store,
      approval,
      pollMillis: this.deps.desk.pollMillis,
      heartbeatMillis: (rule?.heartbeatSeconds ?? 15) * 1000,
      record: (type, data) => void call.recorder.event(type, data),
      progress: (p) => res.write(`${JSON.stringify(p)}\n`),
    });
    const gone = (reason: SessionEndedData['reason']) => {
      watch.stop();
      call.end(reason);
    };
    this.open.add(gone);
    res.on('close', () => gone('client-disconnected'));
    const final = await Promise.race([watch.done, new Promise<null>((r) => res.on('close', () => r(null)))]);
    this.open.delete(gone);
    if (!final) return;
    call.end('client-terminated');
    res.end(`${JSON.stringify(final)}\n`);
  }
}

function reply(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) {
        reject(new JobApiError(413, 'TG_APPROVAL_REQUEST', `the plan is larger than ${MAX_BODY} bytes: split it into several requests`));
        req.destroy();
        return;
      }
      parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
