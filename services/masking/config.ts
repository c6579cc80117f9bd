// `targets.<name>.masking`: which result columns a target's sessions never see raw, and how they are masked.
import * as z from 'zod';
import { TrailScanConfig } from './detectors/trail-config.js';

/** Detector names (services/masking/detectors): listed here so config validation does not load the detectors. */
export const DETECTOR_NAMES = ['email', 'card', 'iban', 'jwt', 'cloud-token', 'vcs-token', 'private-key'] as const;

/** Identifier parts as PostgreSQL stores them; no quotes or backslashes, so they can go into the catalogue query. */
const ident = /^[^"'\\.\s]+$/;

/** `schema.table.column`; `*` and `?` allowed in the column part. */
const ColumnMatch = z
  .string()
  .refine((s) => {
    const parts = s.split('.');
    return parts.length === 3 && parts.every((p) => ident.test(p)) && !/[*?]/.test(parts[0]! + parts[1]!);
  }, { message: 'write schema.table.column (a glob with * or ? only in the column part), e.g. public.users.email' });

export const MaskingRule = z
  .object({
    /** A table's, partitioned table's or view's column; a rule on a table covers its partitions and the views over it. */
    match: ColumnMatch,
    /** redact: `[masked]`; partial: keep the last `keepLast` characters; null; fixed: `value`; hmac: keyed digest (joinable). */
    strategy: z.enum(['redact', 'partial', 'null', 'fixed', 'hmac']),
    keepLast: z.number().int().min(0).max(64).default(4),
    value: z.string().optional(),
  })
  .strict()
  .refine((r) => r.strategy !== 'fixed' || r.value !== undefined, { message: 'strategy fixed needs `value`' });
export type MaskingRule = z.infer<typeof MaskingRule>;

export const MaskingConfig = z
  .object({
    rules: z.array(MaskingRule).default([]),
    /**
     * Result columns PostgreSQL cannot trace to a table (expressions, UNION, JSON): `scan` masks what the detectors
     * find, `deny` refuses such a result when the statement names a masked relation, `pass` leaves them.
     */
    unattributed: z.enum(['scan', 'deny', 'pass']).default('scan'),
    /** Detectors `scan` uses. */
    detectors: z.array(z.enum(DETECTOR_NAMES)).default([...DETECTOR_NAMES]),
    /** HMAC key for `strategy: hmac`; default: generated at first start into <dataDir>/keys/masking-<target>.key. */
    keyFile: z.string().min(1).optional(),
    /** Claim rules (by name) whose sessions see raw data; every such session records it. */
    exemptRules: z.array(z.string().min(1)).default([]),
    /** Statement text, parameters and client bytes through the detectors before they are recorded (detectors/trail-config.ts). */
    trail: TrailScanConfig.optional(),
  })
  .strict();
export type MaskingConfig = z.infer<typeof MaskingConfig>;
