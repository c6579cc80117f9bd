/**
 * The SFTP relay reads both directions of an SFTP stream that arrives in arbitrary pieces: requests are
 * checked whole, denials are answered by the gateway between the target's packets, and every operation
 * is recorded once with its outcome.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatementDecision } from '../../events/index.js';
import type { SshRight } from '../../services/config/schema.js';
import { Fxp, Status, decodeResponse, statusPacket } from '../../services/gateway/ssh/sftp/sftp-codec.js';
import { SftpRelay, type FileOperation } from '../../services/gateway/ssh/sftp/sftp-relay.js';

function packet(type: number, ...fields: (number | string | Buffer | bigint)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([type])];
  for (const f of fields) {
    if (typeof f === 'number') {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(f);
      parts.push(b);
    } else if (typeof f === 'bigint') {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(f);
      parts.push(b);
    } else {
      const data = typeof f === 'string' ? Buffer.from(f) : f;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      parts.push(len, data);
    }
  }
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function relay(granted: SshRight[]): { relay: SftpRelay; ops: FileOperation[] } {
  const ops: FileOperation[] = [];
  const check = (rights: readonly SshRight[]): StatementDecision => {
    const have = rights.find((r) => granted.includes(r));
    return have ? { outcome: 'allowed', needs: [have], rules: ['r'] } : { outcome: 'denied', needs: [...rights], missing: [...rights] };
  };
  return { relay: new SftpRelay({ check, record: (op) => ops.push(op) }), ops };
}

/** Feeds a buffer one byte at a time, as the worst network would. */
function bytewise<T>(buf: Buffer, feed: (b: Buffer) => T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < buf.length; i++) out.push(...feed(buf.subarray(i, i + 1)));
  return out;
}

const ATTRS_NONE = 0;
const WRITE_CREATE_TRUNC = 0x02 | 0x08 | 0x10;

describe('SFTP relay', () => {
  it('forwards requests whole and sums a transfer into one write record at close', () => {
    const { relay: r, ops } = relay(['sftp-write']);
    const requests = Buffer.concat([
      packet(Fxp.INIT, 3),
      packet(Fxp.OPEN, 1, '/srv/app.tar', WRITE_CREATE_TRUNC, ATTRS_NONE),
      packet(Fxp.WRITE, 2, 'h1', 0n, Buffer.alloc(1000, 1)),
      packet(Fxp.WRITE, 3, 'h1', 1000n, Buffer.alloc(500, 2)),
      packet(Fxp.CLOSE, 4, 'h1'),
    ]);
    const forwarded = Buffer.concat(bytewise(requests, (b) => r.fromClient(b).forward));
    assert.deepEqual(forwarded, requests, 'every allowed byte reaches the target unchanged');
    const responses = Buffer.concat([
      packet(Fxp.VERSION, 3),
      packet(Fxp.HANDLE, 1, 'h1'),
      packet(Fxp.STATUS, 2, Status.OK, '', ''),
      packet(Fxp.STATUS, 3, Status.OK, '', ''),
      packet(Fxp.STATUS, 4, Status.OK, '', ''),
    ]);
    const back = Buffer.concat(bytewise(responses, (b) => r.fromTarget(b)));
    assert.deepEqual(back, responses);
    assert.deepEqual(ops, [
      { op: 'open', path: '/srv/app.tar', flags: ['write', 'create', 'truncate'], outcome: 'ok' },
      { op: 'write', path: '/srv/app.tar', bytes: 1500, count: 2, outcome: 'ok' },
      { op: 'close', path: '/srv/app.tar', outcome: 'ok' },
    ]);
  });

  it('answers a denied request itself, between the target packets, and forwards the rest', () => {
    const { relay: r, ops } = relay(['sftp-read']);
    // A big DATA response is still arriving when the client asks for something it may not do.
    const data = packet(Fxp.DATA, 9, Buffer.alloc(70_000, 7));
    const first = r.fromTarget(data.subarray(0, 30_000));
    const out = r.fromClient(Buffer.concat([packet(Fxp.REMOVE, 10, '/etc/passwd'), packet(Fxp.STAT, 11, '/etc')]));
    assert.equal(out.reply.length, 0, 'not in the middle of a target packet');
    assert.deepEqual(out.forward, [packet(Fxp.STAT, 11, '/etc')]);
    const rest = r.fromTarget(data.subarray(30_000));
    const stream = Buffer.concat([...first, ...rest]);
    assert.deepEqual(stream.subarray(0, data.length), data, 'the target packet is whole');
    const denial = decodeResponse(stream.subarray(data.length));
    assert.deepEqual([denial.type, denial.id, denial.status], [Fxp.STATUS, 10, Status.PERMISSION_DENIED]);
    assert.match(denial.message!, /sftp-write/);
    assert.deepEqual(ops, [{ op: 'remove', path: '/etc/passwd', outcome: 'denied', status: 'PERMISSION_DENIED', needs: ['sftp-write'] }]);
  });

  it('sends a denial at once when the target stream is between packets', () => {
    const { relay: r } = relay(['sftp-read']);
    const out = r.fromClient(packet(Fxp.OPEN, 5, '/x', 0x02 | 0x08, ATTRS_NONE));
    assert.equal(out.forward.length, 0);
    assert.equal(out.reply.length, 1);
    const denial = decodeResponse(out.reply[0]!);
    assert.deepEqual([denial.id, denial.status], [5, Status.PERMISSION_DENIED]);
    assert.deepEqual(out.reply[0], statusPacket(5, Status.PERMISSION_DENIED, denial.message!));
  });

  it('needs sftp-read to open for reading and accepts metadata requests from writers', () => {
    const { relay: r, ops } = relay(['sftp-write']);
    const out = r.fromClient(Buffer.concat([packet(Fxp.REALPATH, 1, '.'), packet(Fxp.OPEN, 2, '/etc/shadow', 0x01, ATTRS_NONE)]));
    assert.deepEqual(out.forward, [packet(Fxp.REALPATH, 1, '.')]);
    assert.equal(out.reply.length, 1);
    assert.deepEqual(ops.map((o) => [o.op, o.outcome, o.needs]), [['open', 'denied', ['sftp-read']]]);
  });

  it('records failures with the SFTP status and closes what the channel left open', () => {
    const { relay: r, ops } = relay(['sftp-read', 'sftp-write']);
    r.fromClient(Buffer.concat([packet(Fxp.MKDIR, 1, '/root/x', ATTRS_NONE), packet(Fxp.OPEN, 2, '/var/log/syslog', 0x01, ATTRS_NONE), packet(Fxp.READ, 3, 'h2', 0n, 32768)]));
    r.fromTarget(Buffer.concat([packet(Fxp.STATUS, 1, Status.PERMISSION_DENIED, 'Permission denied', ''), packet(Fxp.HANDLE, 2, 'h2'), packet(Fxp.DATA, 3, Buffer.alloc(100))]));
    r.end('the channel closed with the file open');
    assert.deepEqual(ops, [
      { op: 'mkdir', path: '/root/x', outcome: 'error', status: 'PERMISSION_DENIED', error: 'Permission denied' },
      { op: 'open', path: '/var/log/syslog', flags: ['read'], outcome: 'ok' },
      { op: 'read', path: '/var/log/syslog', bytes: 100, count: 1, outcome: 'ok' },
      { op: 'close', path: '/var/log/syslog', outcome: 'error', error: 'the channel closed with the file open' },
    ]);
  });

  it('reads renames, including the OpenSSH posix-rename extension', () => {
    const { relay: r, ops } = relay(['sftp-write']);
    r.fromClient(Buffer.concat([packet(Fxp.RENAME, 1, '/a', '/b'), packet(Fxp.EXTENDED, 2, 'posix-rename@openssh.com', '/b', '/c')]));
    r.fromTarget(Buffer.concat([packet(Fxp.STATUS, 1, Status.OK, '', ''), packet(Fxp.STATUS, 2, Status.OK, '', '')]));
    assert.deepEqual(ops, [
      { op: 'rename', path: '/a', toPath: '/b', outcome: 'ok' },
      { op: 'rename', path: '/b', toPath: '/c', request: 'posix-rename@openssh.com', outcome: 'ok' },
    ]);
  });

  it('counts unknown extensions as writing', () => {
    const { relay: r, ops } = relay(['sftp-read']);
    const out = r.fromClient(packet(Fxp.EXTENDED, 1, 'copy-data', Buffer.alloc(8)));
    assert.equal(out.forward.length, 0);
    assert.deepEqual(ops[0], { op: 'extended', request: 'copy-data', outcome: 'denied', status: 'PERMISSION_DENIED', needs: ['sftp-write'] });
  });

  it('refuses a packet length past the limit instead of buffering it', () => {
    const { relay: r } = relay(['sftp-read']);
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(64 * 1024 * 1024);
    assert.throws(() => r.fromClient(huge), /SFTP packet of 67108864 bytes/);
  });
});
