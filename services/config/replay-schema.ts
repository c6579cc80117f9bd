import * as z from 'zod';

/** As SecretRef in schema.ts (which imports this file, so it cannot be imported back). */
const SecretRef = z.union([z.string().min(1), z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()]);

/** Roles of the replay UI: viewers watch, approvers also decide held commands, admins do everything. */
export const REPLAY_ROLES = ['viewer', 'approver', 'admin'] as const;
export type ReplayRole = (typeof REPLAY_ROLES)[number];

export const ReplayUser = z
  .object({
    /** Shown in the UI and in the server's log (the token never is). */
    name: z.string().min(1),
    roles: z.array(z.enum(REPLAY_ROLES)).default([]),
    /** SHA-256 of the token, hex: `printf %s "$TOKEN" | sha256sum`. */
    tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lower-case hex (64 characters)').optional(),
    /** The token itself from the environment or a file (an inline value is refused: use tokenSha256). */
    token: z
      .union([z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()], {
        error: 'give the token as { env: NAME } or { file: PATH }, or its digest as tokenSha256; an inline token is refused',
      })
      .optional(),
    /** Repositories (globs) whose sessions this user may see; default: all. */
    repositories: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict()
  .refine((u) => (u.tokenSha256 === undefined) !== (u.token === undefined), { message: 'set exactly one of tokenSha256 or token' });
export type ReplayUser = z.infer<typeof ReplayUser>;

export const ReplayOidc = z
  .object({
    /** The identity provider people sign in with (its discovery document is read at start). */
    issuer: z.string().url(),
    clientId: z.string().min(1),
    /** Omit for a public client (PKCE alone). */
    clientSecret: SecretRef.optional(),
    scopes: z.array(z.string().min(1)).default(['openid', 'profile', 'email']),
    /** Claim that carries the person's groups. */
    rolesClaim: z.string().min(1).default('groups'),
    /** Which claim values give which role, e.g. admin: [trailgate-admins]. */
    roles: z.partialRecord(z.enum(REPLAY_ROLES), z.array(z.string().min(1))).default({}),
    /** Claim shown as the person's name. */
    nameClaim: z.string().min(1).default('email'),
  })
  .strict();
export type ReplayOidc = z.infer<typeof ReplayOidc>;

export const ReplayConfig = z
  .object({
    listen: z.object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(6480) }).strict().default({ host: '127.0.0.1', port: 6480 }),
    /** The address people reach the UI at (the OIDC redirect is built from it); default: the listen address. */
    publicUrl: z.string().url().optional(),
    /** Minutes a sign-in lasts. */
    sessionMinutes: z.number().int().min(1).max(7 * 24 * 60).default(480),
    users: z.array(ReplayUser).default([]),
    oidc: ReplayOidc.optional(),
    /** On Kafka: the replay store, a full copy of the log that `trailgate replay` keeps; default <dataDir>/replay-store.db. */
    store: z.string().min(1).optional(),
    /** On Kafka: the consumer (group) of this store; every store needs its own to hold a full copy. */
    consumer: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ -').default('replay'),
  })
  .strict();
export type ReplayConfig = z.infer<typeof ReplayConfig>;
