import { buildTranscript, transcriptText } from '../replay/transcript.js';
import { cliConfig } from './cli-config.js';
import { openLogForReading } from './open-log.js';

/** Writes a Postgres session's statements as a readable transcript or as JSON. */
export function runTranscript(configFile: string | undefined, session: string, o: { format: string }): void {
  if (o.format !== 'text' && o.format !== 'json') throw Object.assign(new Error('--format is text or json'), { code: 'TG_USAGE' });
  const log = openLogForReading(cliConfig(configFile));
  try {
    const id = log.resolveSessionId(session);
    if (!id) throw Object.assign(new Error(`no single session matches '${session}'; list them with \`trailgate sessions\``), { code: 'TG_SESSION_NOT_FOUND' });
    const transcript = buildTranscript(id, log.readSession(id, 'events'));
    process.stdout.write(o.format === 'json' ? `${JSON.stringify(transcript, null, 2)}\n` : transcriptText(transcript));
  } finally {
    log.close();
  }
}
