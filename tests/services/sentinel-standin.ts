/**
 * A STAND-IN for Microsoft Sentinel's ingestion side (Azure Monitor Logs Ingestion API and the Entra ID
 * token endpoint): Sentinel is SaaS and cannot run here. Written to Microsoft's documented protocol:
 *  - Entra ID v2.0: GET /{tenant}/v2.0/.well-known/openid-configuration and
 *    POST /{tenant}/oauth2/v2.0/token with grant_type=client_credentials, either client_secret or a
 *    client_assertion (workload identity federation), scope <audience>/.default.
 *  - The App Service managed identity endpoint: GET /msi/token?api-version=2019-08-01&resource=... with
 *    the X-IDENTITY-HEADER secret (what IDENTITY_ENDPOINT and IDENTITY_HEADER point a managed identity at).
 *  - POST /dataCollectionRules/{dcrImmutableId}/streams/{stream}?api-version=2023-01-01 with
 *    `Authorization: Bearer`, a JSON array body (optionally `Content-Encoding: gzip`), at most 1 MB
 *    compressed and uncompressed (413 beyond), rows checked against the stream declaration of the shipped
 *    dashboards/sentinel/dcr.json (400 with an Azure error body `{"error": {"code", "message"}}`), values
 *    over 64 KB truncated as the service does, 204 on success.
 * Faults are scripted per request (429 with Retry-After, 401, 403, 413, 500, 503, a reset before or after
 * the rows were stored, a delay that makes requests finish out of order). HTTPS on loopback only, with a
 * CA made by openssl for this run; the test trusts it through the SDK's https agent.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const LOGS_INGESTION_API_VERSION = '2023-01-01';
const ONE_MB = 1024 * 1024;
const FIELD_LIMIT = 64 * 1024;

export type Fault =
  | { status: 429 | 500 | 503; retryAfter?: number; times?: number }
  | { status: 401 | 403 | 413; times?: number }
  /** Destroys the connection after the body was read; `afterStore` keeps the rows first (the client saw no answer). */
  | { reset: true; afterStore?: boolean; times?: number }
  /** Holds the answer so that later requests finish first. */
  | { delayMs: number; times?: number };

export interface StandInOptions {
  dcrFile: string;
  ruleId: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The federated token a workload identity presents as client_assertion. */
  federatedToken?: string;
  /** The secret header of the App Service managed identity endpoint (IDENTITY_HEADER). */
  identityHeader?: string;
}

export interface ReceivedRow {
  stream: string;
  row: Record<string, unknown>;
  request: number;
}

interface Column {
  name: string;
  type: string;
}

export class SentinelStandIn {
  readonly received: ReceivedRow[] = [];
  /** Ingestion requests seen, and their answers, in arrival order. */
  readonly requests: { status: number; rows: number; bytes: number; gzip: boolean; apiVersion: string | null }[] = [];
  readonly tokenRequests: { grantType: string; scope: string; assertion: boolean; status: number }[] = [];
  readonly faults: Fault[] = [];
  /** A fault answered to every ingestion request until cleared (a revoked role, a deleted DCR). */
  persistentFault: Fault | null = null;
  /** Requests this picks are stored only after another request was: out-of-order completion without timing. */
  holdUntilAnother: ((rows: Record<string, unknown>[]) => boolean) | null = null;
  private readonly stored = new EventEmitter();
  /** Rows for which the service answers 400 every time (a poison row). */
  rejectRow: ((row: Record<string, unknown>) => boolean) | null = null;
  /** Called for each ingestion request once its answer is decided (a test can kill a forwarder mid-batch here). */
  onIngest: ((n: number) => void) | null = null;
  /** Access tokens the token endpoint issued, so a test can look for them in logs. */
  readonly tokens = new Set<string>();

  private constructor(
    private readonly server: Server,
    readonly caFile: string,
    private readonly dir: string,
    private readonly o: StandInOptions,
    private readonly streams: Map<string, Column[]>,
  ) {}

  static async start(o: StandInOptions): Promise<SentinelStandIn> {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-standin-'));
    const tls = makeCertificates(dir);
    const dcr = JSON.parse(readFileSync(o.dcrFile, 'utf8')) as { properties: { streamDeclarations: Record<string, { columns: Column[] }> } };
    const streams = new Map(Object.entries(dcr.properties.streamDeclarations).map(([name, s]) => [name, s.columns]));
    let standIn: SentinelStandIn | null = null;
    const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => void standIn!.handle(req, res).catch((err: Error) => {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'InternalServerError', message: err.message } }));
    }));
    standIn = new SentinelStandIn(server, tls.caFile, dir, o, streams);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return standIn;
  }

  get url(): string {
    const a = this.server.address() as { port: number };
    return `https://127.0.0.1:${a.port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Forgets what was received and every fault, for the next scenario. */
  reset(): void {
    this.received.length = 0;
    this.requests.length = 0;
    this.faults.length = 0;
    this.persistentFault = null;
    this.rejectRow = null;
    this.holdUntilAnother = null;
  }

  /** Every row the service stored, one per delivery (duplicates kept). */
  rows(stream = 'Custom-TrailgateAudit'): Record<string, unknown>[] {
    return this.received.filter((r) => r.stream === stream).map((r) => r.row);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req);
    const discovery = url.pathname.match(/^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/);
    if (req.method === 'GET' && discovery) return this.discovery(res, discovery[1]!);
    const token = url.pathname.match(/^\/([^/]+)\/oauth2\/v2\.0\/token$/);
    if (req.method === 'POST' && token) return this.token(res, token[1]!, new URLSearchParams(body.toString('utf8')));
    if (req.method === 'GET' && url.pathname === '/msi/token') return this.managedIdentity(req, res, url);
    const ingest = url.pathname.match(/^\/dataCollectionRules\/([^/]+)\/streams\/([^/]+)$/);
    if (req.method === 'POST' && ingest) return this.ingest(req, res, url, decodeURIComponent(ingest[1]!), decodeURIComponent(ingest[2]!), body);
    azureError(res, 404, 'NotFound', `no route for ${req.method} ${url.pathname}`);
  }

  private discovery(res: ServerResponse, tenant: string): void {
    const base = `${this.url}/${tenant}`;
    json(res, 200, {
      issuer: `${base}/v2.0`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      jwks_uri: `${this.url}/${tenant}/discovery/v2.0/keys`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      tenant_region_scope: 'EU',
    });
  }

  private token(res: ServerResponse, tenant: string, form: URLSearchParams): void {
    const grantType = form.get('grant_type') ?? '';
    const scope = form.get('scope') ?? '';
    const assertion = form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
    const answer = (status: number, body: Record<string, unknown>) => {
      this.tokenRequests.push({ grantType, scope, assertion, status });
      json(res, status, body);
    };
    if (tenant !== this.o.tenantId) return answer(400, { error: 'invalid_request', error_description: `AADSTS90002: Tenant '${tenant}' not found.` });
    if (grantType !== 'client_credentials') return answer(400, { error: 'unsupported_grant_type', error_description: 'AADSTS70003: The app requested an unsupported grant type.' });
    if (!/^https:\/\/monitor\.azure\.(com|us|cn)\/{1,2}\.default$/.test(scope)) return answer(400, { error: 'invalid_scope', error_description: `AADSTS70011: The provided value for scope ${scope} is not valid.` });
    if (form.get('client_id') !== this.o.clientId) return answer(400, { error: 'unauthorized_client', error_description: 'AADSTS700016: Application not found in the directory.' });
    const proven = assertion ? this.o.federatedToken !== undefined && form.get('client_assertion') === this.o.federatedToken : form.get('client_secret') === this.o.clientSecret;
    if (!proven) return answer(401, { error: 'invalid_client', error_description: assertion ? 'AADSTS700213: No matching federated identity record found for presented assertion.' : 'AADSTS7000215: Invalid client secret provided.' });
    const accessToken = `standin.${randomBytes(24).toString('base64url')}`;
    this.tokens.add(accessToken);
    answer(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: accessToken });
  }

  /** The App Service managed identity endpoint (IDENTITY_ENDPOINT, secret header X-IDENTITY-HEADER, api-version 2019-08-01). */
  private managedIdentity(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const resource = url.searchParams.get('resource') ?? '';
    const answer = (status: number, body: Record<string, unknown>) => {
      this.tokenRequests.push({ grantType: 'managed_identity', scope: resource, assertion: false, status });
      json(res, status, body);
    };
    if (!this.o.identityHeader || req.headers['x-identity-header'] !== this.o.identityHeader) return answer(401, { statusCode: 401, message: 'The identity header is missing or wrong.' });
    if (url.searchParams.get('api-version') !== '2019-08-01') return answer(400, { statusCode: 400, message: 'Unsupported api-version.' });
    if (!/^https:\/\/monitor\.azure\.(com|us|cn)\/?$/.test(resource)) return answer(400, { statusCode: 400, message: `Unsupported resource ${resource}.` });
    const accessToken = `standin.mi.${randomBytes(24).toString('base64url')}`;
    this.tokens.add(accessToken);
    answer(200, { access_token: accessToken, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource, token_type: 'Bearer', client_id: this.o.clientId });
  }

  private async ingest(req: IncomingMessage, res: ServerResponse, url: URL, ruleId: string, stream: string, raw: Buffer): Promise<void> {
    const gzip = /gzip/i.test(String(req.headers['content-encoding'] ?? ''));
    const apiVersion = url.searchParams.get('api-version');
    const entry = { status: 0, rows: 0, bytes: raw.length, gzip, apiVersion };
    this.requests.push(entry);
    const answer = (status: number, code?: string, message?: string, headers: Record<string, string> = {}) => {
      entry.status = status;
      this.onIngest?.(this.requests.length);
      if (code) azureError(res, status, code, message ?? code, headers);
      else res.writeHead(status, headers).end();
    };
    if (apiVersion !== LOGS_INGESTION_API_VERSION) return answer(400, 'InvalidApiVersion', `The api-version '${apiVersion}' is not supported; use ${LOGS_INGESTION_API_VERSION}.`);
    const auth = String(req.headers.authorization ?? '');
    if (!auth.startsWith('Bearer ') || !this.tokens.has(auth.slice(7))) return answer(401, 'InvalidToken', 'The authentication token is missing, expired or not valid for https://monitor.azure.com.');
    const fault = this.nextFault();
    if (fault && 'delayMs' in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault && 'status' in fault) {
      const messages: Record<number, [string, string]> = {
        401: ['InvalidToken', 'The authentication token is not valid.'],
        403: ['OperationFailed', `The authentication token provided does not have access to ingest data for the data collection rule with immutable Id '${ruleId}'.`],
        413: ['ContentLengthLimitExceeded', 'The request content length exceeds 1 MB.'],
        429: ['TooManyRequests', 'Rate limit of 12000 requests per minute per DCR exceeded.'],
        500: ['InternalServerError', 'An internal error occurred.'],
        503: ['ServiceUnavailable', 'The service is temporarily unavailable.'],
      };
      const [code, message] = messages[fault.status]!;
      return answer(fault.status, code, message, 'retryAfter' in fault && fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {});
    }
    if (ruleId !== this.o.ruleId) return answer(404, 'NotFound', `Data collection rule with immutable Id '${ruleId}' not found.`);
    const columns = this.streams.get(stream);
    if (!columns) return answer(400, 'InvalidStream', `Stream '${stream}' is not declared in data collection rule '${ruleId}'.`);
    if (raw.length > ONE_MB) return answer(413, 'ContentLengthLimitExceeded', `The request body is ${raw.length} bytes; at most 1 MB is accepted.`);
    let text: Buffer;
    try {
      text = gzip ? gunzipSync(raw) : raw;
    } catch {
      return answer(400, 'InvalidContentEncoding', 'The body is not valid gzip.');
    }
    if (text.length > ONE_MB) return answer(413, 'ContentLengthLimitExceeded', `The uncompressed body is ${text.length} bytes; at most 1 MB is accepted.`);
    let rows: unknown;
    try {
      rows = JSON.parse(text.toString('utf8'));
    } catch {
      return answer(400, 'InvalidPayload', 'The body is not valid JSON.');
    }
    if (!Array.isArray(rows)) return answer(400, 'InvalidPayload', 'The body must be a JSON array of records.');
    for (const [i, row] of rows.entries()) {
      const problem = checkRow(row, columns);
      if (problem) return answer(400, 'InvalidPayload', `Record ${i}: ${problem}`);
      if (this.rejectRow?.(row as Record<string, unknown>)) return answer(400, 'InvalidPayload', `Record ${i}: the transformation could not process the record.`);
    }
    if (fault && 'reset' in fault && !fault.afterStore) return void req.socket.destroy();
    if (this.holdUntilAnother?.(rows as Record<string, unknown>[])) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 15_000);
        this.stored.once('stored', () => (clearTimeout(timer), resolve()));
      });
    }
    const request = this.requests.length;
    for (const row of rows as Record<string, unknown>[]) this.received.push({ stream, row: truncateFields(row), request });
    entry.rows = rows.length;
    this.stored.emit('stored');
    if (fault && 'reset' in fault) return void req.socket.destroy();
    answer(204);
  }

  private nextFault(): Fault | null {
    if (this.persistentFault) return this.persistentFault;
    const f = this.faults[0];
    if (!f) return null;
    if ((f.times ?? 1) <= 1) this.faults.shift();
    else f.times = (f.times ?? 1) - 1;
    return f;
  }
}

/** Checks a row against the stream declaration: only declared columns, each of its declared type. */
function checkRow(row: unknown, columns: Column[]): string | null {
  if (!row || typeof row !== 'object' || Array.isArray(row)) return 'a record must be a JSON object';
  const types = new Map(columns.map((c) => [c.name, c.type]));
  for (const [name, value] of Object.entries(row as Record<string, unknown>)) {
    const type = types.get(name);
    if (!type) return `column '${name}' is not declared in the stream`;
    if (value === null) continue;
    const ok =
      type === 'string' ? typeof value === 'string'
      : type === 'int' || type === 'long' ? Number.isInteger(value)
      : type === 'real' ? typeof value === 'number'
      : type === 'boolean' ? typeof value === 'boolean'
      : type === 'datetime' ? typeof value === 'string' && !Number.isNaN(Date.parse(value))
      : true;
    if (!ok) return `column '${name}' of type ${type} cannot hold ${JSON.stringify(value).slice(0, 60)}`;
  }
  return null;
}

/** Values over 64 KB are truncated by the service, not refused. */
function truncateFields(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (typeof v === 'string' && Buffer.byteLength(v) > FIELD_LIMIT) out[k] = Buffer.from(v).subarray(0, FIELD_LIMIT).toString('utf8');
    else out[k] = v;
  }
  return out;
}

function makeCertificates(dir: string): { key: string; cert: string; caFile: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Trailgate test CA (Sentinel stand-in)');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  return { key: readFileSync(join(dir, 'server.key'), 'utf8'), cert: readFileSync(join(dir, 'server.crt'), 'utf8'), caFile: join(dir, 'ca.crt') };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

function azureError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-ms-error-code': code, ...headers }).end(JSON.stringify({ error: { code, message } }));
}
