// `targets.<name>.masking.trail`: statement text and parameters go through these detectors before they are recorded.
import * as z from 'zod';
import { ALL_DETECTORS, HIGH_PRECISION_DETECTORS, type DetectorName } from './names.js';

export const TRAIL_SCAN_DEFAULT: { scan: boolean; detectors: DetectorName[] } = { scan: true, detectors: [...HIGH_PRECISION_DETECTORS] };

export const TrailScanConfig = z
  .object({
    /** Scan what the trail records of the client's side (statements, parameters, COPY data, typed input). */
    scan: z.boolean().default(true),
    /** Default: the high-precision detectors (email is opt-in: addresses in statements are often the point of them). */
    detectors: z.array(z.enum(ALL_DETECTORS as [DetectorName, ...DetectorName[]])).default([...HIGH_PRECISION_DETECTORS]),
  })
  .strict()
  .default(TRAIL_SCAN_DEFAULT);
export type TrailScanConfig = z.infer<typeof TrailScanConfig>;
