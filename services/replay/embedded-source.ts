import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { SessionSearch } from '../../connectors/embedded-log/session-search.js';
import type { AuditRecord } from '../../events/index.js';
import type { ReplaySource, SessionFilter, SessionListing } from './record-source.js';

/** Replay reading the embedded log file directly, through read-only connections of its own. */
export class EmbeddedReplaySource implements ReplaySource {
  private readonly search: SessionSearch;
  /** The log itself, read-only, for checks that need more than records (integrity). */
  readonly log: EmbeddedLog;

  constructor(file: string) {
    this.search = new SessionSearch(file);
    this.log = new EmbeddedLog(file, { readonly: true });
  }

  findSessions(filter: SessionFilter): SessionListing[] {
    return this.search.find(filter);
  }

  session(sessionId: string): SessionListing | null {
    return this.search.get(sessionId);
  }

  records(sessionId: string, stream?: AuditRecord['stream']): AuditRecord[] {
    return this.log.readSession(sessionId, stream);
  }

  close(): void {
    this.search.close();
    this.log.close();
  }
}
