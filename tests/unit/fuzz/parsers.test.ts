/**
 * A short fuzz run of every parser that reads untrusted input, with its seed corpus: no crash (only the
 * module's documented errors), no hang, no memory blow-up. bench/fuzz.sh runs the same targets for longer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runTarget, type FuzzOutcome } from '../../fuzz/run-target.js';
import { TARGETS } from '../../fuzz/targets.js';

const RUNS = Number(process.env.TRAILGATE_FUZZ_RUNS ?? 2000);
// A fixed seed keeps CI reproducible; set TRAILGATE_FUZZ_SEED to explore elsewhere.
const SEED = Number(process.env.TRAILGATE_FUZZ_SEED ?? 20261201);

function explain(o: FuzzOutcome): string {
  if (o.hang) return `hang after ${o.hang.ms} ms on input (${o.hang.inputLength} bytes, hex): ${o.hang.input.slice(0, 400)}`;
  if (o.crashed) return `worker died: ${o.crashed}`;
  if (o.failure) return `${o.failure.error}\ninput (hex): ${o.failure.input.slice(0, 400)}\ncuts: ${JSON.stringify(o.failure.cuts)}\nreplay with TRAILGATE_FUZZ_SEED=${o.failure.seed}`;
  return 'ok';
}

// Each target runs in its own worker, so two at a time use both cores of a small CI machine.
describe('fuzzing the parsers of untrusted input', { concurrency: 2 }, () => {
  for (const target of TARGETS) {
    test(`${target.name}: ${RUNS} generated and mutated inputs plus the corpus, none crashes or hangs`, async () => {
      const o = await runTarget(target.name, { runs: RUNS, seed: SEED });
      assert.equal(explain(o), 'ok');
      assert.ok(o.corpus > 0, 'the target has a seed corpus');
      assert.ok(o.inputs >= RUNS + o.corpus, `ran ${o.inputs} inputs`);
    });
  }
});

describe('the fuzz watchdog', () => {
  test('names the input that never returns', async () => {
    const o = await runTarget('self-test-hang', { runs: 50, seed: 1, hangMs: 1000 });
    assert.ok(o.hang, explain(o));
    assert.ok(o.hang.inputLength > 4);
  });
  test('reports a target whose memory grows without bound', async () => {
    const o = await runTarget('self-test-memory', { runs: 5, seed: 1, heapMb: 64, hangMs: 60_000 });
    assert.match(o.crashed ?? '', /memory|ERR_WORKER_OUT_OF_MEMORY/i, explain(o));
  });
  test('reports an exception the module does not document, with the shrunk input', async () => {
    const o = await runTarget('self-test-throw', { runs: 100, seed: 1 });
    assert.match(o.failure?.error ?? '', /TypeError: not a documented refusal/);
    assert.equal(o.failure?.input.length, 6, 'shrunk to the smallest failing input (3 bytes)');
  });
});
