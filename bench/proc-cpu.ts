/**
 * CPU time from /proc (Linux): a process's user+system seconds, this process's per thread, and the
 * whole machine's busy time, so that a benchmark can say where the cores went during a phase.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second of /proc's times (USER_HZ, 100 on Linux almost everywhere). */
const HZ = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a /proc/<pid>/stat or task stat line, in ms; null when the process is gone. */
function statMs(path: string): number | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / HZ;
}

/** CPU ms of process `pid` (all its threads), or null when it cannot be read. */
export function processCpuMs(pid: number): number | null {
  return statMs(`/proc/${pid}/stat`);
}

/** CPU ms of this process's main thread (the event loop) and of all its other threads. */
export function ownThreadsCpuMs(): { main: number; others: number } {
  const main = statMs(`/proc/${process.pid}/task/${process.pid}/stat`) ?? 0;
  let others = 0;
  for (const tid of readdirSync(`/proc/${process.pid}/task`)) if (Number(tid) !== process.pid) others += statMs(`/proc/${process.pid}/task/${tid}/stat`) ?? 0;
  return { main, others };
}

/** The machine's busy and total CPU ms over all CPUs (the first line of /proc/stat). */
export function machineCpuMs(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [, ...values] = line.trim().split(/\s+/);
  const n = values.map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: ((total - idle) * 1000) / HZ, total: (total * 1000) / HZ };
}

/** A reading of everything at once; `since` gives the differences as CPU ms. */
export interface CpuReading {
  bench: number;
  main: number;
  others: number;
  broker: number | null;
  machineBusy: number;
  machineTotal: number;
}

export function readCpu(brokerPid: number | null): CpuReading {
  const u = process.cpuUsage();
  const t = ownThreadsCpuMs();
  const m = machineCpuMs();
  return { bench: (u.user + u.system) / 1000, main: t.main, others: t.others, broker: brokerPid ? processCpuMs(brokerPid) : null, machineBusy: m.busy, machineTotal: m.total };
}

export function cpuSince(before: CpuReading, after: CpuReading): CpuReading {
  return {
    bench: after.bench - before.bench,
    main: after.main - before.main,
    others: after.others - before.others,
    broker: before.broker !== null && after.broker !== null ? after.broker - before.broker : null,
    machineBusy: after.machineBusy - before.machineBusy,
    machineTotal: after.machineTotal - before.machineTotal,
  };
}
