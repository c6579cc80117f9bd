import type { AuditRecord } from '../../events/index.js';
import type { EmbeddedLog, LedgerEntry } from '../../connectors/embedded-log/embedded-log.js';

/**
 * What verify reads: the embedded log now; a search index, a cast or a transcript can implement it
 * the same way, since a byte chunk is chained by its digest and length (events/chain.ts).
 */
export interface VerifySource {
  describe(): string;
  sessionIds(): string[];
  /** The session's records in sequence order, exactly as stored. */
  records(sessionId: string): AuditRecord[];
  ledger(): LedgerEntry[];
  /** When each session started and which instance opened it (the ledger must name it in time). */
  sessionStarts(): { sessionId: string; instance: string; startedAt: string }[];
  /** Fields of the record that a SIEM sink cut to its field limit (none in a log): its content cannot be re-hashed. */
  cutFields?(record: AuditRecord): string[];
}

export function embeddedLogSource(log: EmbeddedLog): VerifySource {
  return {
    describe: () => `embedded log ${log.file}`,
    sessionIds: () => log.sessionIds(),
    records: (id) => log.readSession(id),
    ledger: () => log.readLedger(),
    sessionStarts: () => log.sessionStarts(),
  };
}
