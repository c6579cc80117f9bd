import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CommandCompletedData } from '../../events/index.js';
import { BackendFramer } from '../../services/gateway/postgres/backend-framer.js';
import { decodeNotification } from '../../services/gateway/postgres/backend-messages.js';
import { errorResponse } from '../../services/gateway/postgres/backend-writer.js';
import { CommandTracker, type ActiveCommand, type Denial, type Pending } from '../../services/gateway/postgres/command-tracker.js';
import { Prng, be, cstr, msg, randomSplit } from '../support/pg-wire.js';

type Result = Omit<CommandCompletedData, 'commandSeq'>;
interface Completion {
  command: ActiveCommand;
  result: Result;
}

/** A tracker wired as the relay wires it: behind a BackendFramer, with recorded callbacks. */
function harness() {
  const completed: Completion[] = [];
  const notifications: Buffer[] = [];
  const replaced: Denial[] = [];
  const tracker = new CommandTracker({
    completed: (command, result) => completed.push({ command, result }),
    notification: (body) => notifications.push(Buffer.from(body)),
    replaceError: (denial) => {
      replaced.push(denial);
      return errorResponse({ severity: 'ERROR', ...denial });
    },
  });
  const framer = new BackendFramer(tracker);
  let seq = 0;
  return {
    tracker,
    completed,
    notifications,
    replaced,
    /** A command as the relay starts it. */
    command(): ActiveCommand {
      return { seq: ++seq, startedAt: process.hrtime.bigint(), tags: [], dataRows: 0, copyBytes: 0 };
    },
    expect(...pending: Pending[]): void {
      for (const p of pending) tracker.expect(p);
    },
    /** Feeds target messages (in random pieces with a seed) and returns what goes to the client. */
    serve(messages: Buffer[], seed?: number): Buffer {
      const all = Buffer.concat(messages);
      const chunks = seed === undefined ? [all] : randomSplit(all, new Prng(seed), 1, 7);
      return Buffer.concat(chunks.flatMap((c) => framer.push(c)));
    },
  };
}

/** The result without its duration, after checking the duration is sane. */
function settled(result: Result): Omit<Result, 'durationMs'> {
  const { durationMs, ...rest } = result;
  assert.ok(Number.isFinite(durationMs) && durationMs >= 0, `durationMs ${durationMs}`);
  return rest;
}

describe('CommandTracker: simple query', () => {
  test('success: completes at ReadyForQuery, rows from the tag', () => {
    const h = harness();
    const cmd = h.command();
    h.expect({ kind: 'query', command: cmd });
    const server = [be.rowDescription(['n']), be.dataRow(['1']), be.dataRow(['2']), be.dataRow(['3']), be.commandComplete('SELECT 3')];
    h.serve(server);
    assert.equal(h.completed.length, 0, 'completed before ReadyForQuery');
    h.serve([be.readyForQuery('I')]);
    assert.equal(h.completed.length, 1);
    assert.equal(h.completed[0]!.command, cmd);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: ['SELECT 3'], rows: 3 });
    assert.equal(h.tracker.outstanding, 0);
    assert.equal(h.tracker.status, 'I');
  });

  test('rows come from the tag even without DataRows (INSERT 0 5)', () => {
    const h = harness();
    const insert = h.command();
    h.expect({ kind: 'query', command: insert });
    h.serve([be.commandComplete('INSERT 0 5'), be.readyForQuery('I')]);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: ['INSERT 0 5'], rows: 5 });
  });

  test('multi-statement: two tags, rows summed, one completion', () => {
    const h = harness();
    const cmd = h.command();
    h.expect({ kind: 'query', command: cmd });
    h.serve(
      [be.commandComplete('INSERT 0 2'), be.rowDescription(['a']), be.dataRow(['x']), be.commandComplete('SELECT 1'), be.commandComplete('UPDATE 3'), be.readyForQuery('I')],
      1,
    );
    assert.equal(h.completed.length, 1);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: ['INSERT 0 2', 'SELECT 1', 'UPDATE 3'], rows: 6 });
  });

  test('error then ReadyForQuery: outcome error with SQLSTATE and message; the error reaches the client unchanged', () => {
    const h = harness();
    const cmd = h.command();
    h.expect({ kind: 'query', command: cmd });
    const server = [be.commandComplete('INSERT 0 1'), be.error('42P01', 'relation "nope" does not exist'), be.readyForQuery('E')];
    const out = h.serve(server);
    assert.ok(out.equals(Buffer.concat(server)));
    assert.equal(h.completed.length, 1);
    assert.deepEqual(settled(h.completed[0]!.result), {
      outcome: 'error',
      tags: ['INSERT 0 1'],
      rows: 1,
      sqlstate: '42P01',
      error: 'relation "nope" does not exist',
    });
    assert.equal(h.tracker.status, 'E');
    assert.deepEqual(h.replaced, []);
  });

  test('empty query: ok, no tags, no rows', () => {
    const h = harness();
    h.expect({ kind: 'query', command: h.command() });
    h.serve([be.emptyQuery(), be.readyForQuery('I')]);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: [], rows: 0 });
  });

  test('queries pipelined before any answer complete in order', () => {
    const h = harness();
    const cmds = [h.command(), h.command(), h.command()];
    for (const c of cmds) h.expect({ kind: 'query', command: c });
    h.serve(
      [
        be.commandComplete('BEGIN'), be.readyForQuery('T'),
        be.error('22012', 'division by zero'), be.readyForQuery('E'),
        be.commandComplete('ROLLBACK'), be.readyForQuery('I'),
      ],
      2,
    );
    assert.deepEqual(h.completed.map((c) => c.command), cmds);
    assert.deepEqual(h.completed.map((c) => c.result.outcome), ['ok', 'error', 'ok']);
    assert.equal(h.completed[1]!.result.sqlstate, '22012');
    assert.equal(h.tracker.status, 'I');
  });

  test('a denied query: the target error is replaced by the denial, outcome denied with its SQLSTATE', () => {
    const h = harness();
    const cmd = h.command();
    const denial: Denial = { sqlstate: '42501', message: 'DROP is not allowed for this pipeline', hint: 'ask an owner' };
    h.expect({ kind: 'query', command: cmd, denial });
    const targetError = be.error('42601', 'syntax error at or near "TRAILGATE_STATEMENT_DENIED"');
    const out = h.serve([targetError, be.readyForQuery('I')]);
    assert.deepEqual(h.replaced, [denial]);
    assert.ok(out.equals(Buffer.concat([errorResponse({ severity: 'ERROR', ...denial }), be.readyForQuery('I')])));
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'denied', tags: [], rows: 0, sqlstate: '42501', error: denial.message });
  });
});

describe('CommandTracker: extended protocol', () => {
  test('Parse/Bind/Describe/Execute/Sync success', () => {
    const h = harness();
    const cmd = h.command();
    h.expect({ kind: 'parse' }, { kind: 'bind' }, { kind: 'describe' }, { kind: 'execute', command: cmd }, { kind: 'sync' });
    h.serve([be.parseComplete(), be.bindComplete(), be.rowDescription(['a', 'b']), be.dataRow(['1', '2']), be.dataRow(['3', null])], 3);
    assert.equal(h.completed.length, 0);
    h.serve([be.commandComplete('SELECT 2')]);
    // Execute completes at CommandComplete, not at ReadyForQuery.
    assert.equal(h.completed.length, 1);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: ['SELECT 2'], rows: 2 });
    h.serve([be.readyForQuery('I')]);
    assert.equal(h.completed.length, 1);
    assert.equal(h.tracker.outstanding, 0);
  });

  test('Describe of a statement (ParameterDescription + NoData), Close, and a NoData portal', () => {
    const h = harness();
    const cmd = h.command();
    h.expect(
      { kind: 'parse' }, { kind: 'describe' }, { kind: 'bind' }, { kind: 'describe' },
      { kind: 'execute', command: cmd }, { kind: 'close' }, { kind: 'sync' },
    );
    h.serve([
      be.parseComplete(), be.parameterDescription([23]), be.noData(),
      be.bindComplete(), be.noData(),
      be.commandComplete('INSERT 0 1'), be.closeComplete(), be.readyForQuery('I'),
    ]);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: ['INSERT 0 1'], rows: 1 });
    assert.equal(h.tracker.outstanding, 0);
  });

  test('an error at Bind fails the Execute it belongs to, skips the rest up to the Sync, and no further', () => {
    const h = harness();
    const first = h.command();
    const second = h.command();
    const third = h.command();
    h.expect(
      { kind: 'parse' }, { kind: 'bind' }, { kind: 'describe' }, { kind: 'execute', command: first }, { kind: 'execute', command: second }, { kind: 'sync' },
      { kind: 'bind' }, { kind: 'execute', command: third }, { kind: 'sync' },
    );
    const bindError = be.error('22P02', 'invalid input syntax for type integer: "x"');
    const out = h.serve([be.parseComplete(), bindError]);
    assert.ok(out.equals(Buffer.concat([be.parseComplete(), bindError])), 'the error goes to the client unchanged');
    assert.deepEqual(h.completed.map((c) => c.command), [first, second]);
    // The Execute right behind the failed Bind carries the target's error; the next one was skipped.
    assert.equal(h.completed[0]!.result.outcome, 'error');
    assert.equal(h.completed[0]!.result.sqlstate, '22P02');
    assert.match(h.completed[0]!.result.error ?? '', /invalid input syntax/);
    assert.equal(h.completed[1]!.result.outcome, 'error');
    assert.match(h.completed[1]!.result.error ?? '', /skipped/);
    h.serve([be.readyForQuery('I'), be.bindComplete(), be.dataRow(['7']), be.commandComplete('SELECT 1'), be.readyForQuery('I')]);
    assert.equal(h.completed.length, 3);
    assert.equal(h.completed[2]!.command, third);
    assert.deepEqual(settled(h.completed[2]!.result), { outcome: 'ok', tags: ['SELECT 1'], rows: 1 });
    assert.equal(h.tracker.outstanding, 0);
  });

  test('an error at Execute: that command fails with the target SQLSTATE', () => {
    const h = harness();
    const cmd = h.command();
    h.expect({ kind: 'parse' }, { kind: 'bind' }, { kind: 'execute', command: cmd }, { kind: 'sync' });
    h.serve([be.parseComplete(), be.bindComplete(), be.dataRow(['1']), be.error('22012', 'division by zero'), be.readyForQuery('I')], 4);
    assert.equal(h.completed.length, 1);
    const r = settled(h.completed[0]!.result);
    assert.equal(r.outcome, 'error');
    assert.equal(r.sqlstate, '22012');
    assert.equal(r.error, 'division by zero');
    assert.equal(h.tracker.outstanding, 0);
  });

  test('an error at Sync (deferred constraint at the implicit commit) completes nothing twice and keeps the queue in step', () => {
    const h = harness();
    const cmd = h.command();
    const next = h.command();
    h.expect({ kind: 'parse' }, { kind: 'bind' }, { kind: 'execute', command: cmd }, { kind: 'sync' }, { kind: 'query', command: next });
    h.serve([be.parseComplete(), be.bindComplete(), be.commandComplete('INSERT 0 1'), be.error('23503', 'violates foreign key constraint'), be.readyForQuery('I')]);
    assert.deepEqual(h.completed.map((c) => c.command), [cmd]);
    h.serve([be.commandComplete('SELECT 0'), be.readyForQuery('I')]);
    assert.deepEqual(h.completed.map((c) => c.command), [cmd, next]);
    assert.equal(h.completed[1]!.result.outcome, 'ok');
  });

  test("PortalSuspended: outcome 'suspended', rows counted from DataRows; the next Execute of the portal is its own command", () => {
    const h = harness();
    const part = h.command();
    const rest = h.command();
    h.expect({ kind: 'parse' }, { kind: 'bind' }, { kind: 'execute', command: part }, { kind: 'sync' });
    h.serve([be.parseComplete(), be.bindComplete(), be.dataRow(['1']), be.dataRow(['2']), be.portalSuspended(), be.readyForQuery('T')], 5);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'suspended', tags: [], rows: 2 });
    h.expect({ kind: 'execute', command: rest }, { kind: 'sync' });
    h.serve([be.dataRow(['3']), be.commandComplete('SELECT 1'), be.readyForQuery('T')]);
    assert.equal(h.completed[1]!.command, rest);
    assert.deepEqual(settled(h.completed[1]!.result), { outcome: 'ok', tags: ['SELECT 1'], rows: 1 });
    assert.equal(h.tracker.status, 'T');
  });

  test('Execute answered by EmptyQueryResponse completes ok', () => {
    const h = harness();
    h.expect({ kind: 'parse' }, { kind: 'bind' }, { kind: 'execute', command: h.command() }, { kind: 'sync' });
    h.serve([be.parseComplete(), be.bindComplete(), be.emptyQuery(), be.readyForQuery('I')]);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: [], rows: 0 });
  });

  test("a denied Parse: the target's ErrorResponse is replaced, the Parse completes 'denied' with the denial's SQLSTATE", () => {
    const h = harness();
    const denied = h.command();
    const execute = h.command();
    const denial: Denial = { sqlstate: '42501', message: 'statement denied by policy "read-only"', detail: 'DELETE on public.users' };
    h.expect({ kind: 'parse', command: denied, denial }, { kind: 'bind' }, { kind: 'describe' }, { kind: 'execute', command: execute }, { kind: 'sync' });
    const targetError = be.error('42601', 'syntax error at or near "TRAILGATE_STATEMENT_DENIED"');
    const out = h.serve([targetError, be.readyForQuery('I')], 6);
    assert.deepEqual(h.replaced, [denial]);
    assert.ok(out.equals(Buffer.concat([errorResponse({ severity: 'ERROR', ...denial }), be.readyForQuery('I')])), 'client sees the denial, not the target error');
    assert.equal(h.completed.length, 2);
    assert.equal(h.completed[0]!.command, denied);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'denied', tags: [], rows: 0, sqlstate: '42501', error: denial.message });
    assert.equal(h.completed[1]!.command, execute);
    assert.equal(h.completed[1]!.result.outcome, 'error');
    assert.match(h.completed[1]!.result.error ?? '', /skipped/);
    assert.equal(h.tracker.outstanding, 0);
  });

  test('function call: completes at ReadyForQuery', () => {
    const h = harness();
    h.expect({ kind: 'function', command: h.command() });
    h.serve([msg('V', Buffer.from([0, 0, 0, 1, 0x31])), be.readyForQuery('I')]);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: [], rows: 0 });
  });

  test('thousands of pipelined and of one-at-a-time batches all complete, in order (queue compaction)', () => {
    const h = harness();
    const cmds: ActiveCommand[] = [];
    const answers: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const c = h.command();
      cmds.push(c);
      h.expect({ kind: 'parse' }, { kind: 'bind' }, { kind: 'execute', command: c }, { kind: 'sync' });
      answers.push(be.parseComplete(), be.bindComplete(), be.dataRow([String(i)]), be.commandComplete('SELECT 1'), be.readyForQuery('I'));
    }
    h.serve(answers);
    assert.equal(h.completed.length, 3000);
    assert.ok(h.completed.every((c, i) => c.command === cmds[i] && c.result.outcome === 'ok'));
    assert.equal(h.tracker.outstanding, 0);

    for (let i = 0; i < 3000; i++) {
      const c = h.command();
      h.expect({ kind: 'bind' }, { kind: 'execute', command: c }, { kind: 'sync' });
      h.serve([be.bindComplete(), be.commandComplete(`UPDATE ${i}`), be.readyForQuery('I')]);
      const last: Completion = h.completed[h.completed.length - 1]!;
      assert.equal(last.command, c);
      assert.equal(last.result.rows, i);
    }
    assert.equal(h.completed.length, 6000);
    assert.equal(h.tracker.outstanding, 0);
  });

  // The target ignores every extended message after an error until Sync, including those the
  // client sent after the error had already been answered (pipelining across TCP writes). Those
  // are still in the queue at ReadyForQuery; their commands were started and must be completed.
  test(
    'an Execute queued after the error was answered, and skipped by the target, is still completed',
    () => {
      const h = harness();
      const late = h.command();
      h.expect({ kind: 'parse' }, { kind: 'bind' });
      h.serve([be.error('42601', 'syntax error at or near "SELEC"')]);
      // The client's next write arrives after the error: Execute and Sync of the same batch.
      h.expect({ kind: 'execute', command: late }, { kind: 'sync' });
      h.serve([be.readyForQuery('I')]);
      assert.equal(h.tracker.outstanding, 0);
      const done = h.completed.find((c) => c.command === late);
      assert.ok(done, 'the skipped Execute never completed (and abandon() no longer returns it)');
      assert.equal(done.result.outcome, 'error');
    },
  );
});

describe('CommandTracker: COPY, notifications, abandon', () => {
  test('COPY TO STDOUT: copy data bytes counted, rows from the tag, whatever the chunking', () => {
    for (const seed of [undefined, 7, 8]) {
      const h = harness();
      h.expect({ kind: 'query', command: h.command() });
      const big = Buffer.alloc(70_000, 0x2c);
      h.serve([be.copyOutResponse(2), be.copyData('1\ta\n'), be.copyData(''), be.copyData(big), be.copyDone(), be.commandComplete('COPY 3'), be.readyForQuery('I')], seed);
      assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: ['COPY 3'], rows: 3, copyBytes: 4 + 0 + 70_000 }, `seed ${seed}`);
    }
  });

  test('COPY in the extended protocol counts against the Execute', () => {
    const h = harness();
    h.expect({ kind: 'parse' }, { kind: 'bind' }, { kind: 'execute', command: h.command() }, { kind: 'sync' });
    h.serve([be.parseComplete(), be.bindComplete(), be.copyOutResponse(1), be.copyData('abc\n'), be.copyDone(), be.commandComplete('COPY 1'), be.readyForQuery('I')]);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: ['COPY 1'], rows: 1, copyBytes: 4 });
  });

  test('COPY FROM STDIN: no server copy data, no copyBytes field', () => {
    const h = harness();
    h.expect({ kind: 'query', command: h.command() });
    h.serve([be.copyInResponse(1), be.commandComplete('COPY 2'), be.readyForQuery('I')]);
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: ['COPY 2'], rows: 2 });
  });

  test('NotificationResponse goes to the notification callback, idle or mid-command, and to the client unchanged', () => {
    const h = harness();
    const idle = be.notification(1234, 'deploys', 'started');
    assert.ok(h.serve([idle]).equals(idle));
    h.expect({ kind: 'query', command: h.command() });
    const during = be.notification(1234, 'deploys', 'done');
    const server = [be.rowDescription(['a']), be.dataRow(['1']), during, be.notice('just so you know'), be.commandComplete('SELECT 1'), be.readyForQuery('I')];
    assert.ok(h.serve(server, 9).equals(Buffer.concat(server)));
    assert.equal(h.notifications.length, 2);
    assert.deepEqual(decodeNotification(h.notifications[0]!), { processId: 1234, channel: 'deploys', payload: 'started' });
    assert.deepEqual(decodeNotification(h.notifications[1]!), { processId: 1234, channel: 'deploys', payload: 'done' });
    assert.deepEqual(settled(h.completed[0]!.result), { outcome: 'ok', tags: ['SELECT 1'], rows: 1 });
  });

  test('an ErrorResponse with nothing pending (FATAL on an idle session) is passed on and completes nothing', () => {
    const h = harness();
    const fatal = be.error('57P01', 'terminating connection due to administrator command', 'E', 'FATAL');
    assert.ok(h.serve([fatal]).equals(fatal));
    assert.equal(h.completed.length, 0);
  });

  test('abandon() returns the open commands, with what they had so far, and empties the queue', () => {
    const h = harness();
    const query = h.command();
    const execute = h.command();
    h.expect({ kind: 'query', command: query }, { kind: 'parse' }, { kind: 'bind' }, { kind: 'execute', command: execute }, { kind: 'sync' });
    h.serve([be.rowDescription(['a']), be.dataRow(['1']), be.dataRow(['2'])]);
    const open = h.tracker.abandon();
    assert.deepEqual(open, [query, execute]);
    assert.equal(open[0]!.dataRows, 2);
    assert.equal(h.tracker.outstanding, 0);
    assert.equal(h.completed.length, 0);
    assert.deepEqual(h.tracker.abandon(), []);
  });

  test('abandon() leaves out commands already completed', () => {
    const h = harness();
    const done = h.command();
    const open = h.command();
    h.expect({ kind: 'query', command: done }, { kind: 'query', command: open });
    h.serve([be.commandComplete('SELECT 0'), be.readyForQuery('I')]);
    assert.deepEqual(h.tracker.abandon(), [open]);
  });
});

describe('CommandTracker: settings the target reports', () => {
  test('hands each ParameterStatus to the session and passes it on to the client', () => {
    const reported: [string, string][] = [];
    const tracker = new CommandTracker({
      completed: () => undefined,
      notification: () => undefined,
      replaceError: (denial) => errorResponse({ severity: 'ERROR', ...denial }),
      parameterStatus: (name, value) => reported.push([name, value]),
    });
    const framer = new BackendFramer(tracker);
    tracker.expect({ kind: 'query', command: { seq: 1, startedAt: process.hrtime.bigint(), tags: [], dataRows: 0, copyBytes: 0 } });
    const status = msg('S', Buffer.concat([cstr('default_transaction_read_only'), cstr('off')]));
    const server = Buffer.concat([be.commandComplete('SELECT 1'), status, be.readyForQuery('I')]);
    const out = Buffer.concat(randomSplit(server, new Prng(7), 1, 5).flatMap((c) => framer.push(c)));
    assert.deepEqual(reported, [['default_transaction_read_only', 'off']]);
    assert.deepEqual(out, server);
  });

  test('knows when everything outstanding ends at a sync point', () => {
    const tracker = new CommandTracker({ completed: () => undefined, notification: () => undefined, replaceError: () => Buffer.alloc(0) });
    assert.equal(tracker.endsAtSyncPoint, true);
    tracker.expect({ kind: 'parse' });
    assert.equal(tracker.endsAtSyncPoint, false, 'the target answers a Parse only up to the next Sync');
    tracker.expect({ kind: 'sync' });
    assert.equal(tracker.endsAtSyncPoint, true);
  });
});
