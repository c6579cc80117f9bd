/**
 * Liveness and readiness of one process, served next to its metrics (GET /healthz, GET /readyz).
 * A role registers what it needs to serve (keys, the log, listeners); a drain turns readiness off
 * for good, before anything closes, so load balancers and Kubernetes stop sending work first.
 */

/** One readiness condition: resolves null when it holds, or a sentence saying what is wrong. */
export type ReadinessCheck = () => Promise<string | null> | string | null;

export interface CheckResult {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface ReadinessReport {
  ready: boolean;
  role: string;
  draining: boolean;
  checks: CheckResult[];
}

/** A check that takes longer than this counts as failed: a hung disk or broker must not hang the probe. */
const CHECK_TIMEOUT_MS = 2000;

export class Health {
  private readonly checks = new Map<string, ReadinessCheck>();
  private drainReason: string | null = null;

  constructor(readonly role: string) {}

  /** Adds (or replaces) a readiness condition. */
  check(name: string, fn: ReadinessCheck): this {
    this.checks.set(name, fn);
    return this;
  }

  /** From now on the process reports itself not ready; there is no way back. */
  drain(reason: string): void {
    this.drainReason ??= reason;
  }

  get draining(): boolean {
    return this.drainReason !== null;
  }

  async readiness(): Promise<ReadinessReport> {
    const checks: CheckResult[] = [];
    if (this.drainReason !== null) checks.push({ name: 'draining', ok: false, detail: this.drainReason });
    for (const [name, fn] of this.checks) {
      const problem = await bounded(fn, name);
      checks.push(problem === null ? { name, ok: true } : { name, ok: false, detail: problem });
    }
    return { ready: checks.every((c) => c.ok), role: this.role, draining: this.drainReason !== null, checks };
  }
}

async function bounded(fn: ReadinessCheck, name: string): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(fn),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`${name} did not answer within ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    return (err as Error).message;
  } finally {
    clearTimeout(timer);
  }
}
