/**
 * File transfer through the gateway with the real clients: scp in its SFTP mode (OpenSSH 9's default)
 * and its legacy mode (`scp -O`, an exec of `scp -t`/`scp -f`), and an sftp batch. Files arrive whole,
 * each operation is an event with its paths, sizes and outcome, and the sftp rights hold.
 * The target sshd runs on this machine, so the test reads what arrived on the target directly.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BytesRecord, EventRecord, FileOperationData } from '../../events/index.js';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import type { OpenSsh } from '../support/openssh.js';

const SIZE = 20 * 1024 * 1024;
let h: GatewayHarness;
let ssh: OpenSsh;
let dir: string;
let source: string;
let digest: string;

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

before(async () => {
  h = await GatewayHarness.start({ ssh: true });
  ssh = h.openssh();
  dir = mkdtempSync(join(tmpdir(), 'trailgate-transfer-'));
  source = join(dir, 'source.bin');
  writeFileSync(source, randomBytes(SIZE));
  digest = sha256(source);
});
after(async () => {
  await h.stop();
  rmSync(dir, { recursive: true, force: true });
});

function fileOps(events: EventRecord[]): FileOperationData[] {
  return ofType(events, 'file.operation').map((e) => e.data);
}

async function scp(args: string[], options: string[] = []): Promise<EventRecord[]> {
  const ended = h.endedSession((ev) => ofType(ev, 'command.completed').length > 0, 60_000);
  const r = await ssh.scp(args, { token: await h.token(), options, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  return ended;
}

describe('scp through the gateway', () => {
  it('uploads and downloads 20 MB over SFTP (the default) with matching checksums, recorded per operation', async () => {
    const remote = join(dir, 'sftp-up.bin');
    const up = await scp([source, `web@127.0.0.1:${remote}`]);
    assert.equal(sha256(remote), digest);
    const started = ofType(up, 'command.started')[0]!;
    assert.deepEqual([started.data.protocol, started.data.text], ['subsystem', 'sftp']);
    const ops = fileOps(up);
    assert.deepEqual(ops.find((o) => o.op === 'open')?.flags, ['write', 'create']);
    const write = ops.find((o) => o.op === 'write')!;
    assert.deepEqual([write.path, write.bytes, write.outcome], [remote, SIZE, 'ok']);
    assert.ok(write.count! >= SIZE / (256 * 1024), 'the writes are summed, not one event each');
    assert.equal(ops.find((o) => o.op === 'close')?.outcome, 'ok');

    const local = join(dir, 'sftp-down.bin');
    const down = await scp([`web@127.0.0.1:${remote}`, local]);
    assert.equal(sha256(local), digest);
    const read = fileOps(down).find((o) => o.op === 'read')!;
    assert.deepEqual([read.path, read.bytes, read.outcome], [remote, SIZE, 'ok']);
    const records = await h.records(down[0]!.sessionId);
    const output = records.filter((r): r is BytesRecord => r.stream === 'bytes' && r.direction === 'server').reduce((n, r) => n + r.data.length, 0);
    assert.ok(output > SIZE, 'the downloaded bytes are in the recording');
  });

  it('uploads and downloads 20 MB with legacy scp (-O) with matching checksums, one event per file', async () => {
    const remote = join(dir, 'legacy-up.bin');
    const up = await scp([source, `web@127.0.0.1:${remote}`], ['-O']);
    assert.equal(sha256(remote), digest);
    const started = ofType(up, 'command.started')[0]!;
    assert.equal(started.data.text, `scp -t ${remote}`);
    assert.deepEqual(started.data.decision, { outcome: 'allowed', needs: ['sftp-write'], rules: ['tests-all'] });
    assert.deepEqual(fileOps(up), [{ protocol: 'scp', channel: started.data.channel, op: 'upload', path: remote, name: 'source.bin', bytes: SIZE, outcome: 'ok' }]);

    const local = join(dir, 'legacy-down.bin');
    const down = await scp([`web@127.0.0.1:${remote}`, local], ['-O']);
    assert.equal(sha256(local), digest);
    assert.deepEqual(
      fileOps(down).map((o) => [o.op, o.path, o.bytes, o.outcome]),
      [['download', remote, SIZE, 'ok']],
    );
  });

  it('records a legacy download of a missing file as failed', async () => {
    const ended = h.endedSession((ev) => ofType(ev, 'command.completed').length > 0);
    const r = await ssh.scp([`web@127.0.0.1:${join(dir, 'missing.bin')}`, join(dir, 'never.bin')], { token: await h.token(), options: ['-O'] });
    assert.notEqual(r.code, 0);
    const op = fileOps(await ended)[0]!;
    assert.equal(op.op, 'download');
    assert.equal(op.outcome, 'error');
    assert.match(op.error!, /No such file/);
  });
});

describe('an sftp batch through the gateway', () => {
  it('records each operation with its paths, sizes and outcome', async () => {
    const work = join(dir, 'batch');
    const small = join(dir, 'small.txt');
    writeFileSync(small, 'hello over sftp\n');
    const fetched = join(dir, 'fetched.txt');
    const batch = [
      `mkdir ${work}`,
      `put ${small} ${work}/a.txt`,
      `rename ${work}/a.txt ${work}/b.txt`,
      `chmod 600 ${work}/b.txt`,
      `ls -l ${work}`,
      `get ${work}/b.txt ${fetched}`,
      `-get ${work}/nope.txt ${join(dir, 'nope.txt')}`,
      `rm ${work}/b.txt`,
      `rmdir ${work}`,
    ].join('\n');
    const ended = h.endedSession((ev) => ofType(ev, 'command.completed').length > 0);
    const r = await ssh.sftp('web@127.0.0.1', `${batch}\n`, { token: await h.token() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(fetched, 'utf8'), 'hello over sftp\n');
    assert.equal(existsSync(work), false);

    const ops = fileOps(await ended).filter((o) => o.op !== 'stat' && o.op !== 'extended');
    const summary = ops.map((o) => [o.op, o.path, o.toPath ?? null, o.bytes ?? null, o.outcome]);
    assert.deepEqual(summary, [
      ['mkdir', work, null, null, 'ok'],
      ['open', `${work}/a.txt`, null, null, 'ok'],
      ['write', `${work}/a.txt`, null, 16, 'ok'],
      ['close', `${work}/a.txt`, null, null, 'ok'],
      ['rename', `${work}/a.txt`, `${work}/b.txt`, null, 'ok'],
      ['setstat', `${work}/b.txt`, null, null, 'ok'],
      ['list', `${work}/`, null, null, 'ok'],
      ['open', `${work}/b.txt`, null, null, 'ok'],
      ['read', `${work}/b.txt`, null, 16, 'ok'],
      ['close', `${work}/b.txt`, null, null, 'ok'],
      ['remove', `${work}/b.txt`, null, null, 'ok'],
      ['rmdir', work, null, null, 'ok'],
    ]);
    const stats = fileOps(await h.events((await ended)[0]!.sessionId)).filter((o) => o.op === 'stat');
    assert.ok(stats.some((o) => o.path === `${work}/nope.txt` && o.outcome === 'error' && o.status === 'NO_SUCH_FILE'), 'a failed operation is recorded with its status');
  });
});

describe('sftp rights', () => {
  let readOnly: GatewayHarness;
  let client: OpenSsh;
  before(async () => {
    readOnly = await GatewayHarness.start({ ssh: true, rules: [{ name: 'fetch-only', issuers: ['dev'], repository: 'acme/payments', targets: ['web'], rights: ['sftp-read'] }] });
    client = readOnly.openssh();
  });
  after(async () => {
    await readOnly.stop();
  });

  it('lets a read-only job download, refuses its writes with PERMISSION_DENIED, and records them', async () => {
    const small = join(dir, 'ro.txt');
    writeFileSync(small, 'read me\n');
    const target = join(dir, 'ro-put.txt');
    const ended = readOnly.endedSession((ev) => ofType(ev, 'command.completed').length > 0);
    const r = await client.sftp('web@127.0.0.1', `get ${small} ${join(dir, 'ro-got.txt')}\n-put ${small} ${target}\n-rm ${small}\n-mkdir ${join(dir, 'ro-dir')}\n`, { token: await readOnly.token() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(dir, 'ro-got.txt'), 'utf8'), 'read me\n');
    assert.equal(existsSync(target), false);
    assert.equal(existsSync(small), true);
    assert.match(r.stderr, /Permission denied|needs the sftp-write right/);
    const denied = fileOps(await ended).filter((o) => o.outcome === 'denied');
    assert.deepEqual(
      denied.map((o) => [o.op, o.path, o.needs]),
      [
        ['open', target, ['sftp-write']],
        ['remove', small, ['sftp-write']],
        ['mkdir', join(dir, 'ro-dir'), ['sftp-write']],
      ],
    );
  });

  it('refuses a legacy scp upload (an exec of scp -t) to a read-only job', async () => {
    const small = join(dir, 'ro2.txt');
    writeFileSync(small, 'x');
    const ended = readOnly.endedSession((ev) => ofType(ev, 'command.completed').length > 0);
    const r = await client.scp([small, `web@127.0.0.1:${join(dir, 'ro2-up.txt')}`], { token: await readOnly.token(), options: ['-O'] });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /needs the exec or sftp-write right/);
    assert.equal(ofType(await ended, 'command.completed')[0]!.data.outcome, 'denied');
    assert.equal(existsSync(join(dir, 'ro2-up.txt')), false);
    assert.ok(statSync(small).size === 1);
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 3 });
