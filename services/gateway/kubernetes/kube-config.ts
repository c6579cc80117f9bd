import * as z from 'zod';

/** A secret given inline, from an environment variable, or from a file (as SecretRef in schema.ts, kept here to avoid an import cycle). */
const Secret = z.union([z.string().min(1), z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()]);

/**
 * Rights a rule can grant on Kubernetes targets: `read` (get, list, watch), `write` (create, update,
 * patch, delete), `exec`, `attach`, `port-forward` and `logs` on pods; `all` grants every one. `read`
 * and `write` are shared with Postgres, `exec` with SSH.
 */
export const KUBE_ONLY_RIGHTS = ['attach', 'port-forward', 'logs'] as const;
export const KUBE_RIGHTS = ['read', 'write', 'exec', ...KUBE_ONLY_RIGHTS] as const;
export type KubeRight = (typeof KUBE_RIGHTS)[number];

const Globs = z.array(z.string().min(1)).min(1);

/** Fields a claim rule adds for Kubernetes targets (spread into ClaimRule). */
export const KubeRuleFields = {
  /** Kubernetes: namespaces (globs) the rule's rights hold in; unset: every namespace and cluster-scoped resources. */
  namespaces: Globs.optional(),
  /** Kubernetes: resources (globs on `pods`, `deployments.apps`, ...) the rule's rights hold on; unset: every resource. */
  resources: Globs.optional(),
  /** Kubernetes: groups the job is impersonated into besides `trailgate:rule:<rule>` (bind RBAC roles to them). */
  kubeGroups: z.array(z.string().min(1)).optional(),
  /** Kubernetes: record what the client sends to exec and attach (stdin); off because typed secrets live there. */
  recordStdin: z.boolean().optional(),
};

export const KubernetesTargetConfig = z
  .object({
    kind: z.literal('kubernetes'),
    /** The cluster's API server, e.g. https://10.0.0.1:6443. */
    server: z.string().url().refine((u) => u.startsWith('https://'), { message: 'the API server must be https://' }),
    /** CA bundle the API server's certificate is checked against. */
    caFile: z.string().min(1),
    /** The gateway's own credential: a bearer token (a ServiceAccount token) ... */
    token: Secret.optional(),
    /** ... or a client certificate and key. It needs `impersonate` and nothing else. */
    clientCertFile: z.string().min(1).optional(),
    clientKeyFile: z.string().min(1).optional(),
    /**
     * exec, attach and port-forward over SPDY/3.1 (kubectl 1.29 and older, 1.30's port-forward): `record` relays and records
     * them as over WebSocket (frames read before they are forwarded; malformed SPDY ends the stream); `refuse` answers 403
     * TG_KUBE_SPDY_REFUSED (recorded), for a gateway that takes WebSocket only.
     */
    spdy: z.enum(['record', 'refuse']).default('record'),
    /** Bytes of a write's body (create, update, patch) recorded with its request, after the trail's detectors; 0: none. Never a Secret's. */
    writeBodyBytes: z.number().int().min(0).default(64 * 1024),
    /** Seconds to wait for the API server's answer headers (streams may then run for as long as they last). */
    connectTimeoutSeconds: z.number().int().min(1).default(15),
  })
  .strict()
  .refine((t) => (t.token !== undefined) !== (t.clientCertFile !== undefined || t.clientKeyFile !== undefined), {
    message: 'set token, or clientCertFile and clientKeyFile (the gateway credential), not both',
  })
  .refine((t) => (t.clientCertFile === undefined) === (t.clientKeyFile === undefined), { message: 'clientCertFile and clientKeyFile go together' });
export type KubernetesTargetConfig = z.infer<typeof KubernetesTargetConfig>;

/** The Kubernetes front door: a TLS listener (kubectl sends its bearer token only over TLS). */
export const KubernetesListenerConfig = z
  .object({
    listen: z.object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(6443) }).strict().default({ host: '127.0.0.1', port: 6443 }),
    /** Default: the gateway's certificate in dataDir/tls (the one the Postgres listener uses). */
    tls: z.object({ certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() }).strict().default({}),
    /** Seconds an idle client connection is kept. */
    idleTimeoutSeconds: z.number().int().min(1).default(120),
  })
  .strict();
export type KubernetesListenerConfig = z.infer<typeof KubernetesListenerConfig>;
