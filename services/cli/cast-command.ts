import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { buildCast, castLines, CastError } from '../replay/cast.js';
import { cliConfig } from './cli-config.js';
import { openLogForReading } from './open-log.js';

export interface CastCommandOptions {
  v3?: boolean;
  channel?: string;
  input?: boolean;
  output?: string;
}

/** Writes an SSH session's terminal as asciicast to stdout or a file. */
export async function runCast(configFile: string | undefined, session: string, o: CastCommandOptions): Promise<void> {
  const log = openLogForReading(cliConfig(configFile));
  let cast;
  try {
    const id = log.resolveSessionId(session);
    if (!id) throw Object.assign(new Error(`no single session matches '${session}'; list them with \`trailgate sessions\``), { code: 'TG_SESSION_NOT_FOUND' });
    const channel = o.channel === undefined ? undefined : Number(o.channel);
    if (channel !== undefined && !Number.isInteger(channel)) throw Object.assign(new Error('--channel takes a channel number'), { code: 'TG_USAGE' });
    cast = buildCast(id, log.readSession(id), { version: o.v3 ? 3 : 2, ...(channel === undefined ? {} : { channel }), input: o.input ?? false });
  } catch (err) {
    if (err instanceof CastError) throw Object.assign(new Error(err.message), { code: err.code });
    throw err;
  } finally {
    log.close();
  }
  const out: Writable = o.output ? createWriteStream(o.output) : process.stdout;
  // Lines go out in blocks of about 1 MiB: one write per event line costs more than building the cast.
  let block = '';
  for (const line of castLines(cast)) {
    block += `${line}\n`;
    if (block.length < 1 << 20) continue;
    if (!out.write(block)) await once(out, 'drain');
    block = '';
  }
  if (block && !out.write(block)) await once(out, 'drain');
  if (o.output) {
    out.end();
    await once(out, 'finish');
  }
}
