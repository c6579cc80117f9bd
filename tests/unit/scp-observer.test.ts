/** Legacy scp seen from the side: one record per file, with the outcome the receiving side acknowledged. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseScpCommand } from '../../services/gateway/policy/ssh-policy.js';
import { ScpObserver, type ScpOperation } from '../../services/gateway/ssh/scp-observer.js';

function observe(command: string): { observer: ScpObserver; ops: ScpOperation[] } {
  const ops: ScpOperation[] = [];
  return { observer: new ScpObserver(parseScpCommand(command)!, (op) => ops.push(op)), ops };
}

describe('scp observer', () => {
  it('records an uploaded file once the sink acknowledges its data, wherever the chunks split', () => {
    const { observer, ops } = observe('scp -t /srv/releases');
    const source = Buffer.concat([Buffer.from('C0644 10 app.tgz\n'), Buffer.from('0123456789'), Buffer.from([0])]);
    observer.fromSink(Buffer.from([0]));
    for (let i = 0; i < source.length; i += 3) observer.fromSource(source.subarray(i, i + 3));
    observer.fromSink(Buffer.from([0]));
    assert.deepEqual(ops, [], 'not before the sink acknowledged the data');
    observer.fromSink(Buffer.from([0]));
    assert.deepEqual(ops, [{ op: 'upload', path: '/srv/releases', name: 'app.tgz', bytes: 10, outcome: 'ok' }]);
  });

  it('records a file the sink refuses, and the transfer carries on', () => {
    const { observer, ops } = observe('scp -r -t /srv');
    observer.fromSink(Buffer.from([0]));
    observer.fromSource(Buffer.from('D0755 0 conf\nC0600 3 secret\n'));
    observer.fromSink(Buffer.from([0]));
    observer.fromSink(Buffer.from('\x01scp: /srv/conf/secret: Permission denied\n'));
    observer.fromSource(Buffer.from('C0644 2 ok.txt\nhi\0E\n'));
    observer.fromSink(Buffer.from([0, 0, 0]));
    assert.deepEqual(ops, [
      { op: 'upload', path: '/srv/conf', name: 'secret', bytes: 3, outcome: 'error', error: 'scp: /srv/conf/secret: Permission denied' },
      { op: 'upload', path: '/srv/conf', name: 'ok.txt', bytes: 2, outcome: 'ok' },
    ]);
  });

  it('records what the channel closed on as failed', () => {
    const { observer, ops } = observe('scp -f /var/backup.sql');
    observer.fromSink(Buffer.from([0]));
    observer.fromSource(Buffer.from('C0640 1000 backup.sql\n'));
    observer.fromSink(Buffer.from([0]));
    observer.fromSource(Buffer.alloc(400));
    observer.end(undefined);
    assert.deepEqual(ops, [{ op: 'download', path: '/var/backup.sql', name: 'backup.sql', bytes: 1000, outcome: 'error', error: 'the channel closed before the transfer finished' }]);
  });

  it('records the source side error of a missing file', () => {
    const { observer, ops } = observe('scp -f /nope');
    observer.fromSink(Buffer.from([0]));
    observer.fromSource(Buffer.from('\x01scp: /nope: No such file or directory\n'));
    assert.deepEqual(ops, [{ op: 'download', path: '/nope', outcome: 'error', error: 'scp: /nope: No such file or directory' }]);
  });
});
