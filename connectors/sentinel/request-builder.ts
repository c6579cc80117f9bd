import type { AuditRecord } from '../../events/index.js';
import type { Row } from './columns.js';

/** A row with the record it came from, so a row refused for good becomes that record's dead letter. */
export interface PendingRow {
  record: AuditRecord;
  row: Row;
}

/** Splits a batch into uploads of at most maxRows rows, in log order; the SDK splits each upload under 1 MB per request. */
export function buildUploads(rows: PendingRow[], maxRows: number): PendingRow[][] {
  const uploads: PendingRow[][] = [];
  for (let i = 0; i < rows.length; i += maxRows) uploads.push(rows.slice(i, i + maxRows));
  return uploads;
}

/** Halves of a refused set of rows, to find the one the service refuses. */
export function halves<T>(rows: T[]): [T[], T[]] {
  const mid = Math.ceil(rows.length / 2);
  return [rows.slice(0, mid), rows.slice(mid)];
}
