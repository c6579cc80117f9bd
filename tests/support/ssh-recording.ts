/**
 * SSH terminal sessions built record by record after the SSH gateway's recording contract
 * (bytes with `channel`, `terminal.opened` {channel, term, cols, rows}, `terminal.resized`
 * {channel, cols, rows}, commands with `channel`), written into a real embedded log. Replay is
 * tested on these until the gateway records real ones; then the same tests read those instead.
 */
import type { PendingRecord } from '../../connectors/embedded-log/embedded-log.js';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { recordHash } from '../../events/chain.js';
import { SCHEMA_VERSION, newSessionId, type AuditRecord, type JobIdentity, type SessionContext } from '../../events/index.js';

export type TerminalStep =
  | { at: number; open: { channel: number; cols: number; rows: number; term?: string } }
  | { at: number; resize: { channel: number; cols: number; rows: number } }
  | { at: number; output: Uint8Array | string; channel?: number }
  | { at: number; input: Uint8Array | string; channel?: number }
  | { at: number; command: string; channel?: number }
  | { at: number; event: string; data: unknown };

export function sshIdentity(repository = 'acme/payments', extra: Partial<JobIdentity['ci']> = {}): JobIdentity {
  return {
    issuer: 'https://token.actions.githubusercontent.com',
    issuerName: 'github',
    profile: 'github',
    subject: `repo:${repository}:ref:refs/heads/main`,
    expiresAt: '2030-01-01T00:00:00.000Z',
    ci: { repository, workflow: 'deploy', ref: 'refs/heads/main', runId: '4242', runAttempt: '1', actor: 'octocat', environment: 'production', ...extra },
    claims: { repository, actor: 'octocat' },
  };
}

/** Records of one SSH session; `at` is milliseconds after `start`. Bytes are one chunk per step. */
export function sshSessionRecords(steps: TerminalStep[], o: { start?: number; identity?: JobIdentity; target?: string; sessionId?: string } = {}): { context: SessionContext; records: PendingRecord[] } {
  const start = o.start ?? Date.parse('2026-11-20T10:00:00.000Z');
  const sessionId = o.sessionId ?? newSessionId(start);
  const context: SessionContext = { sessionId, instance: 'test-gw', protocol: 'ssh', target: { name: o.target ?? 'web-1', kind: 'ssh' }, identity: o.identity ?? sshIdentity(), client: { address: '127.0.0.1', port: 50000 } };
  const records: PendingRecord[] = [];
  const offsets = new Map<string, number>();
  let seq = 0;
  let head = '';
  const ts = (at: number) => new Date(start + at).toISOString();
  // Linked into the session's hash chain as the recorder links them (no signed end: they are not the gateway's).
  const push = (r: PendingRecord) => {
    r.prev = head;
    r.hash = head = recordHash(head, { v: SCHEMA_VERSION, ...r });
    records.push(r);
  };
  const event = (at: number, type: string, data: unknown) => push({ sessionId, seq: ++seq, ts: ts(at), stream: 'events', type: type as never, data, prev: '', hash: '' });
  const bytes = (at: number, direction: 'client' | 'server', channel: number, data: Uint8Array | string) => {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    const key = `${direction}:${channel}`;
    const offset = offsets.get(key) ?? 0;
    offsets.set(key, offset + buf.length);
    push({ sessionId, seq: ++seq, ts: ts(at), stream: 'bytes', direction, channel, offset, data: buf, prev: '', hash: '' });
  };
  // The envelope is chained through these events, as the gateway records them, so that verify can check it.
  event(0, 'session.started', { protocol: 'ssh', tls: false, requested: { user: `deploy+${context.target!.name}` }, instance: context.instance, client: context.client });
  event(1, 'auth.decided', { outcome: 'granted', method: 'oidc-token', identity: context.identity });
  event(1, 'policy.decided', { outcome: 'granted', target: context.target!.name, rights: ['shell'], matched: [{ rule: 'test-ssh', rights: ['shell'] }], notMatched: [] });
  for (const s of steps) {
    if ('open' in s) event(s.at, 'terminal.opened', s.open);
    else if ('resize' in s) event(s.at, 'terminal.resized', s.resize);
    else if ('output' in s) bytes(s.at, 'server', s.channel ?? 0, s.output);
    else if ('input' in s) bytes(s.at, 'client', s.channel ?? 0, s.input);
    else if ('command' in s) event(s.at, 'command.started', { protocol: 'shell', text: s.command, channel: s.channel ?? 0 });
    else event(s.at, s.event, s.data);
  }
  const last = steps.reduce((m, s) => Math.max(m, s.at), 1);
  event(last + 1, 'session.ended', { reason: 'client-disconnected', bytesFromClient: 0, bytesToClient: 0, commands: 0 });
  return { context, records };
}

/** Writes a built session into the embedded log at `file` and returns its id. */
export function writeSshSession(file: string, built: ReturnType<typeof sshSessionRecords>): string {
  const log = new EmbeddedLog(file);
  try {
    log.writeBatch([built.context], built.records);
  } finally {
    log.close();
  }
  return built.context.sessionId;
}

/** The same records as a reader gets them, without going through a file (for pure unit tests). */
export function asAuditRecords(built: ReturnType<typeof sshSessionRecords>): AuditRecord[] {
  const c = built.context;
  return built.records.map((r) => ({ v: 1, id: `${r.sessionId}:${r.seq}`, instance: c.instance, target: c.target, identity: c.identity, client: c.client, ...r }) as AuditRecord);
}
