import type { AuditRecord, SessionContext } from '../../events/index.js';

/** Filters of the sessions list; every one is optional and they combine with AND. */
export interface SessionFilter {
  repository?: string;
  /** CI run id, optionally with `/attempt`. */
  run?: string;
  actor?: string;
  target?: string;
  protocol?: 'postgres' | 'ssh' | 'kubernetes';
  /** ISO 8601 bounds on the session start. */
  from?: string;
  to?: string;
  /** Text searched (case-insensitively) in the command text of the session's commands. */
  q?: string;
  limit?: number;
}

export interface SessionListing {
  sessionId: string;
  context: SessionContext;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  commands: number;
  records: number;
}

/**
 * Where the replay server reads recordings from. The embedded log backs it today; a store fed from
 * Kafka implements the same interface, and the server never learns which one it has.
 */
export interface ReplaySource {
  findSessions(filter: SessionFilter): SessionListing[] | Promise<SessionListing[]>;
  session(sessionId: string): SessionListing | null | Promise<SessionListing | null>;
  /** Every record of a session in sequence order, or one stream of it. */
  records(sessionId: string, stream?: AuditRecord['stream']): AuditRecord[] | Promise<AuditRecord[]>;
  close?(): void | Promise<void>;
}
