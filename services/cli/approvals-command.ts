import { readFileSync } from 'node:fs';
import type { Approval, Review } from '../approvals/approval.js';
import { parameterText } from '../replay/transcript.js';
import { cliConfig } from './cli-config.js';
import { printable, printTable } from './table.js';

export interface ApprovalsCliOptions {
  server?: string;
  tokenFile?: string;
  json?: boolean;
  state?: string;
  reason?: string;
}

function usage(message: string): Error {
  return Object.assign(new Error(message), { code: 'TG_USAGE' });
}

/** The replay server reviewers use, and the reviewer's token (from a file or TRAILGATE_REPLAY_TOKEN, never an argument). */
function endpoint(configFile: string | undefined, o: ApprovalsCliOptions): { base: string; token: string } {
  let base = o.server ?? process.env.TRAILGATE_REPLAY_URL;
  if (!base) {
    const replay = cliConfig(configFile).replay;
    if (replay) base = replay.publicUrl ?? `http://${replay.listen.host}:${replay.listen.port}`;
  }
  if (!base) throw usage('no replay server to ask: pass --server URL or set TRAILGATE_REPLAY_URL (reviews go through the replay API) [TG_APPROVAL_NO_SERVER]');
  const token = (o.tokenFile ? readFileSync(o.tokenFile, 'utf8') : (process.env.TRAILGATE_REPLAY_TOKEN ?? '')).trim();
  if (!token) throw usage('no reviewer token: set TRAILGATE_REPLAY_TOKEN or pass --token-file (a token of replay.users) [TG_APPROVAL_NO_TOKEN]');
  return { base: base.replace(/\/$/, ''), token };
}

async function call<T>(configFile: string | undefined, o: ApprovalsCliOptions, method: 'GET' | 'POST', path: string, body?: object): Promise<{ status: number; body: T & { code?: string; message?: string } }> {
  const { base, token } = endpoint(configFile, o);
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    throw Object.assign(new Error(`cannot reach the replay server at ${base}: ${(err as Error).message}; check --server [TG_APPROVAL_NO_SERVER]`), { code: 'TG_APPROVAL_NO_SERVER' });
  }
  return { status: res.status, body: (await res.json()) as T & { code?: string; message?: string } };
}

function fail(status: number, body: { code?: string; message?: string }): never {
  throw Object.assign(new Error(`${body.message ?? `HTTP ${status}`} [${body.code ?? `HTTP_${status}`}]`), { code: body.code });
}

/** `trailgate approvals list`: the queue, newest first. */
export async function runApprovalsList(configFile: string | undefined, o: ApprovalsCliOptions): Promise<void> {
  const q = o.state === 'all' ? '' : `?state=${encodeURIComponent(o.state ?? 'pending')}`;
  const r = await call<{ approvals: Approval[] }>(configFile, o, 'GET', `/api/approvals${q}`);
  if (r.status !== 200) fail(r.status, r.body);
  if (o.json) {
    for (const a of r.body.approvals) console.log(JSON.stringify(a));
    return;
  }
  printTable(
    ['ID', 'STATE', 'TARGET', 'RULE', 'RUN', 'ACTOR', 'EXPIRES', 'TEXT'],
    r.body.approvals.map((a) => [a.id, a.state, a.target, a.rule, [a.run.repository, a.run.runId && `${a.run.runId}/${a.run.runAttempt ?? '1'}`].filter(Boolean).join(' '), a.run.actor ?? '', a.expiresAt, a.text]),
  );
}

/** `trailgate approvals show ID`: the statement, parameters, run and reviews. */
export async function runApprovalsShow(configFile: string | undefined, id: string, o: ApprovalsCliOptions): Promise<void> {
  const r = await call<{ approval: Approval; reviews: Review[] }>(configFile, o, 'GET', `/api/approvals/${encodeURIComponent(id)}`);
  if (r.status !== 200) fail(r.status, r.body);
  if (o.json) {
    console.log(JSON.stringify(r.body));
    return;
  }
  const { approval: a, reviews } = r.body;
  const lines = [
    `approval   ${a.id} (${a.state})`,
    `target     ${printable(a.target)} · rule ${printable(a.rule)} · quorum ${a.quorum}${a.allowSelfApproval ? ' · self-approval allowed' : ''}`,
    `run        ${printable(Object.entries(a.run).map(([k, v]) => `${k}=${v}`).join(' '))}`,
    `session    ${a.sessionId}`,
    `expires    ${a.expiresAt}`,
    `text       ${printable(a.text, 10_000)}`,
    ...(a.parameters?.length ? [`parameters ${a.parameters.map((p) => printable(parameterText(p))).join(', ')}`] : []),
    ...reviews.map((v) => `review     ${printable(v.reviewer)}: ${v.verdict}${v.counted ? '' : ` (not counted: ${v.refusedReason})`}${v.reason ? ` · ${printable(v.reason)}` : ''} · ${v.at}`),
  ];
  console.log(lines.join('\n'));
}

/** `trailgate approvals approve|reject ID`: one review; the gateway holding the statement decides by the quorum. */
export async function runApprovalsReview(configFile: string | undefined, verdict: 'approve' | 'reject', id: string, o: ApprovalsCliOptions): Promise<void> {
  if (verdict === 'reject' && !o.reason) throw usage('a rejection needs --reason: the client gets it with the error');
  const r = await call<{ code: string; message: string }>(configFile, o, 'POST', `/api/approvals/${encodeURIComponent(id)}/${verdict}`, o.reason ? { reason: o.reason } : {});
  if (r.status !== 200) fail(r.status, r.body);
  console.log(o.json ? JSON.stringify(r.body) : r.body.message);
}
