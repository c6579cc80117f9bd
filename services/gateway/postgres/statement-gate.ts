import type { JobIdentity, StatementDecision } from '../../../events/index.js';
import type { SessionMasking } from '../../masking/session-masking.js';
import type { SessionPolicy } from '../policy/session-policy.js';

/** A statement the client wants to run, seen before it reaches the target. */
export interface GatedStatement {
  protocol: 'simple' | 'extended' | 'function';
  text: string;
  statementName?: string;
}

export interface GateContext {
  sessionId: string;
  target: string;
  identity: JobIdentity;
  /** Rights the session's policy decision granted, and by which rules. */
  grant: { rights: readonly string[]; matched: readonly { rule: string; rights: readonly string[] }[] };
  /** What the policy keeps between this session's statements (prepared names, the target's catalogue). */
  session?: SessionPolicy;
  /** Result masking of the session's target (services/masking), when it has rules. */
  masking?: SessionMasking;
}

/** `decision` is recorded with the command the verdict is about. */
export type GateVerdict =
  | { action: 'forward'; decision?: StatementDecision }
  | { action: 'deny'; sqlstate: string; message: string; detail?: string; hint?: string; decision?: StatementDecision };

/**
 * Decides, per statement, whether it goes to the target. Returning a promise holds the statement
 * (and everything the client sends after it) until it settles; approvals build on this.
 */
export interface StatementGate {
  check(statement: GatedStatement, context: GateContext): GateVerdict | Promise<GateVerdict>;
}
