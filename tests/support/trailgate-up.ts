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
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}
