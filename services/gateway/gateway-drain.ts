import { access, constants } from 'node:fs/promises';
import type { ShutdownConfig } from '../config/shutdown-schema.js';
import type { Health } from '../metrics/health.js';
import type { Gateway } from './gateway.js';

/** How often a drain looks whether the open sessions have ended. */
const POLL_MS = 100;

/**
 * A gateway's way out on SIGTERM, in this order: readiness turns false; new sessions are refused
 * (Postgres: 57P03, SSH: a message at login; both TG_GATEWAY_DRAINING, recorded) while the listeners
 * stay bound; open sessions may finish until the deadline, then the rest are ended and recorded; the
 * Kafka spool gets its flush; the gateway stops.
 */
export class GatewayDrain {
  private started: Promise<void> | null = null;
  private gateway: Gateway | null = null;

  constructor(
    private readonly health: Health,
    private readonly shutdown: ShutdownConfig,
    private readonly log: (line: string) => void = (line) => console.error(line),
  ) {}

  /** Admission hook for Gateway.start: a session that arrives during the drain is refused, and recorded. */
  refusal(): { code: string; message: string; reason: 'gateway-shutdown' } | null {
    if (!this.health.draining) return null;
    return { code: 'TG_GATEWAY_DRAINING', message: 'this gateway is shutting down and takes no new sessions; connect again to reach another instance', reason: 'gateway-shutdown' };
  }

  /** Registers the gateway's readiness conditions: keys loaded, the log writable, the listeners bound. */
  attach(gateway: Gateway, dataDir: string): void {
    this.gateway = gateway;
    this.health
      .check('signing-key', () => (gateway.signingKid ? null : 'no signing key is loaded'))
      .check('listeners', () => (this.started ? 'the listeners are closing' : null))
      .check('log', () => logWritable(gateway, dataDir));
  }

  /** Runs the drain once; later calls wait for the same one. */
  drain(signal: string): Promise<void> {
    this.started ??= this.run(signal);
    return this.started;
  }

  private async run(signal: string): Promise<void> {
    const gateway = this.gateway;
    this.health.drain(`${signal} received: draining`);
    if (!gateway) return;
    const open = () => gateway.postgres.activeSessions + (gateway.ssh?.listener.activeSessions ?? 0);
    const deadline = Date.now() + this.shutdown.drainSeconds * 1000;
    if (open() > 0) this.log(`${signal}: not ready any more; ${open()} open session(s) have ${this.shutdown.drainSeconds} s to finish`);
    while (open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
    if (open() > 0) {
      this.log(`${signal}: drain deadline reached; ending ${open()} session(s)`);
      const detail = `TG_GATEWAY_DRAIN_DEADLINE: the gateway shut down and the session was still open after shutdown.drainSeconds (${this.shutdown.drainSeconds} s)`;
      gateway.postgres.endSessions('gateway-shutdown', detail);
      gateway.ssh?.listener.endSessions('gateway-shutdown', detail);
    }
    // Ending sessions writes their last records; they must be on disk (and, on Kafka, sent) before the exit.
    await gateway.writer.flush();
    if (gateway.kafka) {
      await gateway.kafka.drained(this.shutdown.spoolFlushSeconds * 1000).catch((err: Error) => {
        this.log(`${signal}: the spool did not reach Kafka in ${this.shutdown.spoolFlushSeconds} s (${err.message}); it stays on disk and is sent at the next start [TG_SPOOL_NOT_FLUSHED]`);
      });
    }
    await gateway.stop();
  }
}

/** The embedded log (or on Kafka, the spool) takes records: the last write is durable and the data directory writable. */
async function logWritable(gateway: Gateway, dataDir: string): Promise<string | null> {
  try {
    await access(dataDir, constants.W_OK);
  } catch (err) {
    return `the data directory ${dataDir} is not writable (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  try {
    await gateway.writer.durable();
  } catch (err) {
    return `the event log refuses writes: ${(err as Error).message}`;
  }
  // On Kafka the spool carries the gateway while Kafka is away; below the low watermark it takes sessions.
  if (gateway.kafka && gateway.kafka.watermark !== 'ok') return `the spool is at its ${gateway.kafka.watermark} watermark (Kafka: ${gateway.kafka.kafkaError ?? 'reachable'})`;
  return null;
}
