/**
 * A second real sshd beside the one tests/services/sshd.sh started, with a setting of its own (such as
 * AcceptEnv): same host key and authorized gateway key, its own port and config, stopped by the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sshService } from './test-env.js';

export interface SshdVariant {
  port: number;
  /** The listening sshd's process id (its sessions are its descendants). */
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once the port answers with an SSH banner, or fails after `ms`. */
async function banner(port: number, child: ChildProcess, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (let attempt = 0; attempt < 200 && Date.now() < deadline; attempt++) {
    if (child.exitCode !== null) throw new Error(`sshd exited with status ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('SSH-'));
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sshd did not answer on port ${port} within ${ms} ms`);
}

/** Starts `/usr/sbin/sshd -D` with the given AcceptEnv (e.g. `*`, or `LANG`). */
export async function startSshdVariant(acceptEnv: string): Promise<SshdVariant> {
  const base = sshService();
  const state = dirname(base.keyFile);
  const dir = mkdtempSync(join(tmpdir(), 'trailgate-sshd-'));
  const port = await freePort();
  const original = readFileSync(join(state, 'sshd_config'), 'utf8');
  const config = original
    .split('\n')
    .filter((line) => !/^(ListenAddress|PidFile|AcceptEnv)\b/.test(line))
    .concat([`ListenAddress 127.0.0.1:${port}`, `PidFile ${join(dir, 'sshd.pid')}`, `AcceptEnv ${acceptEnv}`])
    .join('\n');
  writeFileSync(join(dir, 'sshd_config'), `${config}\n`);
  const child = spawn('/usr/sbin/sshd', ['-D', '-f', join(dir, 'sshd_config'), '-E', join(dir, 'sshd.log')], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await banner(port, child, 15_000);
  } catch (err) {
    const log = (() => {
      try {
        return readFileSync(join(dir, 'sshd.log'), 'utf8');
      } catch {
        return '';
      }
    })();
    await stop();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return { port, pid: child.pid!, stop };
}
