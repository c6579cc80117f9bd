import { isIP } from 'node:net';
import {
  EVENT_TYPES,
  SCHEMA_VERSION,
  type AuditRecord,
  type EventRecord,
  type EventType,
  type JobIdentity,
  type ParameterValue,
  type SessionEndedData,
} from '../../events/index.js';
import { AUDIT_DATASET } from './config.js';

/** ECS release whose field names and allowed values the documents follow. */
export const ECS_VERSION = '9.4.0';

export type SearchDocument = Record<string, unknown>;

/** One record as the cluster stores it, or why it is not stored (skipped records are counted, never errors). */
export type Encoded =
  | { kind: 'document'; id: string; document: SearchDocument }
  | { kind: 'skip'; reason: 'bytes' | 'unknown-type' | 'schema-version' };

interface Categorization {
  category: string[];
  type: string[];
  outcome: 'success' | 'failure' | 'unknown';
}

const KNOWN_TYPES = new Set<string>(EVENT_TYPES);
/** Statement classes that change the target; everything else only reads it. */
const CHANGING_RIGHTS = new Set(['write', 'ddl', 'admin', 'code']);
const CLEAN_ENDS = new Set<SessionEndedData['reason']>(['client-terminated', 'client-disconnected']);

export interface EncodeOptions {
  namespace: string;
  maxCommandTextChars: number;
  /** When the document was made; ECS event.ingested. */
  now?: () => string;
}

/**
 * Turns one audit record into an ECS document with a deterministic id (the record id), so that
 * a replayed record is refused as a duplicate instead of stored twice.
 */
export function encodeRecord(record: AuditRecord, o: EncodeOptions): Encoded {
  if (record.stream !== 'events') return { kind: 'skip', reason: 'bytes' };
  if (typeof record.v !== 'number' || record.v > SCHEMA_VERSION) return { kind: 'skip', reason: 'schema-version' };
  if (!KNOWN_TYPES.has(record.type)) return { kind: 'skip', reason: 'unknown-type' };
  const specific = encodeByType(record, o);
  const document = compact({
    '@timestamp': record.ts,
    ecs: { version: ECS_VERSION },
    data_stream: { type: 'logs', dataset: AUDIT_DATASET, namespace: o.namespace },
    event: {
      kind: 'event',
      module: 'trailgate',
      dataset: AUDIT_DATASET,
      provider: 'gateway',
      id: record.id,
      sequence: record.seq,
      action: record.type,
      category: specific.event.category,
      type: specific.event.type,
      outcome: specific.event.outcome,
      reason: specific.reason,
      duration: specific.durationNs,
      ingested: (o.now ?? isoNow)(),
    },
    observer: { name: record.instance, type: 'gateway', vendor: 'Trailgate', product: 'Trailgate' },
    network: { protocol: protocolName(record) },
    ...clientFields(record, specific.bytes),
    ...identityFields(record.identity),
    related: compact({ ip: ipOf(record.client.address) ? [ipOf(record.client.address)] : undefined, user: record.identity?.ci.actor ? [record.identity.ci.actor] : undefined }),
    error: specific.error,
    trailgate: {
      record: { id: record.id, seq: record.seq, schema_version: record.v, type: record.type, stream: record.stream, ...chainFields(record) },
      session: { id: record.sessionId, protocol: protocolOf(record), ...specific.session },
      target: { name: record.target?.name, kind: record.target?.kind, ...specific.target },
      ...trailgateIdentity(record.identity),
      ...specific.trailgate,
    },
  });
  return { kind: 'document', id: record.id, document };
}

interface TypeFields {
  event: Categorization;
  reason?: string;
  durationNs?: number;
  error?: { code?: string; message?: string };
  bytes?: { fromClient: number; toClient: number };
  session?: Record<string, unknown>;
  target?: Record<string, unknown>;
  trailgate?: Record<string, unknown>;
}

function encodeByType(record: EventRecord, o: EncodeOptions): TypeFields {
  const r = record as EventRecord<EventType>;
  switch (r.type) {
    case 'session.started': {
      const d = (r as EventRecord<'session.started'>).data;
      return {
        event: { category: ['session'], type: ['start'], outcome: 'unknown' },
        session: { tls: d.tls, requested: { database: d.requested.database, user: d.requested.user, application_name: d.requested.applicationName } },
      };
    }
    case 'auth.decided': {
      const d = (r as EventRecord<'auth.decided'>).data;
      const denied = d.outcome !== 'granted';
      return {
        event: { category: ['authentication'], type: ['start'], outcome: denied ? 'failure' : 'success' },
        reason: d.reason,
        error: denied ? { code: d.code, message: d.reason } : undefined,
        trailgate: { auth: { outcome: d.outcome, method: d.method, code: d.code }, ...(denied ? { decision: { outcome: 'denied' } } : {}) },
      };
    }
    case 'policy.decided': {
      const d = (r as EventRecord<'policy.decided'>).data;
      const denied = d.outcome !== 'granted';
      return {
        event: { category: ['session'], type: ['info'], outcome: denied ? 'failure' : 'success' },
        reason: denied ? 'no policy rule grants this job the target' : undefined,
        trailgate: {
          policy: { outcome: d.outcome, target: d.target, rights: d.rights, rules: d.matched.map((m) => m.rule), not_matched: d.notMatched.map((n) => ({ rule: n.rule, reason: n.reason })) },
          decision: { outcome: denied ? 'denied' : 'allowed', rules: d.matched.map((m) => m.rule) },
        },
      };
    }
    case 'target.connected': {
      const d = (r as EventRecord<'target.connected'>).data;
      return {
        event: { category: ['network'], type: ['connection', 'start'], outcome: 'success' },
        target: { host: d.host, port: d.port, database: d.database, user: d.user, tls: d.tls, backend_pid: d.backendPid, application_name: d.applicationName, server_version: d.serverVersion },
      };
    }
    case 'command.started': {
      const d = (r as EventRecord<'command.started'>).data;
      const needs = d.decision?.needs ?? [];
      const denied = d.decision?.outcome === 'denied';
      const text = d.text.length > o.maxCommandTextChars ? d.text.slice(0, o.maxCommandTextChars) : d.text;
      const ssh = d.protocol === 'exec' || d.protocol === 'shell' || d.protocol === 'subsystem';
      return {
        event: ssh
          ? { category: ['process'], type: ['start'], outcome: denied ? 'failure' : 'unknown' }
          : { category: ['database'], type: [needs.some((n) => CHANGING_RIGHTS.has(n)) ? 'change' : 'access'], outcome: denied ? 'failure' : 'unknown' },
        reason: denied ? `missing rights: ${(d.decision?.missing ?? []).join(', ')}` : undefined,
        trailgate: {
          command: {
            seq: r.seq,
            protocol: d.protocol,
            text,
            text_length: d.text.length,
            text_truncated: text.length < d.text.length ? true : undefined,
            statement_name: d.statementName || undefined,
            portal: d.portal || undefined,
            parameters: d.parameters?.map(parameterText),
            parameter_types: d.parameterTypes,
            function_oid: d.functionOid,
            channel: d.channel,
            pty: d.pty,
            approval_id: d.approvalId,
          },
          decision: d.decision
            ? { outcome: d.decision.outcome, needs: d.decision.needs, missing: d.decision.missing, rules: d.decision.rules, parse_error: d.decision.parseError }
            : undefined,
        },
      };
    }
    case 'command.completed': {
      const d = (r as EventRecord<'command.completed'>).data;
      const outcome = d.outcome === 'ok' ? 'success' : d.outcome === 'suspended' ? 'unknown' : 'failure';
      return {
        event: { category: ['database'], type: ['info'], outcome },
        durationNs: Math.round(d.durationMs * 1e6),
        reason: d.outcome === 'denied' ? 'denied by policy' : undefined,
        error: d.sqlstate || d.error ? { code: d.sqlstate, message: d.error } : undefined,
        trailgate: {
          command: { seq: d.commandSeq, outcome: d.outcome, duration_ms: d.durationMs, tags: d.tags, rows: d.rows, copy_bytes: d.copyBytes, channel: d.channel, exit_status: d.exitStatus, exit_signal: d.exitSignal?.name },
          ...(d.outcome === 'denied' ? { decision: { outcome: 'denied' } } : {}),
        },
      };
    }
    case 'cancel.requested': {
      const d = (r as EventRecord<'cancel.requested'>).data;
      return { event: { category: ['database'], type: ['info'], outcome: d.forwarded ? 'success' : 'failure' }, trailgate: { cancel: { forwarded: d.forwarded } } };
    }
    case 'notification.received': {
      const d = (r as EventRecord<'notification.received'>).data;
      return { event: { category: ['database'], type: ['info'], outcome: 'unknown' }, trailgate: { notification: { channel: d.channel, payload: d.payload, process_id: d.processId } } };
    }
    case 'session.ended': {
      const d = (r as EventRecord<'session.ended'>).data;
      return {
        event: { category: ['session'], type: ['end'], outcome: CLEAN_ENDS.has(d.reason) ? 'success' : 'failure' },
        reason: d.reason,
        bytes: { fromClient: d.bytesFromClient, toClient: d.bytesToClient },
        session: { end_reason: d.reason, detail: d.detail, bytes_from_client: d.bytesFromClient, bytes_to_client: d.bytesToClient, commands: d.commands },
      };
    }
    case 'session.aborted': {
      const d = (r as EventRecord<'session.aborted'>).data;
      return {
        event: { category: ['session'], type: ['end'], outcome: 'failure' },
        reason: d.reason,
        session: { end_reason: 'aborted', detail: d.detail, aborted_after_seq: d.lastSeq },
      };
    }
    case 'terminal.opened': {
      const d = (r as EventRecord<'terminal.opened'>).data;
      return { event: { category: ['session'], type: ['info'], outcome: 'success' }, trailgate: { terminal: { channel: d.channel, term: d.term, cols: d.cols, rows: d.rows } } };
    }
    case 'terminal.resized': {
      const d = (r as EventRecord<'terminal.resized'>).data;
      return { event: { category: ['session'], type: ['change'], outcome: 'success' }, trailgate: { terminal: { channel: d.channel, cols: d.cols, rows: d.rows } } };
    }
    case 'file.operation': {
      const d = (r as EventRecord<'file.operation'>).data;
      const changes = ['write', 'remove', 'rename', 'mkdir', 'rmdir', 'setstat', 'symlink', 'link', 'upload'].includes(d.op);
      return {
        event: { category: ['file'], type: [d.op === 'remove' || d.op === 'rmdir' ? 'deletion' : d.op === 'mkdir' ? 'creation' : changes ? 'change' : 'access'], outcome: d.outcome === 'ok' ? 'success' : 'failure' },
        reason: d.outcome === 'denied' ? `missing rights: ${(d.needs ?? []).join(', ')}` : undefined,
        error: d.outcome === 'error' ? { code: d.status, message: d.error } : undefined,
        trailgate: {
          file: { protocol: d.protocol, channel: d.channel, op: d.op, path: d.path, to_path: d.toPath, name: d.name, flags: d.flags, bytes: d.bytes, count: d.count, request: d.request, outcome: d.outcome, status: d.status, error: d.error, needs: d.needs },
          ...(d.outcome === 'denied' ? { decision: { outcome: 'denied', needs: d.needs } } : {}),
        },
      };
    }
    case 'request.refused': {
      const d = (r as EventRecord<'request.refused'>).data;
      return {
        event: { category: ['session'], type: ['denied'], outcome: 'failure' },
        reason: d.reason,
        trailgate: { request: { request: d.request, channel: d.channel, detail: d.detail, reason: d.reason, needs: d.needs }, decision: { outcome: 'denied', needs: d.needs } },
      };
    }
    case 'forward.opened': {
      const d = (r as EventRecord<'forward.opened'>).data;
      return { event: { category: ['network'], type: ['connection', 'start'], outcome: 'success' }, trailgate: { forward: { direction: d.direction, channel: d.channel, host: d.host, port: d.port, origin: d.origin, rules: d.rules } } };
    }
    case 'forward.closed': {
      const d = (r as EventRecord<'forward.closed'>).data;
      return { event: { category: ['network'], type: ['connection', 'end'], outcome: 'success' }, trailgate: { forward: { channel: d.channel, bytes_from_client: d.bytesFromClient, bytes_to_client: d.bytesToClient } } };
    }
    case 'signal.forwarded': {
      const d = (r as EventRecord<'signal.forwarded'>).data;
      return { event: { category: ['process'], type: ['info'], outcome: 'success' }, trailgate: { signal: { channel: d.channel, name: d.signal } } };
    }
    case 'spool.watermark': {
      const d = (r as EventRecord<'spool.watermark'>).data;
      return {
        event: { category: ['host'], type: ['info'], outcome: d.level === 'ok' ? 'success' : 'failure' },
        reason: `recording spool ${d.level} (was ${d.previous})`,
        trailgate: { spool: { level: d.level, previous: d.previous, free_bytes: d.freeBytes, spool_bytes: d.spoolBytes } },
      };
    }
    case 'token.reused': {
      const d = (r as EventRecord<'token.reused'>).data;
      const refused = d.outcome === 'refused';
      return {
        event: { category: ['authentication'], type: ['info'], outcome: refused ? 'failure' : 'success' },
        reason: `token reused (${d.policy}${d.sameClient ? ', same client' : ', another client'})`,
        error: refused ? { code: d.code, message: 'token reused' } : undefined,
        trailgate: {
          token_reuse: { token_id: d.tokenId, policy: d.policy, outcome: d.outcome, code: d.code, same_client: d.sameClient, first_session: d.first.sessionId, first_client: d.first.client, first_instance: d.first.instance, first_at: d.first.at },
          ...(refused ? { decision: { outcome: 'denied' } } : {}),
        },
      };
    }
    case 'environment.requested': {
      const d = (r as EventRecord<'environment.requested'>).data;
      return {
        event: { category: ['process'], type: ['info'], outcome: d.outcome === 'accepted' ? 'success' : 'failure' },
        reason: d.reason,
        trailgate: {
          environment: { channel: d.channel, name: d.name, value: d.value, masked: d.masked, outcome: d.outcome, reason: d.reason, rules: d.rules },
          ...(d.outcome === 'refused' ? { decision: { outcome: 'denied' } } : {}),
        },
      };
    }
    case 'kube.request': {
      const d = (r as EventRecord<'kube.request'>).data;
      return {
        event: { category: ['web'], type: [d.verb === 'get' || d.verb === 'list' || d.verb === 'watch' ? 'access' : 'change'], outcome: d.outcome === 'ok' ? 'success' : 'failure' },
        reason: d.reason,
        error: d.code ? { code: d.code, message: d.reason } : undefined,
        trailgate: {
          kube: {
            method: d.method, verb: d.verb, path: d.path, api_group: d.apiGroup, api_version: d.apiVersion, resource: d.resource, subresource: d.subresource,
            namespace: d.namespace, name: d.name, status: d.status, outcome: d.outcome, bytes_in: d.bytesIn, bytes_out: d.bytesOut, duration_ms: d.durationMs,
            code: d.code, upgrade: d.upgrade?.protocol, subprotocol: d.upgrade?.subprotocol, user_agent: d.userAgent,
          },
          decision: { outcome: d.decision.outcome, needs: d.decision.needs, missing: d.decision.missing, rules: d.decision.rules },
        },
      };
    }
    case 'approval.requested': {
      const d = (r as EventRecord<'approval.requested'>).data;
      return {
        event: { category: ['iam'], type: ['start'], outcome: 'unknown' },
        reason: `held for approval by rule ${d.rule} (${d.quorum} approver${d.quorum === 1 ? '' : 's'})`,
        trailgate: { approval: { id: d.approvalId, rule: d.rule, target: d.target, kind: d.kind, text: d.text, text_sha256: d.textSha256, parameters_sha256: d.parametersSha256, quorum: d.quorum, expires_at: d.expiresAt, run: { repository: d.run.repository, workflow: d.run.workflow, ref: d.run.ref, run_id: d.run.runId, run_attempt: d.run.runAttempt, actor: d.run.actor, environment: d.run.environment } } },
      };
    }
    case 'approval.reviewed': {
      const d = (r as EventRecord<'approval.reviewed'>).data;
      return {
        event: { category: ['iam'], type: ['info'], outcome: d.counted ? 'success' : 'failure' },
        reason: d.counted ? `${d.reviewer}: ${d.verdict}` : `${d.reviewer}: ${d.verdict} not counted (${d.refusedReason ?? 'refused'})`,
        trailgate: { approval: { id: d.approvalId, reviewer: d.reviewer, verdict: d.verdict, reason: d.reason, counted: d.counted, refused_reason: d.refusedReason, self_approval: d.selfApproval } },
      };
    }
    case 'approval.decided': {
      const d = (r as EventRecord<'approval.decided'>).data;
      return {
        event: { category: ['iam'], type: ['end'], outcome: d.state === 'approved' ? 'success' : 'failure' },
        reason: d.reason ?? `approval ${d.state}`,
        trailgate: { approval: { id: d.approvalId, state: d.state, deciders: d.deciders, reason: d.reason }, ...(d.state === 'approved' ? {} : { decision: { outcome: 'denied' } }) },
      };
    }
    case 'checkpoint.signed': {
      const d = (r as EventRecord<'checkpoint.signed'>).data;
      return {
        event: { category: ['configuration'], type: ['info'], outcome: 'success' },
        trailgate: { checkpoint: { covers_seq: d.covers.seq, covers_hash: d.covers.hash, kid: d.kid, final: d.final } },
      };
    }
  }
}

function clientFields(record: AuditRecord, bytes: { fromClient: number; toClient: number } | undefined): SearchDocument {
  const ip = ipOf(record.client.address);
  const endpoint = { address: record.client.address, ip, port: record.client.port || undefined };
  return {
    client: endpoint,
    source: { ...endpoint, bytes: bytes?.fromClient },
    destination: bytes ? { bytes: bytes.toClient } : undefined,
  };
}

/** The run in OpenTelemetry's CI/CD and VCS names, and the acting user in ECS's. */
function identityFields(identity: JobIdentity | null): SearchDocument {
  if (!identity) return {};
  const ci = identity.ci;
  return {
    user: { name: ci.actor },
    cicd: { pipeline: { name: ci.workflow, run: { id: ci.runId }, task: { run: { id: ci.jobId } } } },
    vcs: {
      repository: { name: ci.repository },
      owner: { name: ci.repositoryOwner },
      ref: { head: { name: ci.ref, revision: ci.sha, type: ci.refType } },
    },
  };
}

/** What OpenTelemetry has no name for stays under trailgate.*. */
function trailgateIdentity(identity: JobIdentity | null): SearchDocument {
  if (!identity) return {};
  const ci = identity.ci;
  return {
    identity: {
      issuer: identity.issuer,
      issuer_name: identity.issuerName,
      profile: identity.profile,
      subject: identity.subject,
      token_id: identity.tokenId,
      expires_at: identity.expiresAt,
      claims: identity.claims,
    },
    ci: {
      repository_id: ci.repositoryId,
      workflow_ref: ci.workflowRef,
      job_workflow_ref: ci.jobWorkflowRef,
      run_attempt: ci.runAttempt,
      run_number: ci.runNumber,
      actor: ci.actor,
      environment: ci.environment,
      event_name: ci.eventName,
      runner_environment: ci.runnerEnvironment,
      ref_protected: ci.refProtected,
      pipeline_source: ci.pipelineSource,
    },
  };
}

/** The hash chain's link fields, once records carry them. */
function chainFields(record: AuditRecord): { prev?: string; hash?: string } {
  const r = record as { prev?: unknown; hash?: unknown };
  return { prev: typeof r.prev === 'string' ? r.prev : undefined, hash: typeof r.hash === 'string' ? r.hash : undefined };
}

function parameterText(p: ParameterValue): string | null {
  if (p === null || typeof p === 'string') return p;
  return `base64:${p.base64}`;
}

function protocolOf(record: AuditRecord): string | undefined {
  return record.target?.kind ?? ((record as EventRecord<'session.started'>).type === 'session.started' ? (record as EventRecord<'session.started'>).data.protocol : undefined);
}

function protocolName(record: AuditRecord): string | undefined {
  const p = protocolOf(record);
  return p === 'postgres' ? 'postgresql' : p;
}

function ipOf(address: string): string | undefined {
  return isIP(address) ? address : undefined;
}

function isoNow(): string {
  return new Date().toISOString();
}

/** Drops undefined values and empty objects, so documents carry only what the record said. */
export function compact<T extends Record<string, unknown>>(value: T): T {
  // for...in over own keys and no intermediate arrays: this runs over every field of every document.
  const out: Record<string, unknown> = {};
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    const v = value[k];
    if (v === undefined) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const inner = compact(v as Record<string, unknown>);
      if (!isEmpty(inner)) out[k] = inner;
      continue;
    }
    out[k] = v;
  }
  return out as T;
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}
