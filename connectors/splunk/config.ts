import * as z from 'zod';

/** A secret: inline, `{ env: NAME }` or `{ file: PATH }` (the same shape as services/config SecretRef, kept here so config imports point one way). */
const HecSecret = z.union([z.string().min(1), z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()]);

/** The `splunk:` section of trailgate.yaml: the forwarder's Splunk HTTP Event Collector sink. */
export const SplunkConfig = z
  .object({
    /** The HEC base URL, e.g. https://splunk.internal:8088 (the sink posts to /services/collector/event). */
    url: z.string().url(),
    /** The HEC token, sent as `Authorization: Splunk <token>`; never logged. */
    token: HecSecret,
    /** PEM bundle to trust for an https URL (Splunk's own CA, for example). */
    caFile: z.string().min(1).optional(),
    /** Index to write to; it must be on the token's allowed list. Absent: the token's default index. */
    index: z.string().min(1).optional(),
    source: z.string().min(1).default('trailgate'),
    sourcetype: z.string().min(1).default('trailgate:audit'),
    /**
     * Indexer acknowledgement. required: a batch counts as delivered only when Splunk says it is indexed
     * (the token needs useACK). auto: use it when the token answers with ackIds. off: HTTP 200 counts,
     * which only means Splunk accepted the data, not that it was indexed (Splunk Cloud has no HEC ack).
     */
    ack: z.enum(['required', 'auto', 'off']).default('required'),
    gzip: z.boolean().default(false),
    /** Largest request body before compression; Splunk Cloud refuses more than 1 MB. */
    maxBatchBytes: z.number().int().min(1024).default(900_000),
    /** Longest string value in an event, in UTF-8 bytes; longer ones are cut and carry `<field>_truncated` and `<field>_sha256`. */
    maxFieldBytes: z.number().int().min(256).default(64 * 1024),
    /** Largest event after cutting fields; a bigger one is dead-lettered (Splunk's maxEventSize is 5 MB). */
    maxEventBytes: z.number().int().min(1024).default(1_000_000),
    /** Longest wait between two acknowledgement queries (they start fast and slow down to this). */
    ackPollMs: z.number().int().min(10).default(10_000),
    /** A batch whose ack has not come after this long is sent again (Splunk holds partial batches about 2 minutes). */
    ackTimeoutMs: z.number().int().min(100).default(300_000),
    /** Backoff of retried requests (503 busy, 429, 5xx, connection errors), doubling with jitter; Retry-After wins. */
    initialBackoffMs: z.number().int().min(1).default(200),
    maxBackoffMs: z.number().int().min(1).default(30_000),
    requestTimeoutMs: z.number().int().min(100).default(30_000),
    /** After a configuration error (bad or disabled token, wrong index) the sink stops; it tries again this often. */
    stoppedRecheckMs: z.number().int().min(100).default(60_000),
    /** events: the audit events; bytes: each raw byte chunk by its SHA-256 and length (never its payload), so the chain is checkable from Splunk. */
    streams: z.array(z.enum(['events', 'bytes'])).min(1).default(['events', 'bytes']),
  })
  .strict();
export type SplunkConfig = z.infer<typeof SplunkConfig>;

/** What the sink runs with: the section, the token resolved, and where its channel is kept. */
export type SplunkSinkOptions = Omit<SplunkConfig, 'token' | 'caFile'> & { token: string; ca?: string; stateDir: string };

/** Consumer name and sink name; positions are committed under it. */
export const SPLUNK_SINK_NAME = 'splunk';
