/**
 * The package as users install a Node CLI: `npm pack`, then `npm install -g` of the tarball into a
 * fresh prefix (from the local npm cache where it can), then that `trailgate`: `--version`,
 * `up --dev`, a token, real psql, and `verify --all` of the recorded session.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { stopProcess } from '../support/trailgate-up.js';

const exec = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
let dir: string;
let bin: string;
let files: string[];
let up: ChildProcess | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trailgate-pack-'));
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', dir], { cwd: repo, maxBuffer: 16 * 1024 * 1024 });
  const packed = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  files = packed[0]!.files.map((f) => f.path);
  const prefix = join(dir, 'prefix');
  // better-sqlite3 builds from source here (its prebuilt binaries are not reachable): through ccache, whose
  // cache in ~/.cache/trailgate makes every run after the first a matter of seconds.
  const ccache = { CC: 'ccache cc', CXX: 'ccache c++', CCACHE_DIR: join(homedir(), '.cache', 'trailgate', 'ccache') };
  await exec('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed[0]!.filename)], { cwd: dir, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...ccache } });
  bin = join(prefix, 'bin', 'trailgate');
});

after(async () => {
  if (up) await stopProcess(up);
  rmSync(dir, { recursive: true, force: true });
});

describe('npm pack and npm install -g', () => {
  it('ships the build, the launcher, the web assets and the pinned dependency tree, and nothing else', () => {
    const top = [...new Set(files.map((f) => (f.startsWith('dist/') ? f.split('/').slice(0, 2).join('/') : f.split('/')[0])))].sort();
    assert.deepEqual(top, ['README.md', 'bin', 'dist/connectors', 'dist/events', 'dist/services', 'npm-shrinkwrap.json', 'package.json', 'services']);
    assert.ok(files.includes('dist/services/cli/main.js'));
    assert.ok(files.includes('dist/services/cli/trailgate.js'), 'the bundled entry bin/trailgate.js runs');
    assert.ok(files.some((f) => /^dist\/services\/cli\/chunks\/sessions-command-[A-Z0-9]+\.js$/.test(f)), 'the bundled read commands');
    assert.ok(files.includes('services/replay/web/replay.js'), 'the replay page\'s own script');
    assert.ok(!files.some((f) => f.endsWith('.ts') || f.endsWith('.map') || f.startsWith('tests/')), 'no sources, maps or tests');
    assert.ok(!readdirSync(repo).includes('npm-shrinkwrap.json'), 'the shrinkwrap exists only inside the tarball');
  });

  it('gives a trailgate that runs up --dev, records a psql session and verifies it', async () => {
    const { stdout: version } = await exec(bin, ['--version']);
    assert.equal(version.trim(), JSON.parse((await exec('npm', ['pkg', 'get', 'version'], { cwd: repo })).stdout));

    const work = join(dir, 'work');
    const config = join(dir, 'trailgate.yaml');
    writeFileSync(config, `dataDir: ${work}\npostgres:\n  listen: { host: 127.0.0.1, port: 0 }\nreplay:\n  listen: { host: 127.0.0.1, port: 0 }\n`);
    const child = spawn(bin, ['--config', config, 'up', '--dev'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    up = child;
    const port = await new Promise<number>((resolvePort, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`the installed trailgate did not come up:\n${out}`)), 120_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        const m = /postgres\s+127\.0\.0\.1:(\d+)/.exec(out);
        if (m && out.includes('try it:')) {
          clearTimeout(timer);
          resolvePort(Number(m[1]));
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the installed trailgate exited (${code}):\n${out}`));
      });
    });
    const token = (await exec(bin, ['--config', config, 'token', '--repository', 'acme/packaged'])).stdout.trim();
    const { stdout } = await exec('psql', ['-X', '-At', `host=127.0.0.1 port=${port} dbname=demo user=ci sslmode=require`, '-c', 'select service from deployments limit 1'], { env: { ...process.env, PGPASSWORD: token } });
    assert.equal(stdout.trim(), 'payments');
    await stopProcess(child);
    up = undefined;

    const sessions = (await exec(bin, ['--config', config, 'sessions', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { context: { identity?: { ci: { repository?: string } } }; commands: number; sealed: boolean });
    const mine = sessions.find((s) => s.context.identity?.ci.repository === 'acme/packaged');
    assert.ok(mine && mine.commands === 1 && mine.sealed, 'the psql session is recorded and signed');
    const verify = await exec(bin, ['--config', config, 'verify', '--all']);
    assert.match(verify.stdout, /intact/);
  });
});
