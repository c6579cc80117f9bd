import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One running gateway per instance name and data directory: a restarted gateway aborts the sessions
 * its instance left unsealed, which would be wrong while another process still serves them.
 */
export class InstanceLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string, instance: string): InstanceLock {
    const file = join(dataDir, `gateway-${instance.replace(/[^A-Za-z0-9_.-]/g, '_')}.pid`);
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new Error(`TG_INSTANCE_RUNNING: gateway instance '${instance}' already runs as process ${pid} on ${dataDir}; stop it or give this gateway another \`instance\` name`);
      }
      // The previous owner is gone (crash, SIGKILL): its lock is stale.
      writeFileSync(file, `${process.pid}\n`, { mode: 0o644 });
    }
    return new InstanceLock(file);
  }

  release(): void {
    try {
      rmSync(this.file, { force: true });
    } catch (err) {
      // A read-only or failing disk keeps the file; the next start finds its process gone and takes it over.
      console.error(`trailgate: the instance lock ${this.file} could not be removed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
