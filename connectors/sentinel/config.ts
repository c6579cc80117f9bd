import { readFileSync } from 'node:fs';
import * as z from 'zod';

/** A secret inline, from an environment variable, or from a file (the same shape as every secret in trailgate.yaml). */
const Secret = z.union([z.string().min(1), z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()]);
export type SentinelSecret = z.infer<typeof Secret>;

/** How the forwarder proves itself to Entra ID; chosen explicitly, never by probing a credential chain. */
const Credential = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('client-secret'), tenantId: z.string().min(1), clientId: z.string().min(1), clientSecret: Secret }).strict(),
  /** Azure-hosted runners: the VM's or app's identity; clientId picks a user-assigned identity. */
  z.object({ kind: z.literal('managed-identity'), clientId: z.string().min(1).optional() }).strict(),
  /** Federated CI (e.g. AKS workload identity): an OIDC token in a file is exchanged for an Entra token. */
  z.object({ kind: z.literal('workload-identity'), tenantId: z.string().min(1), clientId: z.string().min(1), tokenFile: z.string().min(1) }).strict(),
]);

/** Columns start with a letter: at most 45 letters, digits or _ (Logs Ingestion API). */
const STREAM = /^Custom-[A-Za-z][A-Za-z0-9_]{0,44}$/;

export const SentinelConfig = z
  .object({
    /** The DCR's logs ingestion endpoint (or a DCE), e.g. https://my-dcr-abcd.westeurope-1.ingest.monitor.azure.com */
    endpoint: z.string().url(),
    /** The data collection rule's immutable id, dcr-<32 hex>. */
    ruleId: z.string().regex(/^dcr-[0-9a-f]{32}$/, 'the DCR immutable id looks like dcr-<32 hex digits> (Azure portal: the DCR > JSON view > immutableId)'),
    /** The stream declared in the DCR (dashboards/sentinel/dcr.json declares Custom-TrailgateAudit). */
    stream: z.string().regex(STREAM, 'a DCR stream name is Custom-<name>').default('Custom-TrailgateAudit'),
    credential: Credential,
    /** Entra authority for sovereign clouds (https://login.microsoftonline.us); default the public cloud. */
    authorityHost: z.string().url().optional(),
    /** Token audience: https://monitor.azure.com, or .us / .cn in sovereign clouds. */
    audience: z.string().url().optional(),
    /** PEM bundle to trust in addition to the system roots (a TLS-inspecting proxy). */
    caFile: z.string().min(1).optional(),
    /** Records of these streams are forwarded; byte chunks go by digest only, never their content. */
    streams: z.array(z.enum(['events', 'bytes'])).min(1).default(['events', 'bytes']),
    /** Longest value of one column, in UTF-8 bytes; longer ones are cut with a *Truncated flag and a *Sha256. */
    maxFieldBytes: z.number().int().min(1024).max(64 * 1024).default(32 * 1024),
    /** Rows handed to one upload; the SDK splits them into requests under 1 MB. */
    maxRowsPerUpload: z.number().int().min(1).max(50_000).default(5000),
    /** Requests of one upload in flight at once. */
    maxConcurrency: z.number().int().min(1).max(16).default(2),
    /** Rounds of re-sending failed rows before the batch is handed back to the consumer to come again. */
    maxAttempts: z.number().int().min(1).default(8),
    initialBackoffMs: z.number().int().min(1).default(500),
    maxBackoffMs: z.number().int().min(1).default(30_000),
    /** A sink stopped by a configuration error (401, 403, unknown DCR or stream) tries once more after this long. */
    stoppedRetryMs: z.number().int().min(10).default(300_000),
  })
  .strict();
export type SentinelConfig = z.infer<typeof SentinelConfig>;

/** Reads a secret; the error names the key, never the value. */
export function resolveSentinelSecret(ref: SentinelSecret, key: string): string {
  if (typeof ref === 'string') return ref;
  if ('env' in ref) {
    const value = process.env[ref.env];
    if (value === undefined) throw Object.assign(new Error(`${key} refers to environment variable ${ref.env}, which is not set`), { code: 'TG_CONFIG_SECRET' });
    return value;
  }
  try {
    return readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw Object.assign(new Error(`${key} refers to file ${ref.file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`), { code: 'TG_CONFIG_SECRET' });
  }
}
