// Loaded into each soaked Trailgate process with `--import`: every TG_SOAK_PROBE_MS it writes its RSS,
// heap and event-loop delay (p99 and max since the last line) to $TG_SOAK_PROBE_DIR/<pid>.json, so the
// soak can read processes it did not start itself. With `--expose-gc`, once every TG_SOAK_GC_MS (60 s)
// it also collects garbage first and writes the heap still in use after it (liveHeap): heapUsed at an
// arbitrary moment swings by the garbage not yet collected. Used by bench/soak.sh.
import { writeFileSync, renameSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import process from 'node:process';
import { setInterval } from 'node:timers';

const dir = process.env.TG_SOAK_PROBE_DIR;
if (dir) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const file = `${dir}/${process.pid}.json`;
  const gcEvery = Number(process.env.TG_SOAK_GC_MS ?? 60_000);
  const gc = globalThis.gc;
  let live = null;
  let lastGc = 0;
  const timer = setInterval(() => {
    const loop = { loopP99Ms: delay.percentile(99) / 1e6, loopMaxMs: delay.max / 1e6 };
    delay.reset();
    if (gc && Date.now() - lastGc >= gcEvery) {
      // The probe's own pause is left out of the event-loop delay: the monitor is off while it collects.
      delay.disable();
      const t0 = performance.now();
      gc();
      live = { liveHeap: process.memoryUsage().heapUsed, liveAt: Date.now(), gcMs: performance.now() - t0 };
      lastGc = Date.now();
      delay.enable();
    }
    const m = process.memoryUsage();
    const line = { ts: Date.now(), rss: m.rss, heapUsed: m.heapUsed, external: m.external, ...loop, ...live };
    // Written under another name and renamed: the reader never sees half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(line));
    renameSync(`${file}.tmp`, file);
  }, Number(process.env.TG_SOAK_PROBE_MS ?? 10_000));
  timer.unref();
}
