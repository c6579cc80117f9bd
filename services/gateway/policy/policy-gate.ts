import type { StatementDecision } from '../../../events/index.js';
import { SqlState } from '../postgres/protocol.js';
import type { GateContext, GatedStatement, GateVerdict, StatementGate } from '../postgres/statement-gate.js';
import { classifyStatement, type Classification, type StatementClass } from './statement-classifier.js';

/**
 * The policy at statement level: the PostgreSQL parser says which rights a statement needs, the
 * session's rule decision says which it has; anything missing is denied with 42501.
 */
export class PolicyGate implements StatementGate {
  // Drivers re-send the same text (unnamed statements, ORMs, scripts); parsing it again is wasted work.
  private readonly cache = new Map<string, Classification>();

  check(statement: GatedStatement, context: GateContext): GateVerdict {
    const classification = statement.protocol === 'function' ? { classes: ['function'] as StatementClass[] } : this.classify(statement.text);
    if ('parseError' in classification && classification.parseError) {
      const decision: StatementDecision = { outcome: 'denied', needs: classification.classes, parseError: classification.parseError };
      return {
        action: 'deny',
        sqlstate: SqlState.SyntaxError,
        message: `the gateway could not parse this statement, so it cannot decide what it does: ${classification.parseError} [TG_POLICY_UNPARSABLE]`,
        decision,
      };
    }
    const needs = classification.classes;
    const granted = context.grant.rights;
    const missing = granted.includes('all') ? [] : needs.filter((n) => !granted.includes(n));
    if (missing.length === 0) {
      const rules = context.grant.matched.filter((m) => m.rights.includes('all') || needs.some((n) => m.rights.includes(n))).map((m) => m.rule);
      return { action: 'forward', decision: { outcome: 'allowed', needs, rules } };
    }
    const who = context.identity.ci.repository ?? context.identity.subject;
    const have = context.grant.matched.map((m) => `${m.rights.join(', ')} by rule '${m.rule}'`).join('; ') || 'nothing';
    return {
      action: 'deny',
      sqlstate: SqlState.InsufficientPrivilege,
      message: `statement needs the ${plural(missing)} ${missing.map((m) => `'${m}'`).join(' and ')} on target '${context.target}', which no rule grants to ${who} [TG_POLICY_DENIED]`,
      detail: `needs: ${needs.join(', ')}; granted: ${have}`,
      hint: `run \`trailgate policy explain --target ${context.target}\` with this job's token to see which rules apply`,
      decision: { outcome: 'denied', needs, missing },
    };
  }

  private classify(text: string): Classification {
    const hit = this.cache.get(text);
    if (hit) {
      // Re-insert so the map's order is least recently used first.
      this.cache.delete(text);
      this.cache.set(text, hit);
      return hit;
    }
    const fresh = classifyStatement(text);
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    if (text.length <= 64 * 1024) this.cache.set(text, fresh);
    return fresh;
  }
}

const CACHE_ENTRIES = 4096;

function plural(missing: string[]): string {
  return missing.length > 1 ? 'rights' : 'right';
}
