/**
 * An interactive shell through the gateway, typed on a real pseudo-terminal: the record holds every
 * byte the terminal showed, each write with its own time, and the resize exactly between the output
 * before it and after it, so a replay (asciicast) shows what the person saw.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BytesRecord, EventRecord } from '../../events/index.js';
import { buildCast, castText } from '../../services/replay/cast.js';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import { screenOf, screenOfCast } from '../support/terminal-screen.js';
import type { OpenSsh } from '../support/openssh.js';

let h: GatewayHarness;
let ssh: OpenSsh;

before(async () => {
  h = await GatewayHarness.start({ ssh: true });
  ssh = h.openssh();
});
after(async () => {
  await h.stop();
});

function output(records: Awaited<ReturnType<GatewayHarness['records']>>, channel: number): BytesRecord[] {
  return records.filter((r): r is BytesRecord => r.stream === 'bytes' && r.direction === 'server' && r.channel === channel);
}

/** The seq of the first output record that contains `text`, and the output up to there. */
function seqShowing(out: BytesRecord[], text: string): number {
  let seen = '';
  for (const r of out) {
    seen += r.data.toString('latin1');
    if (seen.includes(text)) return r.seq;
  }
  throw new Error(`the recording never shows ${text}`);
}

describe('interactive shell through a pty', () => {
  it('records the output in order with its timing and the resize in its exact place', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'terminal.opened').length > 0);
    const term = ssh.terminal(['web@127.0.0.1'], await h.token(), { rows: 24, cols: 80 });
    // Quoted in two pieces, so the echo of this line never looks like the prompt it sets.
    term.type("export PS1='tg-''prompt$ '\r");
    let at = await term.waitFor('tg-prompt$ ');
    term.type('echo first-$((40+2))\r');
    at = await term.waitFor('first-42', at);
    at = await term.waitFor('tg-prompt$ ', at);
    const resizedAt = term.screen.length;
    term.resize(30, 100);
    // The shell learns the new size from SIGWINCH, asynchronously: ask until it answers with it.
    for (let attempt = 1; ; attempt++) {
      const asked = at;
      term.type('stty size\r');
      at = await term.waitFor(/\d+ \d+\r?\n/, asked);
      const answer = term.screen.subarray(at).toString('utf8');
      at = await term.waitFor('tg-prompt$ ', at);
      if (answer.startsWith('30 100')) break;
      assert.ok(attempt < 50, `the shell never saw the new size (last answer: ${answer.slice(0, 20)})`);
    }
    term.type('printf "%s\\n" second-$((6*7)) && exit 0\r');
    await term.waitFor('second-42', at);
    const exit = await term.exited;
    assert.equal(exit.code, 0);

    const events = await ended;
    const session = events[0]!.sessionId;
    const records = await h.records(session);
    const opened = ofType(events, 'terminal.opened')[0]!;
    assert.equal(opened.data.cols, 80);
    assert.equal(opened.data.rows, 24);
    assert.equal(typeof opened.data.term, 'string');
    const started = ofType(events, 'command.started')[0]!;
    assert.equal(started.data.protocol, 'shell');
    assert.equal(started.data.pty, true);
    const channel = started.data.channel!;
    assert.equal(opened.data.channel, channel);

    const out = output(records, channel);
    assert.ok(out.length > 5, 'terminal output is recorded write by write');
    const recorded = Buffer.concat(out.map((r) => r.data));
    assert.ok(term.screen.includes(recorded), 'the terminal showed exactly the recorded bytes, in order');
    let offset = 0;
    for (const r of out) {
      assert.equal(r.offset, offset, 'offsets run without gaps');
      offset += r.data.length;
    }
    const times = out.map((r) => Date.parse(r.ts));
    assert.deepEqual([...times].sort((a, b) => a - b), times, 'each write carries its own time, in order');

    const resized = ofType(events, 'terminal.resized');
    assert.equal(resized.length, 1);
    assert.deepEqual(resized[0]!.data, { channel, cols: 100, rows: 30 });
    assert.ok(seqShowing(out, 'first-42') < resized[0]!.seq, 'the resize comes after the output before it');
    assert.ok(seqShowing(out, '30 100') > resized[0]!.seq, 'and before the output drawn at the new size');
    assert.ok(opened.seq < out[0]!.seq, 'the terminal is opened before its first output');

    const completed = ofType(events, 'command.completed')[0]!;
    assert.equal(completed.data.exitStatus, 0);
    assert.equal(completed.data.outcome, 'ok');
    assert.ok(completed.seq > out[out.length - 1]!.seq, 'the command completes after its last output');
    assert.equal(records.filter((r) => r.stream === 'bytes' && r.direction === 'client').length, 0, 'keystrokes are not recorded unless configured');

    // Replay fidelity: the cast built from the log ends on the screen the client saw (what the
    // client's terminal got from the target, with the resize where the client made it).
    const start = term.screen.indexOf(recorded);
    const seen = term.screen.subarray(start, start + recorded.length);
    const clientScreen = await screenOf({ cols: 80, rows: 24 }, [{ output: seen.subarray(0, resizedAt - start) }, { resize: { cols: 100, rows: 30 } }, { output: seen.subarray(resizedAt - start) }]);
    const castScreen = await screenOfCast(castText(buildCast(session, records)));
    assert.deepEqual(castScreen, clientScreen);
    assert.ok(castScreen.lines.some((l) => l.includes('second-42')), 'the final screen shows the last output');
  });
});

describe('recording what clients type, when configured', () => {
  let withInput: GatewayHarness;
  before(async () => {
    withInput = await GatewayHarness.start({ ssh: true, sshInput: true });
  });
  after(async () => {
    await withInput.stop();
  });

  it('records client bytes per channel with recording.sshInput', async () => {
    const client = withInput.openssh();
    const ended = withInput.endedSession((ev) => ofType(ev, 'command.completed').length > 0);
    const result = await client.ssh(['web@127.0.0.1', 'wc -c'], { token: await withInput.token(), input: 'typed-secret\n' });
    assert.equal(result.stdout.toString().trim(), '13');
    const events: EventRecord[] = await ended;
    const records = await withInput.records(events[0]!.sessionId);
    const input = records.filter((r): r is BytesRecord => r.stream === 'bytes' && r.direction === 'client');
    assert.equal(Buffer.concat(input.map((r) => r.data)).toString(), 'typed-secret\n');
    assert.equal(input[0]!.channel, ofType(events, 'command.started')[0]!.data.channel);
  });
});

auditTrailOfThisSuite(() => h);
