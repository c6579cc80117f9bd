import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCast, castText, CastError } from '../../services/replay/cast.js';
import { asAuditRecords, sshSessionRecords, type TerminalStep } from '../support/ssh-recording.js';
import { screenOf, screenOfCast, type TerminalFeed } from '../support/terminal-screen.js';

const lines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as unknown);

function cast(steps: TerminalStep[], o: Parameters<typeof buildCast>[2] = {}) {
  const built = sshSessionRecords(steps);
  return { id: built.context.sessionId, cast: buildCast(built.context.sessionId, asAuditRecords(built), o) };
}

describe('trailgate cast', () => {
  it('writes asciicast v2 with the terminal size, real timing and resizes', () => {
    const { cast: c } = cast([
      { at: 10, open: { channel: 0, cols: 100, rows: 30, term: 'xterm-256color' } },
      { at: 20, output: 'hello\r\n' },
      { at: 500, resize: { channel: 0, cols: 120, rows: 40 } },
      { at: 1500, output: 'world' },
    ]);
    const [header, ...events] = lines(castText(c)) as [Record<string, unknown>, ...unknown[]];
    assert.equal(header.version, 2);
    assert.equal(header.width, 100);
    assert.equal(header.height, 30);
    assert.deepEqual(header.env, { TERM: 'xterm-256color' });
    assert.equal(header.timestamp, Date.parse('2026-11-20T10:00:00Z') / 1000);
    assert.deepEqual(events, [
      [0.02, 'o', 'hello\r\n'],
      [0.5, 'r', '120x40'],
      [1.5, 'o', 'world'],
    ]);
    assert.equal(header.duration, 1.5);
  });

  it('writes v3 with intervals and the size under term', () => {
    const { cast: c } = cast(
      [
        { at: 0, open: { channel: 0, cols: 90, rows: 20 } },
        { at: 250, output: 'a' },
        { at: 1000, output: 'b' },
      ],
      { version: 3 },
    );
    const [header, ...events] = lines(castText(c)) as [Record<string, unknown>, ...unknown[]];
    assert.equal(header.version, 3);
    assert.deepEqual(header.term, { cols: 90, rows: 20 });
    assert.deepEqual(events, [
      [0.25, 'o', 'a'],
      [0.75, 'o', 'b'],
    ]);
  });

  it('keeps characters whose UTF-8 bytes are split across chunks', () => {
    const text = 'déjà vu € 🙂 日本';
    const bytes = Buffer.from(text, 'utf8');
    const steps: TerminalStep[] = [{ at: 0, open: { channel: 0, cols: 80, rows: 24 } }];
    // One byte per chunk: every multi-byte character is split.
    for (let i = 0; i < bytes.length; i++) steps.push({ at: 1 + i, output: bytes.subarray(i, i + 1) });
    const { cast: c } = cast(steps);
    const out = c.events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
    assert.equal(out, text);
    assert.ok(!out.includes('\ufffd'));
  });

  it('puts markers at commands and approval decisions, as plain text', () => {
    const { cast: c } = cast([
      { at: 0, open: { channel: 0, cols: 80, rows: 24 } },
      { at: 5, command: 'ls -la <img src=x onerror=alert(1)>' },
      { at: 6, event: 'approval.granted', data: { approver: 'alice', commandSeq: 3 } },
      { at: 7, command: 'ignored on another channel', channel: 1 },
    ]);
    assert.deepEqual(
      c.events.filter((e) => e[1] === 'm').map((e) => e[2]),
      ['$ ls -la <img src=x onerror=alert(1)>', '[approval.granted] alice'],
    );
  });

  it('replays one channel: the first terminal opened, or the one asked for', () => {
    const steps: TerminalStep[] = [
      { at: 0, output: 'exec output', channel: 0 },
      { at: 1, open: { channel: 2, cols: 132, rows: 43 } },
      { at: 2, output: 'shell', channel: 2 },
      { at: 3, resize: { channel: 0, cols: 10, rows: 10 } },
    ];
    const chosen = cast(steps).cast;
    assert.equal(chosen.provenance.channel, 2);
    assert.equal(chosen.cols, 132);
    assert.deepEqual(chosen.events.map((e) => e[2]), ['shell']);
    const other = cast(steps, { channel: 0 }).cast;
    assert.deepEqual(other.events.map((e) => e[2]), ['exec output', '10x10']);
    assert.equal(other.provenance.size, 'default');
  });

  it('defaults to 80x24 and says so when the recording has no terminal event', () => {
    const { cast: c } = cast([{ at: 3, output: 'no pty here' }]);
    const header = lines(castText(c))[0] as { width: number; height: number; trailgate: { size: string; note: string } };
    assert.equal(header.width, 80);
    assert.equal(header.height, 24);
    assert.equal(header.trailgate.size, 'default');
    assert.match(header.trailgate.note, /no terminal\.opened event.*80x24/);
  });

  it('marks bytes missing from the recording', () => {
    const built = sshSessionRecords([
      { at: 0, open: { channel: 0, cols: 80, rows: 24 } },
      { at: 1, output: 'aaaa' },
      { at: 2, output: 'bbbb' },
    ]);
    const records = asAuditRecords(built).filter((r) => !(r.stream === 'bytes' && r.data.toString() === 'aaaa'));
    const c = buildCast(built.context.sessionId, records);
    assert.deepEqual(c.events[0], [0.002, 'm', '[trailgate] server bytes 0..4 are missing from the recording']);
  });

  it('refuses a session without a terminal (a Postgres session) with a code', () => {
    const built = sshSessionRecords([]);
    const records = asAuditRecords(built);
    records.push({ ...records[0]!, seq: 99, stream: 'bytes', type: 'bytes', direction: 'server', offset: 0, data: Buffer.from('R') } as never);
    assert.throws(() => buildCast(built.context.sessionId, records), (e: unknown) => e instanceof CastError && e.code === 'TG_CAST_NOT_TERMINAL');
    assert.throws(() => buildCast(built.context.sessionId, asAuditRecords(built)), (e: unknown) => e instanceof CastError && e.code === 'TG_CAST_NO_TERMINAL');
  });

  it('keeps times non-decreasing when a chunk opened before the event recorded ahead of it', () => {
    const { cast: c } = cast([
      { at: 0, open: { channel: 0, cols: 80, rows: 24 } },
      { at: 300, command: 'make' },
      { at: 200, output: 'chunk opened earlier' },
    ]);
    const times = c.events.map((e) => e[0]);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
  });
});

/**
 * Replay fidelity: the screen a cast replays to against the screen of the bytes the client received.
 * Here the client's stream is built; with the SSH gateway, the same two calls compare a real session:
 * `screenOf(size, bytesTheSshClientPrinted)` against `screenOfCast(castText(buildCast(id, log.readSession(id))))`.
 */
describe('replay fidelity', () => {
  it('a cast replays to the same final screen as the byte stream the client received', async () => {
    // A full-screen program: colours, cursor addressing, clearing, a resize, wide and split characters.
    const stream = [
      '\x1b[2J\x1b[H\x1b[1;32mdeploy\x1b[0m to production\r\n',
      'step 1/3 ✔ migrations\r\n',
      '\x1b[5;10H\x1b[7m progress \x1b[27m 50%',
      '\x1b[3;1H\x1b[Kstep 2/3 ✔ 日本語 🙂\r\n',
      '\x1b[?25l\x1b[10;1Hstatus: \x1b[31mfailed\x1b[0m → retry',
      '\x1b[2;1H\x1b[1Moverwritten line\r\n$ ',
    ].join('');
    const bytes = Buffer.from(stream, 'utf8');
    const steps: TerminalStep[] = [{ at: 0, open: { channel: 0, cols: 60, rows: 15, term: 'xterm' } }];
    const feed: TerminalFeed = [];
    // Chunks of 7 bytes split escape sequences and UTF-8 characters alike; a resize halfway.
    for (let i = 0, at = 1; i < bytes.length; i += 7, at++) {
      const part = bytes.subarray(i, i + 7);
      steps.push({ at, output: part });
      feed.push({ output: part });
      if (i === 70) {
        steps.push({ at, resize: { channel: 0, cols: 70, rows: 12 } });
        feed.push({ resize: { cols: 70, rows: 12 } });
      }
    }
    const { cast: c } = cast(steps);
    const replayed = await screenOfCast(castText(c));
    const seen = await screenOf({ cols: 60, rows: 15 }, feed);
    assert.deepEqual(replayed, seen);
    assert.ok(seen.lines.some((l) => l.includes('status: failed → retry')));
  });
});
