import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** Starts the HEC stand-in (tests/services/hec-standin.ts) in its own process; resolves with its URL and token. */
export async function startHecStandIn(repo: string, args: string[] = []): Promise<{ url: string; token: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'tests/services/hec-standin.ts'), ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'ignore'] });
  const text = await new Promise<string>((ok, fail) => {
    let t = '';
    child.stdout!.on('data', (d: Buffer) => {
      t += d.toString();
      if (/TG_HEC_TOKEN=\S+\n/.test(t)) ok(t);
    });
    child.once('exit', (code) => fail(new Error(`the HEC stand-in exited with ${code}`)));
  });
  return { url: /TG_HEC_URL=(\S+)/.exec(text)![1]!, token: /TG_HEC_TOKEN=(\S+)/.exec(text)![1]!, stop: () => child.kill('SIGTERM') };
}
