import type { JobIdentity } from '../../../events/index.js';

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
}

export type GateVerdict =
  | { action: 'forward' }
  | { action: 'deny'; sqlstate: string; message: string; detail?: string; hint?: string };

/**
 * Decides, per statement, whether it goes to the target. Returning a promise holds the statement
 * (and everything the client sends after it) until it settles; approvals build on this.
 */
export interface StatementGate {
  check(statement: GatedStatement, context: GateContext): GateVerdict | Promise<GateVerdict>;
}

export const FORWARD_ALL: StatementGate = { check: () => ({ action: 'forward' }) };
