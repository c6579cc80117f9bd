/** How a consumer's deliveries go: `ok`, `degraded` while its sink keeps failing (it retries), `stopped` when the sink says so. */
export interface ConsumerHealth {
  state: 'ok' | 'degraded' | 'stopped';
  /** The last failure's code (TG_SEARCH_UNREACHABLE, TG_SENTINEL_UNAVAILABLE, ...), kept after recovery for the record. */
  code?: string;
  /** The last failure's message. */
  reason?: string;
  /** When the current failing run began (ISO time); absent while ok. */
  since?: string;
  /** Failed attempts in the current failing run. */
  failures: number;
  /** When the last failure happened. */
  lastErrorAt?: string;
  /** When the consumer last delivered after failing. */
  recoveredAt?: string;
}

/** What a sink may say about itself beyond a failed write (the SIEM sinks: retrying inside one write, or stopped). */
export interface SelfReportingSink {
  health(): { state: 'ok' | 'degraded' | 'stopped'; code?: string; reason?: string };
}

export function reportsHealth(sink: object): sink is SelfReportingSink {
  return typeof (sink as Partial<SelfReportingSink>).health === 'function';
}

/** Tracks one consumer's health from its sink's successes and failures; a change is handed to `publish` (the log's status place). */
export class ConsumerHealthTracker {
  private current: ConsumerHealth = { state: 'ok', failures: 0 };
  /** Whether this run has published anything yet: its first delivery replaces what an earlier run left. */
  private announced = false;

  constructor(private readonly publish: (h: ConsumerHealth) => void = () => undefined) {}

  /** The consumer's own view, made worse by what the sink says about a write still in progress. */
  view(sink: object): ConsumerHealth {
    const own = { ...this.current };
    if (!reportsHealth(sink)) return own;
    const s = sink.health();
    if (s.state === 'ok' || (own.state === 'stopped' && s.state === 'degraded')) return own;
    return { ...own, state: s.state, ...(s.code ? { code: s.code } : {}), ...(s.reason ? { reason: s.reason } : {}), since: own.since ?? new Date().toISOString() };
  }

  failed(err: unknown, sink: object): void {
    const now = new Date().toISOString();
    const e = err as { code?: unknown; message?: unknown };
    const stopped = reportsHealth(sink) && sink.health().state === 'stopped';
    this.current = {
      state: stopped ? 'stopped' : 'degraded',
      code: typeof e.code === 'string' ? e.code : 'TG_SINK_FAILED',
      reason: typeof e.message === 'string' ? e.message : String(err),
      since: this.current.state === 'ok' ? now : (this.current.since ?? now),
      failures: this.current.failures + 1,
      lastErrorAt: now,
      ...(this.current.recoveredAt ? { recoveredAt: this.current.recoveredAt } : {}),
    };
    this.announced = true;
    this.publish(this.current);
  }

  delivered(): void {
    if (this.current.state === 'ok') {
      if (!this.announced) {
        this.announced = true;
        this.publish(this.current);
      }
      return;
    }
    const { code, reason, lastErrorAt } = this.current;
    this.current = { state: 'ok', failures: 0, ...(code ? { code } : {}), ...(reason ? { reason } : {}), ...(lastErrorAt ? { lastErrorAt } : {}), recoveredAt: new Date().toISOString() };
    this.publish(this.current);
  }
}
