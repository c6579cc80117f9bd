import type { Cast, CastEvent } from './cast.js';
import { decisionText, outcomeText, parameterText, terminalSafe, type Transcript } from './transcript.js';

const COLS = 120;
const ROWS = 30;

/**
 * A Postgres session as a terminal recording, so that the same player steps through it: each
 * statement appears when it started and its outcome when it completed, with a marker per statement.
 * Recorded text has its control characters made visible, so it cannot drive the player's terminal.
 */
export function transcriptCast(t: Transcript, version: 2 | 3 = 2): Cast {
  const zero = t.startedAt ? Date.parse(t.startedAt) : 0;
  const zeroMs = zero - (zero % 1000);
  const events: CastEvent[] = [];
  let last = 0;
  const push = (ts: string | number, code: CastEvent[1], data: string) => {
    const at = Math.max(last, ((typeof ts === 'number' ? ts : Date.parse(ts)) - zeroMs) / 1000);
    last = at;
    events.push([at, code, data]);
  };
  const line = (s: string) => `${terminalSafe(s).replace(/\n/g, '\r\n       ')}\r\n`;
  for (const e of t.entries) {
    push(e.startedAt, 'm', `#${e.seq} ${e.text.replace(/\s+/g, ' ').slice(0, 120)}`);
    const params = e.parameters?.map((p, i) => `$${i + 1} = ${parameterText(p)}`).join(', ');
    push(e.startedAt, 'o', `\x1b[1msql #${e.seq}>\x1b[0m ${line(e.text)}${params ? `\x1b[2m       ${line(params)}\x1b[0m` : ''}\x1b[2m       ${line(decisionText(e.decision))}\x1b[0m`);
    const done = e.completion ? Date.parse(e.startedAt) + e.completion.durationMs : Date.parse(e.startedAt);
    const failed = e.completion && e.completion.outcome !== 'ok';
    push(done, 'o', `${failed ? '\x1b[31m' : '\x1b[32m'}       -> ${line(outcomeText(e.completion))}\x1b[0m`);
  }
  return {
    version,
    cols: COLS,
    rows: ROWS,
    timestamp: Math.floor(zero / 1000),
    title: `Trailgate SQL transcript of session ${t.session}`,
    provenance: { session: t.session, channel: 0, size: 'default', note: 'a Postgres transcript rendered as a terminal', firstSeq: t.firstSeq, lastSeq: t.lastSeq },
    events,
  };
}
