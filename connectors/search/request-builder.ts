import type { AuditRecord } from '../../events/index.js';
import type { SearchDocument } from './encoder.js';

/** A document on its way: its lines only, so the document's object tree is garbage as soon as it is written out. */
export interface PendingDocument {
  record: AuditRecord;
  id: string;
  /** The two NDJSON lines of this document's `create`, with their newlines. */
  lines: string;
}

export interface BulkRequest {
  documents: PendingDocument[];
  /** The request body; joined when read (the sink joins what is still outstanding on each attempt). */
  readonly ndjson: string;
}

/** `create` only: data streams take nothing else, and a second create of the same id is a 409. */
export function pendingDocument(record: AuditRecord, index: string, id: string, document: SearchDocument): PendingDocument {
  // The action line written out: the same bytes as JSON.stringify of { create: { _index, _id } }, one object fewer per document.
  return { record, id, lines: `{"create":{"_index":${JSON.stringify(index)},"_id":${JSON.stringify(id)}}}\n${JSON.stringify(document)}\n` };
}

/** Splits documents into bulk requests of at most maxDocs documents and (unless one alone is larger) maxBytes bytes. */
export function buildBulkRequests(documents: PendingDocument[], limits: { maxDocs: number; maxBytes: number }): BulkRequest[] {
  const requests: BulkRequest[] = [];
  let current: PendingDocument[] = [];
  let bytes = 0;
  const flush = () => {
    if (!current.length) return;
    const batch = current;
    requests.push({
      documents: batch,
      get ndjson() {
        return batch.map((d) => d.lines).join('');
      },
    });
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
