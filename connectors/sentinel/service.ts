import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { ClientSecretCredential, ManagedIdentityCredential, WorkloadIdentityCredential, type TokenCredential } from '@azure/identity';
import { isAggregateLogsUploadError, LogsIngestionClient } from '@azure/monitor-ingestion';
import { resolveSentinelSecret, type SentinelConfig } from './config.js';
import type { Row } from './columns.js';

/** Rows one upload could not deliver, with the service's answer for them. */
export interface UploadFailure {
  rows: Row[];
  /** HTTP status; absent when the request never got an answer (connection reset, DNS, TLS). */
  status?: number;
  /** The service's error code from `{"error": {"code": ...}}`, when it sent one. */
  code?: string;
  message: string;
  retryAfterMs?: number;
}

/** What the sink needs from the Logs Ingestion API: send rows, learn which ones did not arrive. */
export interface IngestionService {
  /** Resolves with the failures (empty when every row was accepted, 204); never rejects for an HTTP answer. */
  upload(rows: Row[], o?: { maxConcurrency?: number; abortSignal?: AbortSignal }): Promise<UploadFailure[]>;
}

/** The credential the configuration names; never a chain that probes for whichever identity answers. */
export function sentinelCredential(config: SentinelConfig, agent?: Agent): TokenCredential {
  const common = { ...(config.authorityHost ? { authorityHost: config.authorityHost, disableInstanceDiscovery: true } : {}), ...(agent ? { agent } : {}) };
  const c = config.credential;
  switch (c.kind) {
    case 'client-secret':
      return new ClientSecretCredential(c.tenantId, c.clientId, resolveSentinelSecret(c.clientSecret, 'sentinel.credential.clientSecret'), common);
    case 'workload-identity':
      return new WorkloadIdentityCredential({ tenantId: c.tenantId, clientId: c.clientId, tokenFilePath: c.tokenFile, ...common });
    case 'managed-identity':
      return c.clientId ? new ManagedIdentityCredential({ clientId: c.clientId, ...(agent ? { agent } : {}) }) : new ManagedIdentityCredential(agent ? { agent } : {});
  }
}

/** An HTTPS agent that trusts caFile on top of the system roots; undefined when none is configured. */
export function sentinelAgent(config: SentinelConfig): Agent | undefined {
  if (!config.caFile) return undefined;
  return new Agent({ keepAlive: true, ca: [...rootCertificates, readFileSync(config.caFile, 'utf8')] });
}

/** The real service through @azure/monitor-ingestion: it gzips, splits under 1 MB, and retries 429/5xx/resets a few times itself. */
export class LogsIngestionService implements IngestionService {
  private readonly client: LogsIngestionClient;

  constructor(
    private readonly config: SentinelConfig,
    credential: TokenCredential = sentinelCredential(config, sentinelAgent(config)),
    agent: Agent | undefined = sentinelAgent(config),
  ) {
    this.client = new LogsIngestionClient(config.endpoint, credential, {
      ...(config.audience ? { audience: config.audience } : {}),
      ...(agent ? { agent } : {}),
      retryOptions: { maxRetries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 5000 },
    });
  }

  async upload(rows: Row[], o: { maxConcurrency?: number; abortSignal?: AbortSignal } = {}): Promise<UploadFailure[]> {
    try {
      await this.client.upload(this.config.ruleId, this.config.stream, rows as Record<string, unknown>[], {
        maxConcurrency: o.maxConcurrency ?? this.config.maxConcurrency,
        ...(o.abortSignal ? { abortSignal: o.abortSignal } : {}),
      });
      return [];
    } catch (err) {
      if (isAggregateLogsUploadError(err)) return err.errors.map((e) => ({ rows: e.failedLogs as Row[], ...answerOf(e.cause) }));
      // Not a per-chunk failure: the credential could not get a token, or the upload was aborted.
      return [{ rows, ...answerOf(err as Error) }];
    }
  }
}

/** Reads status, service error code, message and Retry-After from a RestError or a credential error. */
function answerOf(cause: Error): Omit<UploadFailure, 'rows'> {
  const e = cause as Error & { statusCode?: number; code?: string; response?: { headers?: { get(n: string): string | undefined }; bodyAsText?: string | null } };
  let code: string | undefined;
  let message = e.message;
  const body = e.response?.bodyAsText;
  if (body) {
    try {
      const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
      code = parsed.error?.code;
      if (parsed.error?.message) message = parsed.error.message;
    } catch {
      message = body.slice(0, 300);
    }
  }
  if (e.name === 'CredentialUnavailableError' || e.name === 'AuthenticationError' || e.name === 'AuthenticationRequiredError') {
    // An identity provider that is down or throttling may issue the token later; a refusal will not.
    if (e.statusCode !== undefined && (e.statusCode >= 500 || e.statusCode === 429)) return { status: e.statusCode, message: `Entra ID is unavailable: ${firstLine(e.message)}` };
    return { status: 401, code: 'CredentialRejected', message: `Entra ID did not issue a token: ${firstLine(e.message)}` };
  }
  const retryAfter = e.response?.headers?.get('retry-after');
  const retryAfterMs = retryAfter === undefined ? undefined : /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : Math.max(0, Date.parse(retryAfter) - Date.now());
  return {
    ...(e.statusCode ? { status: e.statusCode } : {}),
    // The client reads `{"error": {"code"}}` into RestError.code; transport errors carry theirs (ECONNRESET).
    ...(code ?? e.code ? { code: code ?? e.code } : {}),
    message: firstLine(message),
    ...(retryAfterMs !== undefined && Number.isFinite(retryAfterMs) ? { retryAfterMs } : {}),
  };
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 500);
}
