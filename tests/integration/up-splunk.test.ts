/**
 * `trailgate up` with a `splunk:` section: the one-machine setup also runs the Splunk forwarder on
 * its own position, so a statement run through the gateway reaches the HEC STAND-IN
 * (tests/services/hec-standin.ts, written to Splunk's documented HEC protocol; not Splunk).
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { eventually } from '../support/kafka-env.js';
import { CLI, stopProcess } from '../support/trailgate-up.js';
import { HecStandIn } from '../services/hec-standin.js';

const exec = promisify(execFile);
let dir: string;
let standIn: HecStandIn;
let token: string;
let up: ChildProcess;
let out = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trailgate-up-splunk-'));
  standIn = await HecStandIn.start({ tls: true });
  token = standIn.addToken();
  writeFileSync(join(dir, 'hec-ca.pem'), standIn.certificate!);
  writeFileSync(join(dir, 'hec.token'), `${token}\n`);
  const config = join(dir, 'trailgate.yaml');
  writeFileSync(config, JSON.stringify({ dataDir: join(dir, 'data'), postgres: { listen: { host: '127.0.0.1', port: 0 } }, replay: { listen: { host: '127.0.0.1', port: 0 } }, splunk: { url: standIn.url, token: { file: join(dir, 'hec.token') }, caFile: join(dir, 'hec-ca.pem'), ackPollMs: 200 } }));
  up = spawn(process.execPath, [CLI, '--config', config, 'up', '--dev'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await eventually(() => out.includes('try it:') || up.exitCode !== null, 'trailgate up to be ready', 120_000);
  assert.ok(out.includes('try it:'), out);
});

after(async () => {
  await stopProcess(up);
  await standIn.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('trailgate up with a splunk section', () => {
  it('forwards what the gateway records to HEC, over TLS with the configured CA, and never prints the token', async () => {
    assert.match(out, /forwarder\s+splunk https:\/\/127\.0\.0\.1:\d+ \(ack required\)/);
    const port = Number(/postgres\s+127\.0\.0\.1:(\d+)/.exec(out)![1]);
    const dev = (await exec(process.execPath, [CLI, '--config', join(dir, 'trailgate.yaml'), 'token', '--repository', 'acme/splunk'], { cwd: dir })).stdout.trim();
    await exec('psql', ['-X', '-At', `host=127.0.0.1 port=${port} dbname=demo user=ci sslmode=require`, '-c', 'select service from deployments'], { env: { ...process.env, PGPASSWORD: dev } });
    await eventually(() => standIn.received.some((r) => (r.envelope.event as { data?: { text?: string } }).data?.text === 'select service from deployments'), 'the statement to reach the stand-in');
    const started = standIn.received.find((r) => (r.envelope.event as { data?: { text?: string } }).data?.text === 'select service from deployments')!;
    assert.equal((started.envelope.event as { identity: { ci: { repository: string } } }).identity.ci.repository, 'acme/splunk');
    assert.ok(!out.includes(token), 'the token is not in the output');
  });
});
