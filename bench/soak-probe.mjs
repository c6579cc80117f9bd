// Loaded into each soaked Trailgate process with `--import`: every TG_SOAK_PROBE_MS it writes its RSS,
// heap and event-loop delay (p99 and max since the last line) to $TG_SOAK_PROBE_DIR/<pid>.json, so the
// soak can read processes it did not start itself. Used by bench/soak.sh.
import { writeFileSync, renameSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import process from 'node:process';
import { setInterval } from 'node:timers';

const dir = process.env.TG_SOAK_PROBE_DIR;
if (dir) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const file = `${dir}/${process.pid}.json`;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    const line = { ts: Date.now(), rss: m.rss, heapUsed: m.heapUsed, external: m.external, loopP99Ms: delay.percentile(99) / 1e6, loopMaxMs: delay.max / 1e6 };
    delay.reset();
    // Written under another name and renamed: the reader never sees half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(line));
    renameSync(`${file}.tmp`, file);
  }, Number(process.env.TG_SOAK_PROBE_MS ?? 10_000));
  timer.unref();
}
