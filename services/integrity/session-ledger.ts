import { canonicalJson, linkHash } from '../../events/index.js';
import type { LedgerEntry } from '../../connectors/embedded-log/embedded-log.js';
import { LEDGER_TYP, type HeadSigner } from './checkpoint-signer.js';

/** Where a gateway keeps its ledger; the embedded log now, any log that can hold it later. */
export interface LedgerStore {
  sessionIdsOf(instance: string): string[];
  ledgerHead(instance: string): LedgerEntry | null;
  readLedger(instance?: string): LedgerEntry[];
  appendLedger(entry: LedgerEntry): void;
}

/** The chained part of a ledger entry; the hash covers it and the previous entry's hash. */
export function ledgerEntryHash(prev: string, e: Pick<LedgerEntry, 'instance' | 'seq' | 'ts' | 'opened'>): string {
  return linkHash(prev, canonicalJson({ instance: e.instance, seq: e.seq, ts: e.ts, opened: e.opened }));
}

/**
 * The gateway's own signed summary of the sessions it opened, one hash chain per instance that
 * continues across restarts: a session deleted whole from the log is still named here.
 */
export class SessionLedger {
  private pending: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: LedgerStore,
    private readonly signer: HeadSigner,
    private readonly instance: string,
    /** Resolves once the sessions noted so far are on disk, so the ledger never names a session the log lacks. */
    private readonly durable: () => Promise<void>,
  ) {}

  /** Sessions already named by this instance's ledger. */
  listed(): Set<string> {
    return new Set(this.store.readLedger(this.instance).flatMap((e) => e.opened));
  }

  noteOpened(sessionId: string): void {
    this.pending.push(sessionId);
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.summarize().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  /** Writes one signed entry for the sessions opened since the last one (none when there are none). */
  summarize(): Promise<void> {
    this.writing = this.writing.catch(() => undefined).then(async () => {
      if (this.pending.length === 0) return;
      const opened = this.pending;
      this.pending = [];
      try {
        await this.durable();
        const head = this.store.ledgerHead(this.instance);
        const body = { instance: this.instance, seq: (head?.seq ?? 0) + 1, ts: new Date().toISOString(), opened };
        const prev = head?.hash ?? '';
        const hash = ledgerEntryHash(prev, body);
        const jws = await this.signer.sign(LEDGER_TYP, { v: 1, instance: this.instance, seq: body.seq, hash });
        this.store.appendLedger({ ...body, prev, hash, kid: this.signer.kid, jws });
      } catch (err) {
        // Kept for the next attempt: the ledger must not lose a session because one write failed.
        this.pending = [...opened, ...this.pending];
        throw err;
      }
    });
    return this.writing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.summarize();
  }
}
