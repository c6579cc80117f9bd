/**
 * Runs a fuzz target in a worker under a watchdog: an input that makes no progress for `hangMs` is a
 * hang, a worker that exceeds its heap is a memory blow-up; either ends the run and names the input.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WorkerJob, WorkerReport } from './worker.js';

export interface FuzzOutcome extends WorkerReport {
  ms: number;
  hang?: { input: string; inputLength: number; ms: number };
  crashed?: string;
}

export interface RunOptions {
  runs: number;
  seed: number;
  /** No new input started within this time means the current one hangs. */
  hangMs?: number;
  heapMb?: number;
}

/** Bytes of the current input kept for the report of a hang (longer inputs are cut). */
const SHARED_INPUT_BYTES = 256 * 1024;

export function runTarget(target: string, o: RunOptions): Promise<FuzzOutcome> {
  const shared = new SharedArrayBuffer(8 + SHARED_INPUT_BYTES);
  const counters = new Int32Array(shared, 0, 2);
  const scratch = mkdtempSync(join(tmpdir(), 'trailgate-fuzz-'));
  const job: WorkerJob = { target, runs: o.runs, seed: o.seed, shared, scratch };
  const begun = performance.now();
  // Workers do not inherit the TypeScript loader on Node 20: register tsx in the worker before importing it.
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`;
  const worker = new Worker(bootstrap, {
    eval: true,
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: o.heapMb ?? 512 },
  });
  const hangMs = o.hangMs ?? 10_000;
  return new Promise((resolve) => {
    let settled = false;
    let seen = -1;
    let since = performance.now();
    const finish = (outcome: Omit<FuzzOutcome, 'ms' | 'target'>) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate().finally(() => rmSync(scratch, { recursive: true, force: true }));
      resolve({ target, ms: Math.round(performance.now() - begun), ...outcome });
    };
    const watchdog = setInterval(() => {
      const n = Atomics.load(counters, 0);
      if (n !== seen) {
        seen = n;
        since = performance.now();
        return;
      }
      const stuck = performance.now() - since;
      // Before the first input the worker is loading TypeScript and the target's setup: a looser bound.
      if (stuck < (n === 0 ? Math.max(hangMs, 120_000) : hangMs)) return;
      const length = Atomics.load(counters, 1);
      const bytes = Buffer.from(new Uint8Array(shared, 8, Math.min(length, SHARED_INPUT_BYTES)));
      finish({ inputs: n, corpus: 0, expectedErrors: 0, hang: { input: bytes.toString('hex'), inputLength: length, ms: Math.round(stuck) } });
    }, 100);
    worker.on('message', (report: WorkerReport) => finish(report));
    worker.on('error', (err) => finish({ inputs: Atomics.load(counters, 0), corpus: 0, expectedErrors: 0, crashed: `${err.name}: ${err.message}` }));
    worker.on('exit', (code) => finish({ inputs: Atomics.load(counters, 0), corpus: 0, expectedErrors: 0, crashed: `worker exited with code ${code} before reporting` }));
  });
}
