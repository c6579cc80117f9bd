import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';

/** How `approvals wait` ends: scripts branch on these. */
export const WAIT_EXIT = { approved: 0, failed: 1, usage: 2, rejected: 3, expired: 4, ended: 5 } as const;

export interface JobCliOptions {
  target?: string;
  file?: string;
  window?: string;
  rule?: string;
  gateway?: string;
  caFile?: string;
  tokenFile?: string;
  json?: boolean;
}

const fail = (code: string, message: string) => Object.assign(new Error(`${message} [${code}]`), { code });
const usage = (message: string) => Object.assign(new Error(message), { code: 'TG_USAGE' });

/** The job's CI token: --token-file, else $TRAILGATE_TOKEN, else GitHub Actions' token endpoint. Never printed. */
async function jobToken(o: JobCliOptions): Promise<string> {
  if (o.tokenFile) {
    try {
      return readFileSync(o.tokenFile, 'utf8').trim();
    } catch (err) {
      throw usage(`--token-file ${o.tokenFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const env = process.env.TRAILGATE_TOKEN?.trim();
  if (env) return env;
  const url = process.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (url && bearer) {
    const u = new URL(url);
    u.searchParams.set('audience', process.env.TRAILGATE_AUDIENCE ?? 'trailgate');
    const res = await fetch(u, { headers: { authorization: `bearer ${bearer}` } });
    const value = res.ok ? ((await res.json()) as { value?: unknown }).value : undefined;
    if (typeof value === 'string' && value) return value;
    throw fail('TG_APPROVAL_NO_TOKEN', `GitHub Actions gave no OIDC token (HTTP ${res.status}); the job needs \`permissions: id-token: write\``);
  }
  throw usage('no CI token: set TRAILGATE_TOKEN, pass --token-file, or run in GitHub Actions with `permissions: id-token: write` [TG_APPROVAL_NO_TOKEN]');
}

function gatewayOf(o: JobCliOptions): { url: URL; ca?: Buffer } {
  const base = o.gateway ?? process.env.TRAILGATE_GATEWAY_URL;
  if (!base) throw usage('no gateway to ask: pass --gateway https://<gateway>:6490 or set TRAILGATE_GATEWAY_URL (the gateway\'s approvals.listen) [TG_APPROVAL_NO_GATEWAY]');
  const url = new URL(base);
  if (url.protocol !== 'https:') throw usage('the gateway URL must be https: the CI token is a bearer secret [TG_APPROVAL_NO_GATEWAY]');
  const caFile = o.caFile ?? process.env.TRAILGATE_GATEWAY_CA;
  return { url, ...(caFile ? { ca: readFileSync(caFile) } : {}) };
}

function call(o: JobCliOptions, token: string, method: 'GET' | 'POST', path: string, body?: object): Promise<IncomingMessage> {
  const { url, ca } = gatewayOf(o);
  const payload = body ? JSON.stringify(body) : undefined;
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(path, url),
      { method, agent: false, ...(ca ? { ca } : {}), headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) } },
      resolve,
    );
    req.on('error', (err) => reject(fail('TG_APPROVAL_NO_GATEWAY', `cannot reach the gateway at ${url.origin}: ${err.message}; check --gateway and --ca-file`)));
    req.end(payload);
  });
}

async function jsonOf(res: IncomingMessage): Promise<{ code?: string; message?: string } & Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const d of res) parts.push(d as Buffer);
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8')) as { code?: string; message?: string };
  } catch {
    return { code: `HTTP_${res.statusCode}`, message: `the gateway answered HTTP ${res.statusCode} without JSON` };
  }
}

/** `30m`, `2h`, `90s` or plain seconds. */
export function durationSeconds(text: string): number {
  const m = /^(\d+)\s*(s|m|h)?$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw usage(`--window ${text}: give a duration such as 30m, 2h or 900s`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as const)[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

/** `trailgate approvals request`: asks ahead for a file's statements (plan and apply) or a window; prints the id. */
export async function runApprovalsRequest(o: JobCliOptions): Promise<void> {
  if (!o.target) throw usage('--target T is required: the target the statements will run on');
  if (!o.file === !o.window) throw usage('give --file migrate.sql (plan and apply) or --window 30m (a window), one of them');
  let body: object;
  if (o.file) {
    const { loadModule } = await import('libpg-query');
    const { splitStatements } = await import('../approvals/statement-split.js');
    await loadModule();
    let sql: string;
    try {
      sql = readFileSync(o.file, 'utf8');
    } catch (err) {
      throw usage(`--file ${o.file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const statements = splitStatements(sql);
    if (statements.length === 0) throw usage(`--file ${o.file} holds no statement`);
    body = { target: o.target, statements: statements.map((text) => ({ text })), ...(o.rule ? { rule: o.rule } : {}) };
  } else {
    body = { target: o.target, windowSeconds: durationSeconds(o.window!), ...(o.rule ? { rule: o.rule } : {}) };
  }
  const res = await call(o, await jobToken(o), 'POST', '/v1/approvals', body);
  const answer = await jsonOf(res);
  if (res.statusCode !== 201) throw fail(answer.code ?? `HTTP_${res.statusCode}`, answer.message ?? `the gateway answered HTTP ${res.statusCode}`);
  if (o.json) console.log(JSON.stringify(answer));
  else {
    console.error(`trailgate: approval ${String(answer.id)} asked of rule ${String(answer.rule)} (${String(answer.quorum)} approver${answer.quorum === 1 ? '' : 's'}) for ${answer.statements ? `${String(answer.statements)} statement(s)` : `a window of ${String(answer.windowSeconds)} s`} on ${String(answer.target)}; decide by ${String(answer.expiresAt)}${answer.link ? `: ${String(answer.link)}` : ''}`);
    console.log(String(answer.id));
  }
}

interface Progress {
  id: string;
  state: string;
  approved: number;
  quorum: number;
  deciders?: string[];
  reason?: string;
  windowEndsAt?: string;
}

/** `trailgate approvals wait ID`: follows the approval without a database connection; the exit status says how it ended. */
export async function runApprovalsWait(id: string, o: JobCliOptions): Promise<void> {
  const res = await call(o, await jobToken(o), 'GET', `/v1/approvals/${encodeURIComponent(id)}/wait`);
  if (res.statusCode !== 200) {
    const answer = await jsonOf(res);
    throw fail(answer.code ?? `HTTP_${res.statusCode}`, answer.message ?? `the gateway answered HTTP ${res.statusCode}`);
  }
  let last: Progress | null = null;
  let partial = '';
  for await (const d of res) {
    partial += (d as Buffer).toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines.filter(Boolean)) {
      last = JSON.parse(line) as Progress;
      if (o.json) console.log(line);
      else if (last.state === 'pending') console.error(`trailgate: waiting for approval ${last.id} (${last.approved} of ${last.quorum} approved)`);
    }
  }
  if (!last || last.state === 'pending') throw fail('TG_APPROVAL_WAIT_LOST', `the gateway closed the wait for ${id} before a decision; run \`trailgate approvals wait ${id}\` again`);
  const by = last.deciders?.length ? ` by ${last.deciders.join(', ')}` : '';
  const messages: Record<string, string> = {
    approved: `approval ${last.id} approved${by}${last.windowEndsAt ? `; the window is open until ${last.windowEndsAt}` : ': apply the statements now, from this run'}`,
    rejected: `approval ${last.id} rejected${by}: ${last.reason ?? 'no reason given'} [TG_APPROVAL_REJECTED]`,
    expired: `approval ${last.id} expired without a decision; ask again [TG_APPROVAL_EXPIRED]`,
  };
  if (!o.json) console.error(`trailgate: ${messages[last.state] ?? `approval ${last.id} ended ${last.state}: ${last.reason ?? ''} [TG_APPROVAL_${last.state.toUpperCase()}]`}`);
  process.exitCode = last.state === 'approved' ? WAIT_EXIT.approved : last.state === 'rejected' ? WAIT_EXIT.rejected : last.state === 'expired' ? WAIT_EXIT.expired : WAIT_EXIT.ended;
}
