import type { AuditRecord } from '../../events/index.js';
import { cliConfig } from './cli-config.js';
import { openLogForReading } from './open-log.js';
import { printTable } from './table.js';

export function runEvents(configFile: string | undefined, session: string, o: { json?: boolean; bytes?: boolean }): void {
  const log = openLogForReading(cliConfig(configFile));
  try {
    const id = log.resolveSessionId(session);
    if (!id) throw Object.assign(new Error(`no single session matches '${session}'; list them with \`trailgate sessions\``), { code: 'TG_SESSION_NOT_FOUND' });
    const records = log.readSession(id, o.bytes ? undefined : 'events');
    if (o.json) {
      for (const r of records) process.stdout.write(`${JSON.stringify(r.stream === 'bytes' ? { ...r, data: r.data.toString('base64') } : r)}\n`);
      return;
    }
    printTable(['SEQ', 'TIME', 'TYPE', 'DETAIL'], records.map((r) => [String(r.seq), r.ts, r.type, summary(r)]));
  } finally {
    log.close();
  }
}

/** One line per record for people; the JSON form is the complete one. */
function summary(r: AuditRecord): string {
  if (r.stream === 'bytes') return `${r.direction}${r.channel === undefined ? '' : ` channel ${r.channel}`}${r.stderr ? ' stderr' : ''} ${r.data.length} bytes at ${r.offset}`;
  const d = r.data as unknown as Record<string, unknown>;
  switch (r.type) {
    case 'command.started':
      return `${d.protocol} ${String(d.text)}${Array.isArray(d.parameters) ? ` params=${JSON.stringify(d.parameters)}` : ''}`;
    case 'command.completed': {
      const exit = d.exitSignal ? ` signal ${(d.exitSignal as { name: string }).name}` : d.exitStatus !== undefined ? ` exit ${String(d.exitStatus)}` : ` rows=${String(d.rows)}`;
      return `#${d.commandSeq} ${d.outcome}${exit} ${d.durationMs}ms${d.sqlstate ? ` ${d.sqlstate} ${String(d.error)}` : ''}`;
    }
    case 'file.operation':
      return `${d.protocol} ${d.op} ${d.path === undefined ? '' : String(d.path)}${d.toPath ? ` -> ${String(d.toPath)}` : ''}${d.bytes !== undefined ? ` ${String(d.bytes)} bytes` : ''} ${d.outcome}${d.status ? ` ${String(d.status)}` : ''}`;
    case 'auth.decided':
      return `${d.outcome}${d.code ? ` ${d.code}` : ''}${r.identity ? ` ${r.identity.ci.repository ?? r.identity.subject}` : ''}`;
    default:
      return JSON.stringify(d);
  }
}
