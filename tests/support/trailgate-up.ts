import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

/** The built CLI, as users run it. */
export const CLI = join(resolve(import.meta.dirname, '../..'), 'bin/trailgate.js');

export interface RunningUp {
  child: ChildProcess;
  port: number;
  /** Everything it printed up to readiness. */
  out: string;
}

/** Starts `trailgate up --dev` with a configuration and resolves once it says where it listens. */
export function upDev(config: string, cwd: string): Promise<RunningUp> {
  return new Promise((resolveUp, reject) => {
    const child = spawn(process.execPath, [CLI, '--config', config, 'up', '--dev'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`trailgate up did not report readiness:\n${out}`)), 120_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /postgres\s+127\.0\.0\.1:(\d+)/.exec(out);
      if (m && out.includes('try it:')) {
        clearTimeout(timer);
        resolveUp({ child, port: Number(m[1]), out });
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`trailgate up exited (${code ?? signal}):\n${out}`));
    });
  });
}

/** Stops a process and waits for it to be gone. */
/**
 * Spawns a role of the built CLI (`gateway`, `forwarder`, `replay`, ...) and resolves once its output
 * matches `ready`; `spawned` sees the child at once, so a caller can clean it up even when it never
 * gets ready.
 */
export function startRole(args: string[], ready: RegExp, spawned?: (child: ChildProcess) => void): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolveRole, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    spawned?.(child);
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not report readiness:\n${out}`)), 120_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveRole({ child, match: m });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code ?? signal}:\n${out}`));
    });
  });
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}
