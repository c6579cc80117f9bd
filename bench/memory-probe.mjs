// Loaded into a benchmarked Node process with `--import`: on SIGUSR2 it collects garbage (with
// --expose-gc) and writes process.memoryUsage() and V8's heap spaces to $TG_BENCH_MEMORY_FILE, so a
// benchmark can read the heap of a process it did not start itself; with TG_BENCH_HEAP_SNAPSHOT_DIR it
// also writes a heap snapshot at the readings listed in TG_BENCH_HEAP_SNAPSHOT_AT (e.g. 3,4). Used by
// bench/idle-sessions.sh.
import { writeFileSync, renameSync } from 'node:fs';
import process from 'node:process';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

const file = process.env.TG_BENCH_MEMORY_FILE;
if (file) {
  let n = 0;
  process.on('SIGUSR2', () => {
    n += 1;
    globalThis.gc?.();
    globalThis.gc?.();
    const at = (process.env.TG_BENCH_HEAP_SNAPSHOT_AT ?? '').split(',').map(Number);
    const snapshot = process.env.TG_BENCH_HEAP_SNAPSHOT_DIR && at.includes(n)
      ? writeHeapSnapshot(`${process.env.TG_BENCH_HEAP_SNAPSHOT_DIR}/gateway-${n}.heapsnapshot`)
      : undefined;
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
    // Written under another name and renamed: the reader never sees half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify({ n, gc: typeof globalThis.gc === 'function', ...process.memoryUsage(), spaces, snapshot }));
    renameSync(`${file}.tmp`, file);
  });
}
