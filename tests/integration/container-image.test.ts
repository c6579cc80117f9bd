/**
 * The image built from the Dockerfile (tests/services/container.sh: buildah on a Node 20 bookworm base
 * made from Debian's packages, as no registry serves images here), run with podman: `--version`, then
 * a gateway in the container as the non-root user with the data directory as a volume, reached by the
 * pg driver; SIGTERM stops it cleanly and the host's CLI verifies what it recorded.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { DevIssuer } from '../../services/dev/dev-issuer.js';
import { eventually } from '../support/kafka-env.js';
import { postgresService, requiredEnv } from '../support/test-env.js';

const exec = promisify(execFile);
const cli = resolve(import.meta.dirname, '../../bin/trailgate.js');
const image = requiredEnv('TRAILGATE_IMAGE');
// This machine (no systemd, cgroups v1/v2 hybrid) needs runc (crun refuses hybrid cgroups), cgroupfs,
// and limits at or below the host's: podman's defaults would raise them, which the kernel refuses.
const store = ['--root', requiredEnv('TRAILGATE_CONTAINER_STORAGE'), '--runroot', requiredEnv('TRAILGATE_CONTAINER_RUNROOT'), '--storage-driver', requiredEnv('TRAILGATE_CONTAINER_DRIVER'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime', 'runc'];
const LIMITS = ['--ulimit', 'nofile=16384:16384', '--ulimit', 'nproc=4096:4096'];
const dirs: string[] = [];
const containers: string[] = [];

after(async () => {
  for (const c of containers) await exec('podman', [...store, 'rm', '-f', c]).catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function podman(...args: string[]) {
  return exec('podman', [...store, ...args], { maxBuffer: 16 * 1024 * 1024 });
}

function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => r(port));
    });
  });
}

describe('the container image', () => {
  it('runs the CLI as its entrypoint, as a non-root user', async () => {
    const { stdout } = await podman('run', '--rm', ...LIMITS, image, '--version');
    assert.equal(stdout.trim(), JSON.parse((await exec('npm', ['pkg', 'get', 'version'])).stdout));
    const { stdout: id } = await podman('run', '--rm', ...LIMITS, '--entrypoint', 'id', image);
    assert.match(id, /^uid=10001\(trailgate\) gid=10001\(trailgate\)/);
  });

  it('runs a gateway that records a pg session to its volume and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-image-'));
    dirs.push(dir);
    const data = join(dir, 'data');
    mkdirSync(data);
    chownSync(data, 10001, 10001);
    const issuer = await DevIssuer.openOrCreate(join(dir, 'issuer'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(issuer.jwks()));
    const pgs = postgresService();
    const [port, metricsPort] = [await freePort(), await freePort()];
    const inContainer = (host: string) => ({
      dataDir: host,
      instance: 'gw-image',
      identity: { issuers: [{ ...issuer.issuerConfig(), jwksFile: '/etc/trailgate/jwks.json' }] },
      postgres: { listen: { host: '127.0.0.1', port } },
      targets: { app: { host: pgs.host, port: pgs.port, database: pgs.database, user: pgs.appUser, password: { env: 'TG_PG_APP_PASSWORD' } } },
      policy: { rules: [{ name: 'tests', issuers: ['dev'], subject: '**', targets: ['app'], rights: ['all'] }] },
      metrics: { host: '127.0.0.1', port: metricsPort },
      shutdown: { drainSeconds: 5, spoolFlushSeconds: 1 },
    });
    writeFileSync(join(dir, 'trailgate.json'), JSON.stringify(inContainer('/var/lib/trailgate')));
    writeFileSync(join(dir, 'host.json'), JSON.stringify(inContainer(data)));

    // The host's loopback is the container's (host network), and nothing listens elsewhere.
    const name = `trailgate-test-${process.pid}`;
    containers.push(name);
    const run = spawn('podman', [...store, 'run', '--rm', ...LIMITS, '--name', name, '--network', 'host', '--read-only', '--tmpfs', '/tmp',
      '-e', `TG_PG_APP_PASSWORD=${pgs.appPassword}`,
      '-v', `${data}:/var/lib/trailgate`, '-v', `${join(dir, 'trailgate.json')}:/etc/trailgate/trailgate.json:ro`, '-v', `${join(dir, 'jwks.json')}:/etc/trailgate/jwks.json:ro`,
      image, '--config', '/etc/trailgate/trailgate.json', 'gateway'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    run.stdout.on('data', (d: Buffer) => (out += d.toString()));
    run.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => run.once('exit', (code) => r(code)));
    await eventually(async () => {
      if (run.exitCode !== null) throw new Error(`the container exited:\n${out}`);
      return (await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => null))?.status === 200;
    }, 'the gateway in the container to be ready');

    const client = new pg.Client({ host: '127.0.0.1', port, database: 'app', user: 'ci', password: await issuer.mint({ repository: 'acme/image' }) });
    await client.connect();
    const { rows } = await client.query<{ via: string }>("select 'through the image' as via");
    assert.equal(rows[0]!.via, 'through the image');
    await client.end();

    await podman('stop', '--time', '30', name);
    assert.equal(await exited, 0, out);
    assert.match(out, /trailgate gateway gw-image is up/);

    const verify = await exec(process.execPath, [cli, '--config', join(dir, 'host.json'), 'verify', '--all']).catch((err: { stdout: string }) => err);
    assert.match(verify.stdout, /intact/);
    const sessions = (await exec(process.execPath, [cli, '--config', join(dir, 'host.json'), 'sessions', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { commands: number; sealed: boolean });
    assert.deepEqual(sessions.map((s) => [s.commands, s.sealed]), [[1, true]]);
  });
});
