/**
 * The README's quick start, as a newcomer runs it: the built CLI, `trailgate up --dev` with the
 * example configuration, a token from `trailgate token`, real psql, then `sessions` and `events`.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLI, stopProcess, upDev } from '../support/trailgate-up.js';

const exec = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
const cli = CLI;
let dir: string;
let config: string;
let gateway: ChildProcess;
let port: number;
let replayUrl: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trailgate-quickstart-'));
  config = join(dir, 'trailgate.yaml');
  copyFileSync(join(repo, 'trailgate.yaml'), config);
  // Port 0: the example's fixed 6432 may be taken on a developer machine.
  writeFileSync(config, readFileSync(config, 'utf8').replace('port: 6432', 'port: 0').replace('port: 6480', 'port: 0'));
  let out: string;
  ({ child: gateway, port, out } = await upDev(config, dir));
  const replay = /replay\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
  assert.ok(replay, `trailgate up serves the replay UI:\n${out}`);
  assert.equal(out.match(/^ {2}targets /gm)?.length, 1, `trailgate up names its targets on one line:\n${out}`);
  replayUrl = replay[1]!;
});

after(async () => {
  await stopProcess(gateway);
  rmSync(dir, { recursive: true, force: true });
});

async function trailgate(...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [cli, '--config', config, ...args], { cwd: dir });
  return stdout;
}

describe('quick start', () => {
  it('takes a newcomer from nothing to a recorded psql session', async () => {
    const token = (await trailgate('token', '--repository', 'acme/payments', '--workflow', 'deploy')).trim();
    assert.equal(token.split('.').length, 3);
    const { stdout } = await exec('psql', ['-X', '-At', `host=127.0.0.1 port=${port} dbname=demo user=ci sslmode=require`, '-c', 'select service, version from deployments'], {
      env: { ...process.env, PGPASSWORD: token },
    });
    assert.equal(stdout.trim(), 'payments|v1.0.0');

    const sessions = (await trailgate('sessions', '--json')).trim().split('\n').map((l) => JSON.parse(l));
    const mine = sessions.find((s) => s.context.identity?.ci.repository === 'acme/payments' && s.commands === 1);
    assert.ok(mine, 'the session is listed with its repository');
    assert.equal(mine.context.target.name, 'demo');

    const table = await trailgate('sessions');
    assert.match(table.split('\n')[0]!, /^SESSION\s+STARTED\s+TARGET\s+REPOSITORY/);
    assert.ok(table.includes(mine.sessionId));

    const events = (await trailgate('events', mine.sessionId.slice(0, 18), '--json')).trim().split('\n').map((l) => JSON.parse(l));
    const types = events.map((e) => e.type);
    assert.deepEqual(types.slice(0, 4), ['session.started', 'auth.decided', 'policy.decided', 'target.connected']);
    assert.deepEqual(events[2].data.matched, [{ rule: 'dev-demo', rights: ['all'] }]);
    const cmd = events.find((e) => e.type === 'command.started');
    assert.equal(cmd.data.text, 'select service, version from deployments');
    assert.equal(cmd.identity.ci.workflow, 'deploy');
    assert.ok(events.some((e) => e.type === 'command.completed' && e.data.rows === 1));
    assert.ok(!JSON.stringify(events).includes(token));
  });

  it('proves the recorded session whole with the keys published at first start', async () => {
    const jwks = JSON.parse(await trailgate('keys', 'jwks')) as { keys: { kid: string; kty: string; crv: string }[] };
    assert.equal(jwks.keys.length, 1);
    assert.deepEqual([jwks.keys[0]!.kty, jwks.keys[0]!.crv], ['OKP', 'Ed25519']);
    const trusted = join(dir, 'trusted-jwks.json');
    writeFileSync(trusted, JSON.stringify(jwks));
    // The final signature follows the session's end by one signing; wait for it, boundedly.
    let listed: { sessionId: string; sealed: boolean }[] = [];
    for (let i = 0; i < 100 && !(listed.length && listed.every((s) => s.sealed)); i++) {
      listed = (await trailgate('sessions', '--json')).trim().split('\n').map((l) => JSON.parse(l));
    }
    assert.ok(listed.length > 0 && listed.every((s) => s.sealed), 'every ended session is sealed');
    const out = await trailgate('verify', '--all', '--jwks', trusted);
    assert.match(out, new RegExp(`OK: ${listed.length} session\\(s\\) intact`));
  });

  it('serves the replay UI with the development admin token, whose value it never prints', async () => {
    const token = readFileSync(join(dir, '.trailgate', 'replay', 'dev-admin.token'), 'utf8').trim();
    const me = await fetch(`${replayUrl}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(await me.json(), { name: 'dev-admin', roles: ['admin'], via: 'token' });
    const { sessions } = (await (await fetch(`${replayUrl}/api/sessions?q=deployments`, { headers: { authorization: `Bearer ${token}` } })).json()) as { sessions: { context: { target: { name: string } } }[] };
    assert.ok(sessions.some((s) => s.context.target.name === 'demo'));
    assert.equal((await fetch(`${replayUrl}/api/sessions`)).status, 401);
  });

  it('explains the policy for a token, for an operator debugging a refused job', async () => {
    const token = (await trailgate('token', '--repository', 'acme/payments')).trim();
    const granted = await trailgate('policy', 'explain', '--target', 'demo', '--dev', '--token', token);
    assert.match(granted, /token verified/);
    assert.match(granted, /target 'demo': granted all/);
    assert.match(granted, /granted by rule 'dev-demo'/);
    const denied = await trailgate('policy', 'explain', '--target', 'orders', '--dev', '--token', token);
    assert.match(denied, /target 'orders': denied/);
    assert.match(denied, /rule 'dev-demo' did not apply: target 'orders' is not one of \[demo\]/);
  });

  it('refuses to mint tokens where the development issuer was never enabled', async () => {
    const other = mkdtempSync(join(tmpdir(), 'trailgate-prod-'));
    try {
      writeFileSync(join(other, 'trailgate.yaml'), 'dataDir: data\n');
      await assert.rejects(exec(process.execPath, [cli, '--config', join(other, 'trailgate.yaml'), 'token']), (e: { stderr: string; code: number }) => {
        assert.equal(e.code, 1);
        assert.match(e.stderr, /development issuer is not enabled/);
        return true;
      });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('names the offending key when the configuration is invalid', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'postgres:\n  listen:\n    port: "six"\ntargets:\n  orders:\n    host: db\n    database: orders\n    user: ci\n    tls: maybe\nunknownKey: 1\n');
    await assert.rejects(exec(process.execPath, [cli, '--config', bad, 'up']), (e: { stderr: string }) => {
      assert.match(e.stderr, /postgres\.listen\.port/);
      assert.match(e.stderr, /targets\.orders\.tls/);
      assert.match(e.stderr, /unknownKey/);
      return true;
    });
  });
});
