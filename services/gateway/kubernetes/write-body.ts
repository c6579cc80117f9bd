import type { KubeRequestData } from '../../../events/index.js';
import type { DetectorHits } from '../../masking/detectors/trail-redactor.js';
import { DEFAULT_TRAIL } from '../../masking/detectors/trail-redactor.js';
import type { RequestInfo } from './request-info.js';

const WRITE_VERBS = new Set(['create', 'update', 'patch']);
/** Bytes scanned past the recorded part, so that a token across the cut is still found whole. */
const SCAN_MARGIN = 4096;

/** Bytes of the request body to keep for the record: none for reads, deletes and Secrets (their data is never recorded). */
export function bodyCapture(info: RequestInfo, limit: number): number {
  if (limit <= 0 || !WRITE_VERBS.has(info.verb) || info.resource === 'secrets') return 0;
  return limit + SCAN_MARGIN;
}

/** JSON, YAML and the patch types kubectl sends are text; protobuf and anything else is not recorded. */
function isText(contentType: string | undefined): boolean {
  return /^application\/(json|yaml|apply-patch\+yaml|merge-patch\+json|strategic-merge-patch\+json|json-patch\+json)\b/i.test(contentType ?? '');
}

/**
 * What a write's kube.request says of its body: the text through the trail's detectors (`[masked:<detector>]`),
 * cut at `limit` bytes; for a Secret or a binary body, only that it was left out.
 */
export function recordedBody(info: RequestInfo, contentType: string | undefined, captured: Buffer | undefined, bodyBytes: number, limit: number): Pick<KubeRequestData, 'body' | 'bodyTruncated' | 'bodyOmitted' | 'detectorHits'> {
  if (limit <= 0 || !WRITE_VERBS.has(info.verb) || bodyBytes === 0) return {};
  if (info.resource === 'secrets') return { bodyOmitted: 'secret' };
  if (!isText(contentType) || !captured) return { bodyOmitted: 'binary' };
  const hits: DetectorHits = {};
  let text = DEFAULT_TRAIL.text(captured.toString('utf8'), hits);
  const truncated = bodyBytes > limit;
  if (Buffer.byteLength(text) > limit) text = Buffer.from(text).subarray(0, limit).toString('utf8');
  return { body: text, ...(truncated ? { bodyTruncated: true as const } : {}), ...(Object.keys(hits).length ? { detectorHits: hits as Record<string, number> } : {}) };
}
