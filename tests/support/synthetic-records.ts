import { EVENT_TYPES, SCHEMA_VERSION, newSessionId, recordHash, recordId, type AuditRecord, type EventDataByType, type EventRecord, type EventType, type JobIdentity } from '../../events/index.js';

export interface SyntheticSessionOptions {
  repository?: string;
  ref?: string;
  runId?: string;
  runAttempt?: string;
  actor?: string;
  clientAddress?: string;
  start?: Date;
}

export function syntheticIdentity(o: SyntheticSessionOptions = {}): JobIdentity {
  const repository = o.repository ?? 'acme/payments';
  return {
    issuer: 'https://token.actions.githubusercontent.com',
    issuerName: 'github',
    profile: 'github',
    subject: `repo:${repository}:ref:${o.ref ?? 'refs/heads/main'}`,
    tokenId: `jti-${o.runId ?? '4711'}`,
    expiresAt: '2030-01-01T00:00:00.000Z',
    ci: {
      repository,
      repositoryId: '123456',
      repositoryOwner: repository.split('/')[0]!,
      workflow: 'deploy',
      workflowRef: `${repository}/.github/workflows/deploy.yml@${o.ref ?? 'refs/heads/main'}`,
      ref: o.ref ?? 'refs/heads/main',
      refType: 'branch',
      sha: 'a'.repeat(40),
      runId: o.runId ?? '4711',
      runAttempt: o.runAttempt ?? '1',
      runNumber: '42',
      actor: o.actor ?? 'octocat',
      environment: 'production',
      eventName: 'push',
      runnerEnvironment: 'github-hosted',
    },
    claims: { repository, ref: o.ref ?? 'refs/heads/main', custom_claim: 'x' },
  };
}

/** The data of one record of each type, as the gateway would write it. */
export const SAMPLE_DATA: { [T in EventType]: EventDataByType[T] } = {
  'session.started': { protocol: 'postgres', tls: true, requested: { database: 'app', user: 'ci', applicationName: 'psql' } },
  'auth.decided': { outcome: 'granted', method: 'oidc-token' },
  'policy.decided': { outcome: 'granted', target: 'app', rights: ['read', 'ddl'], matched: [{ rule: 'deploy', rights: ['read', 'ddl'] }], notMatched: [{ rule: 'readonly', reason: 'repository does not match' }] },
  'target.connected': { host: '127.0.0.1', port: 5432, database: 'appdb', user: 'trailgate_app', tls: true, backendPid: 4242, applicationName: 'tg:acme/payments:4711:1', serverVersion: '15.18' },
  'command.started': { protocol: 'extended', text: 'alter table orders add column note text', parameters: ['1', null, { base64: 'AAE=' }], parameterTypes: [23, 25, 17], decision: { outcome: 'allowed', needs: ['ddl'], rules: ['deploy'] } },
  'command.completed': { commandSeq: 5, outcome: 'ok', durationMs: 1.25, tags: ['ALTER TABLE'], rows: 0 },
  'cancel.requested': { forwarded: true },
  'notification.received': { channel: 'jobs', payload: 'refresh', processId: 4242 },
  'session.ended': { reason: 'client-terminated', bytesFromClient: 1234, bytesToClient: 5678, commands: 1 },
  'terminal.opened': { channel: 0, term: 'xterm-256color', cols: 120, rows: 40 },
  'terminal.resized': { channel: 0, cols: 100, rows: 30 },
  'file.operation': { protocol: 'sftp', channel: 0, op: 'write', path: '/srv/app/release.tar', bytes: 20971520, count: 640, outcome: 'ok' },
  'request.refused': { request: 'forward-local', detail: 'db.internal:5432', reason: 'no rule grants forward-local', needs: ['forward-local'] },
  'forward.opened': { direction: 'local', channel: 3, host: 'db.internal', port: 5432, origin: '127.0.0.1:50000', rules: ['tunnel'] },
  'forward.closed': { channel: 3, bytesFromClient: 100, bytesToClient: 200 },
  'signal.forwarded': { channel: 0, signal: 'TERM' },
  'spool.watermark': { level: 'low', previous: 'ok', freeBytes: 1024, spoolBytes: 4096 },
  'session.aborted': { reason: 'gateway-restart', lastSeq: 9, detail: "gateway instance 'test-gw' stopped while the session was open" },
  'token.reused': { tokenId: 'jti-4711', policy: 'same-client', outcome: 'refused', code: 'TG_AUTH_TOKEN_REUSED', sameClient: false, first: { sessionId: '01J0000000000000000000000', client: '10.0.0.7', instance: 'test-gw', at: '2030-01-01T00:00:00.000Z' } },
  'environment.requested': { channel: 0, name: 'LD_PRELOAD', value: '/tmp/x.so', outcome: 'refused', reason: "no rule's env lists LD_PRELOAD" },
  'kube.request': { method: 'GET', verb: 'get', path: '/api/v1/namespaces/ci/pods/web-0', apiVersion: 'v1', resource: 'pods', namespace: 'ci', name: 'web-0', status: 200, outcome: 'ok', bytesIn: 0, bytesOut: 2048, durationMs: 1.5, decision: { outcome: 'allowed', needs: ['read'], rules: ['deploy'] } },
  'approval.requested': { approvalId: 'apr_0001', rule: 'two-person-ddl', target: 'app', kind: 'statement', text: 'alter table orders add column note text', textSha256: 'a'.repeat(64), run: { repository: 'acme/payments', runId: '4711', runAttempt: '1', actor: 'octocat' }, quorum: 2, expiresAt: '2030-01-01T00:15:00.000Z' },
  'approval.reviewed': { approvalId: 'apr_0001', reviewer: 'alice', verdict: 'approve', counted: true, at: '2030-01-01T00:01:00.000Z' },
  'approval.decided': { approvalId: 'apr_0001', state: 'approved', deciders: ['alice', 'bob'] },
  'checkpoint.signed': { covers: { seq: 10, hash: 'x'.repeat(43) }, kid: 'k'.repeat(43), jws: 'e30.e30.sig', final: true },
};

/** One session with a record of every event type in the catalogue, in catalogue order. */
export function syntheticSession(o: SyntheticSessionOptions = {}): EventRecord[] {
  const sessionId = newSessionId(o.start?.getTime());
  const start = o.start?.getTime() ?? Date.now();
  let prev = '';
  return EVENT_TYPES.map((type, i) => {
    const r = syntheticRecord(sessionId, i + 1, type, SAMPLE_DATA[type], { ...o, start: new Date(start + i) }, prev);
    prev = r.hash;
    return r;
  });
}

/** One record, linked to `prev` in the session's hash chain the way the gateway links it. */
export function syntheticRecord<T extends EventType>(sessionId: string, seq: number, type: T, data: EventDataByType[T], o: SyntheticSessionOptions = {}, prev = ''): EventRecord<T> {
  const ts = (o.start ?? new Date()).toISOString();
  return {
    v: SCHEMA_VERSION,
    id: recordId(sessionId, seq),
    sessionId,
    seq,
    ts,
    instance: 'test-gw',
    target: { name: 'app', kind: 'postgres' },
    identity: syntheticIdentity(o),
    client: { address: o.clientAddress ?? '127.0.0.1', port: 50000 + seq },
    stream: 'events',
    type,
    data,
    prev,
    hash: recordHash(prev, { v: SCHEMA_VERSION, sessionId, seq, ts, stream: 'events', type, data }),
  } as EventRecord<T>;
}

/** A record of a type this build does not know, as a newer gateway might write it. */
export function futureRecord(sessionId: string, seq: number): AuditRecord {
  return { ...syntheticRecord(sessionId, seq, 'cancel.requested', { forwarded: true }), type: 'review.opened' as EventType, data: { reviewers: ['x'] } } as unknown as AuditRecord;
}
