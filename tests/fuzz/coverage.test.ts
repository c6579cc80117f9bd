/**
 * The fuzz targets run in this process (no worker), so `node --experimental-test-coverage` sees which
 * lines of the parsers the inputs reach. Run by bench/fuzz.sh; not part of the test suite.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TARGETS } from './targets.js';
import { fuzz } from './worker.js';

const RUNS = Number(process.env.TRAILGATE_FUZZ_RUNS ?? 20_000);

for (const target of TARGETS) {
  test(`${target.name}: coverage of ${RUNS} inputs`, async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'trailgate-fuzz-'));
    const report = await fuzz({ target: target.name, runs: RUNS, seed: Number(process.env.TRAILGATE_FUZZ_SEED ?? 1), shared: new SharedArrayBuffer(8 + 256 * 1024), scratch }).finally(() => rmSync(scratch, { recursive: true, force: true }));
    assert.equal(report.failure, undefined, JSON.stringify(report.failure));
  });
}
