import { z } from 'zod';

/** A secret is given inline, from an environment variable, or from a file; never only inline in production. */
export const SecretRef = z.union([
  z.string().min(1),
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type SecretRef = z.infer<typeof SecretRef>;

export const IssuerConfig = z
  .object({
    /** Short name used in events and policy. */
    name: z.string().min(1),
    /** Exact `iss` value expected in tokens. */
    issuer: z.string().min(1),
    /** Accepted `aud` values; at least one must be present in the token. */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** How to read the CI claims: github, gitlab or generic. */
    profile: z.enum(['github', 'gitlab', 'generic']).default('generic'),
    /** JWKS endpoint; defaults to the issuer's OpenID discovery document. */
    jwksUri: z.string().url().optional(),
    /** Static JWKS file for issuers the gateway cannot reach. */
    jwksFile: z.string().min(1).optional(),
    /** Allowed signature algorithms; HMAC and `none` are never accepted. */
    algorithms: z
      .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
      .min(1)
      .default(['RS256', 'ES256', 'EdDSA']),
  })
  .strict()
  .refine((i) => !(i.jwksUri && i.jwksFile), { message: 'set jwksUri or jwksFile, not both' });
export type IssuerConfig = z.infer<typeof IssuerConfig>;

export const PostgresTargetConfig = z
  .object({
    kind: z.literal('postgres').default('postgres'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    password: SecretRef.optional(),
    /** TLS toward the backend: disable, require (encrypt, no verification) or verify-full. */
    tls: z.enum(['disable', 'require', 'verify-full']).default('disable'),
    /** CA bundle for verify-full. */
    caFile: z.string().optional(),
    /** Add a sqlcommenter comment with the run's tags to each statement. */
    sqlcommenter: z.boolean().default(false),
  })
  .strict();
export type PostgresTargetConfig = z.infer<typeof PostgresTargetConfig>;

export const SshTargetConfig = z
  .object({
    kind: z.literal('ssh'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    /** The account on the target; jobs never choose it. */
    user: z.string().min(1),
    /** The gateway's private key for this target (OpenSSH or PEM text); give it as { file } or { env }. */
    privateKey: SecretRef,
    passphrase: SecretRef.optional(),
    /**
     * The target's pinned host key: an OpenSSH public key line (`ssh-ed25519 AAAA...`, as in known_hosts,
     * with or without the host names in front) or a fingerprint `SHA256:...`. A list accepts any of them (rotation).
     */
    hostKey: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** Send the run's tags as TRAILGATE_* environment variables (the target's AcceptEnv decides). */
    sendEnv: z.boolean().default(true),
    /** Seconds to wait for the target's handshake and authentication. */
    connectTimeoutSeconds: z.number().int().min(1).default(15),
  })
  .strict();
export type SshTargetConfig = z.infer<typeof SshTargetConfig>;

/** A target is a Postgres database (`kind` may be left out) or an SSH host (`kind: ssh`). */
export const TargetConfig = z.preprocess(
  (value) => (typeof value === 'object' && value !== null && !Array.isArray(value) && !('kind' in value) ? { ...value, kind: 'postgres' } : value),
  z.discriminatedUnion('kind', [PostgresTargetConfig, SshTargetConfig]),
);
export type TargetConfig = PostgresTargetConfig | SshTargetConfig;

/** Rights a rule can grant on Postgres targets; `all` grants every class. */
export const POSTGRES_RIGHTS = ['read', 'write', 'ddl', 'admin', 'function', 'code', 'transaction', 'session', 'all'] as const;
export type PostgresRight = (typeof POSTGRES_RIGHTS)[number];

/**
 * Rights a rule can grant on SSH targets: an interactive shell, exec (limited by the rule's `commands`),
 * file transfer (SFTP and scp) reading or writing, port forwarding each way, agent forwarding.
 */
export const SSH_RIGHTS = ['shell', 'exec', 'sftp-read', 'sftp-write', 'forward-local', 'forward-remote', 'agent'] as const;
export type SshRight = (typeof SSH_RIGHTS)[number];

/** Every right, Postgres classes first and `all` last; a rule may name rights of both kinds. */
export const RIGHTS = [...POSTGRES_RIGHTS.filter((r) => r !== 'all'), ...SSH_RIGHTS, 'all'] as const;
export type Right = PostgresRight | SshRight;

/** A glob (`*` any run of characters except `/`, `**` any run, `?` one character) or a list of them. */
const Glob = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const ClaimRule = z
  .object({
    /** Named in every decision event. */
    name: z.string().min(1),
    /** Issuer names (identity.issuers[].name) this rule applies to; default: any. */
    issuers: z.array(z.string().min(1)).optional(),
    /** Conditions on the job's CI context; all must hold. One of repository, repositoryOwner or subject is required. */
    repository: Glob.optional(),
    repositoryOwner: Glob.optional(),
    subject: Glob.optional(),
    ref: Glob.optional(),
    refType: Glob.optional(),
    workflow: Glob.optional(),
    workflowRef: Glob.optional(),
    jobWorkflowRef: Glob.optional(),
    environment: Glob.optional(),
    eventName: Glob.optional(),
    actor: Glob.optional(),
    runnerEnvironment: Glob.optional(),
    /** GitLab: the ref must (true) or must not (false) be protected. */
    refProtected: z.boolean().optional(),
    /** Any other claim of the token, by its claim name. */
    claims: z.record(z.string().min(1), Glob).optional(),
    /** Targets (globs on target names) the rule opens. */
    targets: z.array(z.string().min(1)).min(1),
    /** What the job may do there; rights of the other kind of target are ignored there. */
    rights: z.array(z.enum(RIGHTS)).min(1),
    /**
     * SSH: limits this rule's `exec` to command lines matching one of these globs (whole line; `*` and `?`
     * never match a shell metacharacter, so `deploy.sh *` cannot be stretched into `deploy.sh x; rm -rf /`).
     */
    commands: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict()
  .refine((r) => r.repository !== undefined || r.repositoryOwner !== undefined || r.subject !== undefined, {
    message: 'every rule names an anchor: repository, repositoryOwner or subject',
  });
export type ClaimRule = z.infer<typeof ClaimRule>;

export const TrailgateConfig = z
  .object({
    /** Where the embedded log, keys and generated certificates live. */
    dataDir: z.string().min(1).default('.trailgate'),
    /** Identifies this gateway instance in every record. */
    instance: z.string().min(1).optional(),
    identity: z
      .object({
        issuers: z.array(IssuerConfig).default([]),
        clockSkewSeconds: z.number().int().min(0).max(300).default(60),
        /** How long keys fetched from a JWKS endpoint stay usable while the issuer is unreachable. */
        jwksCacheMaxAgeSeconds: z.number().int().min(60).default(3600),
      })
      .strict()
      .default({ issuers: [], clockSkewSeconds: 60, jwksCacheMaxAgeSeconds: 3600 }),
    postgres: z
      .object({
        listen: z.object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(6432) }).strict().default({ host: '127.0.0.1', port: 6432 }),
        tls: z
          .object({
            certFile: z.string().optional(),
            keyFile: z.string().optional(),
            /** Refuse clients that are not on loopback unless they use TLS. */
            requireForRemote: z.boolean().default(true),
          })
          .strict()
          .default({ requireForRemote: true }),
        /** Largest client message accepted, in bytes; larger ones end the connection. */
        maxMessageBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
        /** Seconds a client has to finish the startup and authentication. */
        authTimeoutSeconds: z.number().int().min(1).default(30),
      })
      .strict()
      .default({ listen: { host: '127.0.0.1', port: 6432 }, tls: { requireForRemote: true }, maxMessageBytes: 64 * 1024 * 1024, authTimeoutSeconds: 30 }),
    /** Who may do what where. With no rules every authenticated job is refused (default deny). */
    policy: z
      .object({ rules: z.array(ClaimRule).default([]) })
      .strict()
      .default({ rules: [] }),
    /** The SSH front door; it runs when this section is present or an SSH target is configured. */
    ssh: z
      .object({
        listen: z.object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(2222) }).strict().default({ host: '127.0.0.1', port: 2222 }),
        /** The gateway's host key (OpenSSH or PEM private key); default: generated at first start in dataDir/ssh. */
        hostKeyFile: z.string().min(1).optional(),
        /** Seconds a client has to authenticate. */
        authTimeoutSeconds: z.number().int().min(1).default(30),
      })
      .strict()
      .optional(),
    targets: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'target names use letters, digits, _ . -'), TargetConfig).default({}),
    recording: z
      .object({
        /** strict: a command reaches the target only after its event is on disk; async: recording may lag. */
        mode: z.enum(['strict', 'async']).default('strict'),
        /** fsync every batch so records also survive power loss, not only a crash of the gateway. */
        fsync: z.boolean().default(false),
        /** Bytes per recorded chunk before it is closed. */
        chunkBytes: z.number().int().min(1024).default(64 * 1024),
        /** Milliseconds a partly filled chunk may wait before it is written. */
        chunkMillis: z.number().int().min(1).default(200),
        /** SSH: also record what clients send on their channels (keystrokes, uploads); off because typed passwords live there. */
        sshInput: z.boolean().default(false),
      })
      .strict()
      .default({ mode: 'strict', fsync: false, chunkBytes: 64 * 1024, chunkMillis: 200, sshInput: false }),
  })
  .strict();
export type TrailgateConfig = z.infer<typeof TrailgateConfig>;
