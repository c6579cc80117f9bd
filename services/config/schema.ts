import { z } from 'zod';
import { SentinelConfig } from '../../connectors/sentinel/config.js';
import { SplunkConfig } from '../../connectors/splunk/config.js';
import { ApprovalsConfig } from '../approvals/config.js';
import { dangerousEnvMatch } from '../gateway/ssh/dangerous-env.js';
import { MaskingConfig } from '../masking/config.js';
import { KUBE_ONLY_RIGHTS, KubeRuleFields, KubernetesListenerConfig, KubernetesTargetConfig } from '../gateway/kubernetes/kube-config.js';
import { ReplayConfig } from './replay-schema.js';
import { ShutdownConfig } from './shutdown-schema.js';

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
    /**
     * Once a token (its jti, else its digest) has opened a session: `same-client` lets later sessions come
     * only from the same client address, `single-session` refuses every later session, `any` allows them.
     * Every reuse is recorded either way. Default: same-client.
     */
    tokenReuse: z.enum(['any', 'same-client', 'single-session']).optional(),
  })
  .strict()
  .refine((i) => !(i.jwksUri && i.jwksFile), { message: 'set jwksUri or jwksFile, not both' });
export type IssuerConfig = z.infer<typeof IssuerConfig>;

/** Rights a rule can grant on Postgres targets; `all` grants every class. */
export const POSTGRES_RIGHTS = ['read', 'write', 'ddl', 'admin', 'function', 'code', 'transaction', 'session', 'all'] as const;
export type PostgresRight = (typeof POSTGRES_RIGHTS)[number];

/**
 * A database role for sessions whose rights are all among `rights`: the backend runs as it (the target's
 * `user` must be a member). Least privilege where the data lives: a SELECT-only role for read-only rules.
 */
export const PostgresTargetRole = z.object({ rights: z.array(z.enum(POSTGRES_RIGHTS)).min(1), role: z.string().min(1) }).strict();
export type PostgresTargetRole = z.infer<typeof PostgresTargetRole>;

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
    /** Database roles per set of rights; the first entry that covers all of a session's rights applies. */
    roles: z.array(PostgresTargetRole).default([]),
    /** Result masking (services/masking/config.ts). */
    masking: MaskingConfig.optional(),
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

/** A target is a Postgres database (`kind` may be left out), an SSH host (`kind: ssh`) or a Kubernetes cluster (`kind: kubernetes`). */
export const TargetConfig = z.preprocess(
  (value) => (typeof value === 'object' && value !== null && !Array.isArray(value) && !('kind' in value) ? { ...value, kind: 'postgres' } : value),
  z.discriminatedUnion('kind', [PostgresTargetConfig, SshTargetConfig, KubernetesTargetConfig]),
);
export type TargetConfig = PostgresTargetConfig | SshTargetConfig | KubernetesTargetConfig;

/**
 * Rights a rule can grant on SSH targets: an interactive shell, exec (limited by the rule's `commands`),
 * file transfer (SFTP and scp) reading or writing, port forwarding each way, agent forwarding.
 */
export const SSH_RIGHTS = ['shell', 'exec', 'sftp-read', 'sftp-write', 'forward-local', 'forward-remote', 'agent'] as const;
export type SshRight = (typeof SSH_RIGHTS)[number];

/** Every right, Postgres classes first and `all` last; a rule may name rights of both kinds. */
export const RIGHTS = [...POSTGRES_RIGHTS.filter((r) => r !== 'all'), ...SSH_RIGHTS, ...KUBE_ONLY_RIGHTS, 'all'] as const;
export type Right = PostgresRight | SshRight | (typeof KUBE_ONLY_RIGHTS)[number];

/** A glob (`*` any run of characters except `/`, `**` any run, `?` one character) or a list of them. */
const Glob = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** An `env` entry: a variable name or a glob, refused at load when it could reach a loader or a shell's start-up. */
const EnvName = z
  .string()
  .regex(/^[A-Za-z_*?][A-Za-z0-9_*?]*$/, 'a variable name or a glob of one (letters, digits, _, * and ?)')
  .superRefine((name, ctx) => {
    const hit = dangerousEnvMatch(name);
    if (hit) ctx.addIssue({ code: 'custom', message: `${name} can make an allowed command run other code (${hit}); it is never relayed, remove it from env` });
  });

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
    /**
     * SSH: client environment variables relayed on rules without `shell` or `all` (names or globs such as
     * `LC_*`); default LANG, LC_* and TERM. Loader and shell start-up variables are never relayed.
     */
    env: z.array(EnvName).optional(),
    /** SSH: variables whose values are not recorded (the name and outcome still are). */
    maskEnv: z.array(z.string().min(1)).optional(),
    ...KubeRuleFields,
  })
  .strict()
  .refine((r) => r.repository !== undefined || r.repositoryOwner !== undefined || r.subject !== undefined, {
    message: 'every rule names an anchor: repository, repositoryOwner or subject',
  });
export type ClaimRule = z.infer<typeof ClaimRule>;

/** The search cluster the indexer writes to and `trailgate search` reads from. */
export const SearchConfig = z
  .object({
    product: z.enum(['opensearch', 'elasticsearch']),
    /** One URL or several nodes of the same cluster. */
    url: z.union([z.string().url(), z.array(z.string().url()).min(1)]),
    username: z.string().min(1).optional(),
    password: SecretRef.optional(),
    /** Elasticsearch API key (encoded form); sent as `Authorization: ApiKey ...`. */
    apiKey: SecretRef.optional(),
    /** CA bundle to trust for https URLs. */
    caFile: z.string().min(1).optional(),
    /** Data stream namespace: documents go to logs-trailgate.audit-<namespace>. */
    namespace: z.string().regex(/^[a-z0-9_.]{1,100}$/, 'lowercase letters, digits, _ or . (no -), at most 100').default('default'),
    /** Replicas per backing index; unset keeps the cluster default. */
    replicas: z.number().int().min(0).optional(),
    lifecycle: z
      .object({
        rolloverMaxAge: z.string().regex(/^\d+[smhd]$/).default('7d'),
        rolloverMaxPrimaryShardSize: z.string().regex(/^\d+(b|kb|mb|gb|tb)$/).default('50gb'),
        deleteAfter: z.string().regex(/^\d+[smhd]$/).default('400d'),
      })
      .strict()
      .default({ rolloverMaxAge: '7d', rolloverMaxPrimaryShardSize: '50gb', deleteAfter: '400d' }),
  })
  .strict()
  .refine((s) => !(s.apiKey && s.username), { message: 'set username/password or apiKey, not both' });
export type SearchConfig = z.infer<typeof SearchConfig>;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A disk watermark of the spool: crossed when free space falls below, or the spool grows above. */
const Watermark = z.object({ freeBytes: z.number().int().min(0), spoolBytes: z.number().int().min(1) }).strict();

export const KafkaLogConfig = z
  .object({
    /** Bootstrap servers, host:port. */
    brokers: z.array(z.string().min(1)).min(1),
    /** Topics are <prefix>.events, <prefix>.bytes, <prefix>.dead-letter, <prefix>.spool-positions and <prefix>.ledger. */
    topicPrefix: z.string().regex(/^[A-Za-z0-9._-]+$/, 'topic prefixes use letters, digits, . _ -').default('trailgate'),
    /** Partitions and replication of the topics the gateway creates when they are missing. */
    partitions: z.number().int().min(1).default(6),
    replicationFactor: z.number().int().min(1).default(3),
    clientId: z.string().min(1).default('trailgate'),
    /** TLS and SASL under librdkafka's names (security.protocol, sasl.*, ssl.*); see connectors/kafka/kafka-client.ts. */
    properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    /** The gateway's local spool: the durable write of recording, drained to Kafka in order. */
    spool: z
      .object({
        /** Default: <dataDir>/spool. */
        dir: z.string().min(1).optional(),
        /** fdatasync every batch before strict recording goes on. Default: recording.fsync (otherwise written per batch, as the embedded log, and synced every second). */
        fsync: z.boolean().optional(),
        segmentBytes: z.number().int().min(MiB).default(64 * MiB),
        /** Bytes of spooled batches sent to Kafka in one transaction. */
        batchBytes: z.number().int().min(64 * 1024).default(4 * MiB),
        /** low: new sessions are refused; critical: recorded sessions are ended. */
        low: Watermark.default({ freeBytes: 2 * GiB, spoolBytes: 4 * GiB }),
        critical: Watermark.default({ freeBytes: 512 * MiB, spoolBytes: 16 * GiB }),
      })
      .strict()
      .default({ segmentBytes: 64 * MiB, batchBytes: 4 * MiB, low: { freeBytes: 2 * GiB, spoolBytes: 4 * GiB }, critical: { freeBytes: 512 * MiB, spoolBytes: 16 * GiB } }),
  })
  .strict();
export type KafkaLogConfig = z.infer<typeof KafkaLogConfig>;

/** Sinks of the consumer roles; the forwarder's NDJSON file is the one built in. */
export const ConsumersConfig = z
  .object({
    /** Records handed to a sink in one batch, at most. */
    batchSize: z.number().int().min(1).max(100_000).default(1000),
    forwarder: z.object({ kind: z.literal('ndjson'), file: z.string().min(1), streams: z.array(z.enum(['events', 'bytes'])).min(1).default(['events']) }).strict().optional(),
  })
  .strict();
export type ConsumersConfig = z.infer<typeof ConsumersConfig>;

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
        /** Time allowed for one discovery or JWKS request: a slow issuer refuses the login, it never holds it. */
        jwksTimeoutMillis: z.number().int().min(100).max(60_000).default(5000),
        /** Least time between JWKS refetches caused by a token with an unknown kid. */
        jwksCooldownSeconds: z.number().int().min(0).max(3600).default(30),
      })
      .strict()
      .default({ issuers: [], clockSkewSeconds: 60, jwksCacheMaxAgeSeconds: 3600, jwksTimeoutMillis: 5000, jwksCooldownSeconds: 30 }),
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
    /** The Kubernetes front door; it runs when this section is present or a Kubernetes target is configured. */
    kubernetes: KubernetesListenerConfig.optional(),
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
        /** Bytes of records held in memory while the log refuses writes; past it sessions are ended and new ones refused. */
        maxHeldBytes: z.number().int().min(64 * 1024).default(64 * 1024 * 1024),
      })
      .strict()
      .default({ mode: 'strict', fsync: false, chunkBytes: 64 * 1024, chunkMillis: 200, sshInput: false, maxHeldBytes: 64 * 1024 * 1024 }),
    /** Where records go: the embedded SQLite log (default, `trailgate up`) or Kafka (`trailgate gateway` and the consumer roles). */
    log: z
      .object({ kind: z.enum(['embedded', 'kafka']).default('embedded'), kafka: KafkaLogConfig.optional() })
      .strict()
      .refine((l) => l.kind !== 'kafka' || l.kafka !== undefined, { message: 'log.kind is kafka: set log.kafka.brokers', path: ['kafka'] })
      .default({ kind: 'embedded' }),
    consumers: ConsumersConfig.default({ batchSize: 1000 }),
    /** Prometheus metrics of this process on GET /metrics; off unless set. */
    metrics: z.object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535) }).strict().optional(),
    /** SIGTERM: how long open sessions may finish and the spool may flush before the gateway exits. */
    shutdown: ShutdownConfig.default({ drainSeconds: 30, spoolFlushSeconds: 10 }),
    /** The replay web UI and API; `trailgate up` serves it when this section is present (or with --dev). */
    replay: ReplayConfig.optional(),
    /** Statements and SSH commands that wait for people to approve them; absent: nothing is held. */
    approvals: ApprovalsConfig.optional(),
    integrity: z
      .object({
        /** PKCS#8 PEM Ed25519 private key; without it a key is generated into <dataDir>/keys at first start. */
        signingKeyFile: z.string().min(1).optional(),
        /** Sign the session's chain head after this many records ... */
        checkpointEvery: z.number().int().min(1).default(1000),
        /** ... or this many seconds after an unsigned record, whichever comes first. */
        checkpointSeconds: z.number().min(0.01).default(10),
        /** How often the gateway signs its summary of the sessions it opened. */
        summarySeconds: z.number().min(0.01).default(60),
        /** JWKS that `trailgate verify` trusts; keep a copy apart from the data directory. */
        trustedJwksFile: z.string().min(1).optional(),
      })
      .strict()
      .default({ checkpointEvery: 1000, checkpointSeconds: 10, summarySeconds: 60 }),
    /** Elasticsearch or OpenSearch for the indexer and `trailgate search`; absent: no search cluster. */
    search: SearchConfig.optional(),
    /** Microsoft Sentinel through the Logs Ingestion API, for the forwarder; absent: not forwarded. */
    sentinel: SentinelConfig.optional(),
    /** Splunk HTTP Event Collector for the forwarder; absent: no Splunk sink. */
    splunk: SplunkConfig.optional(),
  })
  .strict();
export type TrailgateConfig = z.infer<typeof TrailgateConfig>;
