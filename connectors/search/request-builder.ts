import type { AuditRecord } from '../../events/index.js';
import type { SearchDocument } from './encoder.js';

export interface PendingDocument {
  record: AuditRecord;
  id: string;
  document: SearchDocument;
  /** The two NDJSON lines of this document's `create`, with their newlines. */
  lines: string;
}

export interface BulkRequest {
  documents: PendingDocument[];
  ndjson: string;
}

/** `create` only: data streams take nothing else, and a second create of the same id is a 409. */
export function pendingDocument(record: AuditRecord, index: string, id: string, document: SearchDocument): PendingDocument {
  return { record, id, document, lines: `${JSON.stringify({ create: { _index: index, _id: id } })}\n${JSON.stringify(document)}\n` };
}

/** Splits documents into bulk requests of at most maxDocs documents and (unless one alone is larger) maxBytes bytes. */
export function buildBulkRequests(documents: PendingDocument[], limits: { maxDocs: number; maxBytes: number }): BulkRequest[] {
  const requests: BulkRequest[] = [];
  let current: PendingDocument[] = [];
  let bytes = 0;
  const flush = () => {
    if (!current.length) return;
    requests.push({ documents: current, ndjson: current.map((d) => d.lines).join('') });
    current = [];
    bytes = 0;
  };
  for (const doc of documents) {
    const size = Buffer.byteLength(doc.lines);
    if (current.length && (current.length >= limits.maxDocs || bytes + size > limits.maxBytes)) flush();
    current.push(doc);
    bytes += size;
  }
  flush();
  return requests;
}
