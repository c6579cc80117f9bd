/**
 * Runs one fuzz target inside a worker thread: before each input it bumps a shared counter and copies
 * the input where the watchdog can read it, so a hang is caught and named even if this thread never returns.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { chunkCuts, loadCorpus, mutatedSeeds } from './mutate.js';
import { FuzzViolation, targetNamed } from './targets.js';

export interface WorkerJob {
  target: string;
  runs: number;
  seed: number;
  /** Int32Array view: [0] inputs started, [1] length of the current input; the bytes follow at offset 8. */
  shared: SharedArrayBuffer;
  /** A directory the target may write to; the caller removes it. */
  scratch: string;
}

export interface WorkerReport {
  target: string;
  inputs: number;
  corpus: number;
  expectedErrors: number;
  failure?: { input: string; cuts: number[]; error: string; seed: number; path?: string };
}

/** Runs the job in this thread; the worker entry below calls it, and so does the in-process coverage run. */
export async function fuzz(job: WorkerJob): Promise<WorkerReport> {
  const counters = new Int32Array(job.shared, 0, 2);
  const inputBytes = new Uint8Array(job.shared, 8);
  const target = targetNamed(job.target);
  let expectedErrors = 0;

  function started(input: Buffer): void {
    const n = Math.min(input.length, inputBytes.length);
    inputBytes.set(input.subarray(0, n));
    Atomics.store(counters, 1, input.length);
    Atomics.add(counters, 0, 1);
  }

  async function once(input: Buffer, cuts: number[]): Promise<void> {
    started(input);
    try {
      await target.run(input, cuts);
    } catch (err) {
      if (err instanceof FuzzViolation || !target.expected(err)) throw err;
      expectedErrors++;
    }
  }

  const describe = (err: unknown) => (err instanceof Error ? `${err.constructor.name}: ${err.message}`.slice(0, 2000) + (err.stack ? `\n${err.stack.split('\n').slice(1, 6).join('\n')}` : '') : String(err));

  async function main(): Promise<WorkerReport> {
    await target.setup?.(job.scratch);
    const seeds = loadCorpus(target.corpus ?? target.name);
    // The whole corpus first, unmutated and cut both ways.
    for (const s of seeds) {
      for (const cuts of [[], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [3, 7]]) {
        try {
          await once(s.bytes, cuts);
        } catch (err) {
          return { target: target.name, inputs: Atomics.load(counters, 0), corpus: seeds.length, expectedErrors, failure: { input: s.bytes.toString('hex'), cuts, error: `corpus ${s.name}: ${describe(err)}`, seed: job.seed } };
        }
      }
    }
    const arb = fc.tuple(fc.oneof(target.structured, mutatedSeeds(seeds.map((s) => s.bytes))), chunkCuts);
    const result = await fc.check(
      fc.asyncProperty(arb, async ([input, cuts]) => {
        await once(input, cuts);
      }),
      { numRuns: job.runs, seed: job.seed, endOnFailure: false, maxSkipsPerRun: 0 },
    );
    const report: WorkerReport = { target: target.name, inputs: Atomics.load(counters, 0), corpus: seeds.length, expectedErrors };
    if (result.failed && result.counterexample) {
      const [input, cuts] = result.counterexample[0];
      report.failure = { input: input.toString('hex'), cuts, error: describe(result.errorInstance), seed: job.seed, ...(result.counterexamplePath ? { path: result.counterexamplePath } : {}) };
    }
    return report;
  }

  return main();
}

if (!isMainThread && parentPort) {
  // The YAML parser warns on stderr about unknown tags; fuzzed configs have thousands of them.
  process.removeAllListeners('warning');
  fuzz(workerData as WorkerJob).then(
    (report) => parentPort!.postMessage(report),
    (err: unknown) => {
      throw err;
    },
  );
}
