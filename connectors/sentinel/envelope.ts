/**
 * Rows of TrailgateAudit_CL back into the forwarded envelope, one JSON object per line, for
 * `trailgate verify --records` (the same envelope the Splunk sink forwards): the record fields as the gateway chained them, byte chunks by length
 * and digest. Export the rows with KQL (dashboards/sentinel/README.md) and map them with this.
 */
export interface ForwardedEnvelope {
  v: number;
  id: string;
  sessionId: string;
  seq: number;
  ts: string;
  instance: string;
  target: { name: string; kind: string } | null;
  identity: unknown;
  client: { address: string; port: number } | null;
  prev: string;
  hash: string;
  stream: 'events' | 'bytes';
  type: string;
  data?: unknown;
  /** When the data was cut to the column limit (`<field>_truncated`, as every SIEM export marks it): `data` is partial, data_sha256 the hex SHA-256 of its canonical JSON. */
  data_truncated?: true;
  data_sha256?: string;
  direction?: string;
  channel?: number;
  stderr?: true;
  offset?: number;
  length?: number;
  sha256?: string;
}

export function rowToEnvelope(row: Record<string, unknown>): ForwardedEnvelope {
  const s = (k: string) => (row[k] === undefined || row[k] === null ? undefined : String(row[k]));
  const n = (k: string) => (row[k] === undefined || row[k] === null ? undefined : Number(row[k]));
  const base: ForwardedEnvelope = {
    v: n('SchemaVersion')!,
    id: s('RecordId')!,
    sessionId: s('SessionId')!,
    seq: n('Seq')!,
    ts: s('RecordTs')!,
    instance: s('Instance')!,
    target: s('TargetName') ? { name: s('TargetName')!, kind: s('TargetKind')! } : null,
    identity: row.Identity ?? null,
    client: s('ClientAddress') ? { address: s('ClientAddress')!, port: n('ClientPort')! } : null,
    prev: s('Prev') ?? '',
    hash: s('Hash')!,
    stream: s('RecordStream') === 'bytes' ? 'bytes' : 'events',
    type: s('RecordType')!,
  };
  if (base.stream === 'bytes') {
    return { ...base, direction: s('BytesDirection')!, ...(row.BytesChannel !== undefined ? { channel: n('BytesChannel')! } : {}), ...(row.BytesStderr ? { stderr: true as const } : {}), offset: n('BytesOffset')!, length: n('BytesLength')!, sha256: s('BytesSha256')! };
  }
  return { ...base, data: row.Data, ...(row.DataTruncated ? { data_truncated: true as const, data_sha256: s('DataSha256')! } : {}) };
}

export function envelopesNdjson(rows: Record<string, unknown>[]): string {
  return rows.map((r) => JSON.stringify(rowToEnvelope(r))).join('\n') + (rows.length ? '\n' : '');
}
