// Statement-level masking: the session's column origins are read before a statement that needs them, and the
// ways around masking (bypass-check.ts) are refused with 42501 before they reach the target.
import type { StatementDecision } from '../../events/index.js';
import { SqlState } from '../gateway/postgres/protocol.js';
import type { GateContext, GatedStatement, GateVerdict, StatementGate } from '../gateway/postgres/statement-gate.js';
import { bypassOf } from './bypass-check.js';

/** Rights whose statements may change tables and views: the origins are read again after them. */
const CHANGES_ORIGINS = ['ddl', 'admin', 'code', 'function'];

export class MaskingGate implements StatementGate {
  constructor(private readonly inner: StatementGate) {}

  check(statement: GatedStatement, context: GateContext): GateVerdict | Promise<GateVerdict> {
    const masking = context.masking;
    if (!masking || masking.exempt) return this.inner.check(statement, context);
    if (masking.stale && statement.protocol !== 'function') {
      // Hold the statement until the origins are read on the session's own backend (an old copy still applies
      // when they cannot be read now; none at all makes the rows fail closed).
      return masking.refresh().then(() => this.after(statement, context));
    }
    return this.after(statement, context);
  }

  private after(statement: GatedStatement, context: GateContext): GateVerdict | Promise<GateVerdict> {
    const verdict = this.inner.check(statement, context);
    return verdict instanceof Promise ? verdict.then((v) => this.judge(statement, context, v)) : this.judge(statement, context, verdict);
  }

  private judge(statement: GatedStatement, context: GateContext, verdict: GateVerdict): GateVerdict {
    const masking = context.masking!;
    if (verdict.action === 'deny') return verdict;
    if (verdict.decision?.needs.some((n) => CHANGES_ORIGINS.includes(n))) masking.invalidate();
    const origins = masking.origins;
    if (!origins) {
      return {
        action: 'deny',
        sqlstate: SqlState.InsufficientPrivilege,
        message: `the gateway could not read which columns of target '${context.target}' are masked, so it runs nothing yet [TG_MASKING_UNRESOLVED]`,
        hint: 'send the statement again on its own (not in the middle of a pipeline); if it persists, check the target is reachable',
        decision: { outcome: 'denied', needs: verdict.decision?.needs ?? [] },
      };
    }
    if (statement.protocol === 'function' || !masking.names(statement.text)) return verdict;
    const { bypass, vetted } = bypassOf(statement.text, origins);
    if (vetted) masking.vet(statement.text);
    if (!bypass) return verdict;
    const decision: StatementDecision = { outcome: 'denied', needs: verdict.decision?.needs ?? [], ...(verdict.decision?.rules ? { rules: verdict.decision.rules } : {}) };
    return {
      action: 'deny',
      sqlstate: SqlState.InsufficientPrivilege,
      message: bypass.message,
      detail: `target '${context.target}' masks columns this statement reads`,
      hint: bypass.hint,
      decision,
    };
  }
}
