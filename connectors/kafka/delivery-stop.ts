import type { Metrics } from '../../services/metrics/metrics.js';
import type { PermanentDeliveryError } from './kafka-errors.js';

/** How long a drainer stopped on a permanent refusal waits before it tries the batch once more. */
export const STOPPED_RECHECK_MS = 60_000;

/**
 * The spool drainer's stop on a permanent refusal (record too large, not authorized): it says so once
 * with the fix, shows it in metrics, and tries again only every recheck interval or when resumed,
 * never at the pace of new appends. Nothing is dropped: the records wait in the spool.
 */
export class DeliveryStop {
  private current: { code: PermanentDeliveryError['code']; message: string; since: string } | null = null;
  private release: (() => void) | null = null;
  private readonly codes = new Set<string>();

  constructor(
    private readonly metrics: Metrics,
    private readonly instance: string,
    private readonly recheckMs = STOPPED_RECHECK_MS,
    private readonly log: (line: string) => void = console.error,
  ) {}

  /** The refusal the drainer is stopped on, or null while it delivers. */
  get stopped(): { code: string; message: string; since: string } | null {
    return this.current ? { ...this.current } : null;
  }

  stop(p: PermanentDeliveryError, err: Error): void {
    const message = `${err.message}: ${p.fix} [${p.code}]`;
    if (this.current?.code !== p.code) this.log(`trailgate: Kafka delivery stopped, records stay in the spool until this is fixed (tried again every ${this.recheckMs / 1000} s): ${message}`);
    this.current = { code: p.code, message, since: this.current?.since ?? new Date().toISOString() };
    this.metrics.counter('trailgate_kafka_delivery_stops_total', 'Spool batches Kafka refused for good (record too large, not authorized), by code.', { instance: this.instance, code: p.code });
    if (!this.codes.has(p.code)) {
      this.codes.add(p.code);
      const code = p.code;
      this.metrics.gauge('trailgate_kafka_delivery_stopped', 'Whether the spool drainer is stopped on a permanent refusal, by code (1 while stopped).', { instance: this.instance, code }, () => (this.current?.code === code ? 1 : 0));
    }
  }

  clear(): void {
    if (!this.current) return;
    this.log(`trailgate: Kafka delivery resumed after ${this.current.code}`);
    this.current = null;
  }

  /** Waits for the recheck interval, or until resume() (an operator fixed the cause) or the gateway stops. */
  wait(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), this.recheckMs);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        this.release = null;
        resolve();
      };
      this.release = done;
    });
  }

  resume(): void {
    this.release?.();
  }
}
