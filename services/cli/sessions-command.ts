import { cliConfig } from './cli-config.js';
import { printTable } from './table.js';
import { openLogForReading } from './open-log.js';

export function runSessions(configFile: string | undefined, o: { json?: boolean; limit: string }): void {
  const log = openLogForReading(cliConfig(configFile));
  try {
    const sessions = log.listSessions(Number(o.limit) || 50);
    if (o.json) {
      for (const s of sessions) process.stdout.write(`${JSON.stringify(s)}\n`);
      return;
    }
    printTable(
      ['SESSION', 'STARTED', 'TARGET', 'REPOSITORY', 'RUN', 'CLIENT', 'COMMANDS', 'STATE'],
      sessions.map((s) => [
        s.sessionId,
        s.startedAt,
        s.context.target?.name ?? '-',
        s.context.identity?.ci.repository ?? '-',
        s.context.identity?.ci.runId ? `${s.context.identity.ci.runId}/${s.context.identity.ci.runAttempt ?? '1'}` : '-',
        s.context.client.address,
        String(s.commands),
        `${s.endedAt ? (s.endReason ?? 'ended') : 'open'}${s.sealed ? ', signed' : ''}`,
      ]),
    );
  } finally {
    log.close();
  }
}
