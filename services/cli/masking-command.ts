// `trailgate masking explain --target T "SQL"`: how the gateway would mask each output column of a statement.
// The statement is only described on the target (Parse + Describe, never executed), with the gateway's credential.
import { serialize } from 'pg-protocol';
import { bypassOf } from '../masking/bypass-check.js';
import { ColumnOrigins } from '../masking/column-origins.js';
import { originQuery } from '../masking/origin-query.js';
import { connectTarget, type BackendLink } from '../gateway/postgres/backend-connection.js';
import { decodeErrorFields } from '../gateway/postgres/backend-messages.js';
import { privateQueryText, PrivateReply } from '../gateway/postgres/private-query.js';
import { Be } from '../gateway/postgres/protocol.js';
import { postgresEndpoint } from '../gateway/targets.js';
import { cliConfig } from './cli-config.js';
import { printTable } from './table.js';

export interface MaskingExplainOptions {
  target: string;
  json?: boolean;
}

interface Field {
  name: string;
  tableOid: number;
  attnum: number;
}

export async function runMaskingExplain(configFile: string | undefined, sql: string, o: MaskingExplainOptions): Promise<void> {
  const config = cliConfig(configFile);
  const t = config.targets[o.target];
  if (!t || t.kind !== 'postgres') throw usage(`no Postgres target named '${o.target}' in the configuration`);
  if (!t.masking) throw usage(`target '${o.target}' has no masking section: every column passes unmasked`);
  const endpoint = postgresEndpoint(o.target, t, null);
  const masking = endpoint.masking!;
  const link = await connectTarget(endpoint, { application_name: 'trailgate masking explain' }, 10_000);
  link.socket.resume();
  try {
    const origins = new ColumnOrigins(masking, (await query(link, originQuery(masking.relations))).rows);
    const fields = await describe(link, sql);
    const oids = [...new Set(fields.filter((f) => f.tableOid).map((f) => `(${f.tableOid}, ${f.attnum})`))];
    const names = new Map<string, string>();
    if (oids.length) {
      const r = await query(link, `select a.attrelid::text, a.attnum::text, n.nspname || '.' || c.relname || '.' || a.attname
        from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where (a.attrelid, a.attnum) in (values ${oids.map((v) => v.replace(/\((\d+), (-?\d+)\)/, '($1::pg_catalog.oid, $2::pg_catalog.int2)')).join(', ')})`);
      for (const [oid, att, name] of r.rows) names.set(`${oid}:${att}`, name ?? '');
    }
    const { bypass } = bypassOf(sql, origins);
    const rows = fields.map((f) => {
      const origin = f.tableOid ? (names.get(`${f.tableOid}:${f.attnum}`) ?? `relation ${f.tableOid} column ${f.attnum}`) : '(none: expression, UNION or function)';
      const mask = origins.maskOf(f.tableOid, f.attnum);
      const applies = mask?.rule
        ? `${mask.rule.strategy} (rule ${mask.rule.match}${mask.label !== origin ? `; source ${mask.label}` : ''})`
        : mask || !f.tableOid
          ? `unattributed: ${masking.unattributed}${mask ? ' (a view expression over masked columns)' : ''}`
          : 'none';
      return { column: f.name, origin, masking: applies };
    });
    if (o.json) {
      console.log(JSON.stringify({ target: o.target, columns: rows, ...(bypass ? { refused: bypass.message } : {}) }));
      return;
    }
    if (bypass) console.log(`refused by the gateway: ${bypass.message}\n  hint: ${bypass.hint}\n`);
    printTable(['COLUMN', 'ORIGIN', 'MASKING'], rows.map((r) => [r.column, r.origin, r.masking]));
  } finally {
    link.socket.destroy();
  }
}

function usage(message: string): Error {
  return Object.assign(new Error(message), { code: 'TG_USAGE' });
}

/** Runs one catalogue query on the link and reads its rows. */
function query(link: BackendLink, sql: string): Promise<{ rows: (string | null)[][] }> {
  return new Promise((resolve, reject) => {
    const reply = new PrivateReply(
      (result) => {
        link.socket.off('data', onData);
        if (result.error) reject(new Error(`TG_MASKING_CATALOGUE: the target's catalogue could not be read: ${result.error}`));
        else resolve({ rows: result.rows });
      },
      () => undefined,
    );
    const onData = (chunk: Buffer) => reply.push(chunk);
    link.socket.on('data', onData);
    link.socket.write(serialize.query(privateQueryText(sql, 'I')));
  });
}

/** Parse + Describe of the statement: its RowDescription, without running it. */
function describe(link: BackendLink, sql: string): Promise<Field[]> {
  return new Promise((resolve, reject) => {
    let pending = Buffer.alloc(0);
    let fields: Field[] = [];
    let error: string | undefined;
    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 1 + pending.readInt32BE(1)) {
        const type = pending[0]!;
        const body = pending.subarray(5, 1 + pending.readInt32BE(1));
        pending = pending.subarray(1 + pending.readInt32BE(1));
        if (type === Be.RowDescription) fields = rowDescription(body);
        else if (type === Be.ErrorResponse) error ??= decodeErrorFields(body).message;
        else if (type === Be.ReadyForQuery) {
          link.socket.off('data', onData);
          if (error) reject(new Error(`the target cannot describe this statement: ${error}`));
          else resolve(fields);
          return;
        }
      }
    };
    link.socket.on('data', onData);
    link.socket.write(Buffer.concat([serialize.parse({ name: '', text: sql, types: [] }), serialize.describe({ type: 'S', name: '' }), serialize.sync()]));
  });
}

function rowDescription(body: Buffer): Field[] {
  const n = body.readInt16BE(0);
  const out: Field[] = [];
  let offset = 2;
  for (let i = 0; i < n; i++) {
    const end = body.indexOf(0, offset);
    const name = body.toString('utf8', offset, end);
    out.push({ name, tableOid: body.readUInt32BE(end + 1), attnum: body.readInt16BE(end + 5) });
    offset = end + 19;
  }
  return out;
}
