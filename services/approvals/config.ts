import { z } from 'zod';

/** Statement classes a rule can hold (the policy's classes; `all` matches any statement). */
const STATEMENT_CLASSES = ['read', 'write', 'ddl', 'admin', 'function', 'code', 'transaction', 'session', 'all'] as const;

export const ApprovalRule = z
  .object({
    name: z.string().min(1),
    /** Target names (globs) the rule applies to. */
    targets: z.array(z.string().min(1)).min(1),
    /** Postgres: a statement that needs any of these classes is held. */
    classes: z.array(z.enum(STATEMENT_CLASSES)).default([]),
    /** SSH: an exec command line matching any of these globs is held. */
    commands: z.array(z.string().min(1)).default([]),
    /** Distinct people who must approve. */
    quorum: z.number().int().min(1).max(20).default(1),
    /** Who may decide: replay-UI roles, or user names. */
    approvers: z
      .object({ roles: z.array(z.enum(['approver', 'admin'])).default(['approver', 'admin']), users: z.array(z.string().min(1)).default([]) })
      .strict()
      .default({ roles: ['approver', 'admin'], users: [] }),
    /** Seconds a held statement waits before it is answered as expired (57014). */
    timeoutSeconds: z.number().positive().max(72 * 3600).default(900),
    /** Inside an open transaction locks stay held while people decide: refuse at once unless `hold`. */
    inTransaction: z.enum(['refuse', 'hold']).default('refuse'),
    /** Seconds between the NOTICEs that tell the client it is still waiting (load balancers drop idle flows). */
    heartbeatSeconds: z.number().positive().max(300).default(15),
    /** Whether the run's own actor may approve it; every decision then says so. */
    allowSelfApproval: z.boolean().default(false),
  })
  .strict()
  .refine((r) => r.classes.length > 0 || r.commands.length > 0, { message: 'give the rule classes (Postgres) or commands (SSH) to hold' });
export type ApprovalRule = z.infer<typeof ApprovalRule>;

export const ApprovalsConfig = z
  .object({
    rules: z.array(ApprovalRule).default([]),
    /** Base URL of the replay UI that reviewers open; the NOTICE links to <link>/approvals/<id>. */
    link: z.string().url().optional(),
    /** Which CI actors (e.g. GitHub logins) each replay-UI user is: a run's actor may not approve the run. */
    people: z.record(z.string().min(1), z.array(z.string().min(1))).default({}),
    /**
     * The job-side API (`trailgate approvals request|wait`): HTTPS on the gateway's certificate, the CI token as
     * the bearer token, verified as for a session. Off unless set.
     */
    listen: z.object({ host: z.string().min(1).default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(6490) }).strict().optional(),
    /** Longest window a job may ask for (`approvals request --window`). */
    maxWindowSeconds: z.number().int().positive().max(72 * 3600).default(8 * 3600),
    /** Milliseconds between reads of decisions from the embedded log while something is held. */
    pollMillis: z.number().int().min(10).max(10_000).default(200),
    /** Notifications of each request and decision. */
    webhook: z
      .object({
        url: z.string().url(),
        /** HMAC-SHA256 key; the signature is in X-Trailgate-Signature: sha256=<hex>. */
        secret: z.union([z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()]).optional(),
        /** `slack`: a Slack incoming-webhook message; `json`: the approval as JSON. */
        format: z.enum(['json', 'slack']).default('json'),
        retries: z.number().int().min(0).max(20).default(5),
        backoffMillis: z.number().int().min(1).max(60_000).default(1000),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ApprovalsConfig = z.infer<typeof ApprovalsConfig>;
