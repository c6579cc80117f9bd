import type { StatementDecision } from '../../../events/index.js';
import { SqlState } from '../postgres/protocol.js';
import type { GateContext, GatedStatement, GateVerdict, StatementGate } from '../postgres/statement-gate.js';
import type { SessionPolicy } from './session-policy.js';
import { ClassificationCache } from './classification-cache.js';
import type { Classification, CodeReferences, PreparedQuery, StatementClass } from './statement-classifier.js';
import { hasReferences } from './target-catalogue.js';

/**
 * The policy at statement level: the PostgreSQL parser says which rights a statement needs, the target's
 * catalogue says whether the names it uses reach user code (which needs `function`), the session's rule
 * decision says which rights it has; anything missing is denied with 42501.
 */
export class PolicyGate implements StatementGate {
  // Drivers re-send the same text (unnamed statements, ORMs, scripts) and the same statement with new literals.
  private readonly cache = new ClassificationCache();

  check(statement: GatedStatement, context: GateContext): GateVerdict | Promise<GateVerdict> {
    if (statement.protocol === 'function') return this.verdict(['function'], [], context);
    const classification = this.cache.classify(statement.text);
    if (classification.parseError) {
      const decision: StatementDecision = { outcome: 'denied', needs: classification.classes, parseError: classification.parseError };
      return {
        action: 'deny',
        sqlstate: SqlState.SyntaxError,
        message: `the gateway could not parse this statement, so it cannot decide what it does: ${classification.parseError} [TG_POLICY_UNPARSABLE]`,
        decision,
      };
    }
    const session = context.session;
    if (session?.judgesCode && session.catalogue.stale && this.usesNames(classification, session)) {
      // Hold the statement until the catalogue is read on the session's own backend.
      return session.refresh().then(() => this.decide(statement, classification, context));
    }
    return this.decide(statement, classification, context);
  }

  private usesNames(c: Classification, session: SessionPolicy): boolean {
    return c.statements.some((s) => hasReferences(s.references) || (s.executes ?? []).some((n) => session.prepared.has(n)));
  }

  /** Walks the statements in order: a PREPARE earlier in the same string is what a later EXECUTE runs. */
  private decide(statement: GatedStatement, c: Classification, context: GateContext): GateVerdict {
    const session = context.session;
    // Copied only when the string changes the names, so a session with many named statements pays nothing per Parse.
    const mutates = c.statements.some((s) => s.prepare || s.deallocate !== undefined || s.discardAll);
    const prepared = mutates || !session ? new Map<string, PreparedQuery>(session?.prepared ?? []) : session.prepared;
    const needs = new Set<StatementClass>();
    const userCode = new Set<string>();
    const judge = (refs: CodeReferences) => {
      if (!session?.judgesCode) return;
      // A catalogue that could not be read judges nothing: any name may then be user code.
      const hits = session.catalogue.usable ? session.catalogue.userCode(refs) : hasReferences(refs) ? ['names the target catalogue could not be read for'] : [];
      for (const h of hits) userCode.add(h);
    };
    for (const s of c.statements) {
      if (s.executes) {
        for (const c2 of s.withoutExecutes ?? []) needs.add(c2);
        for (const name of s.executes) {
          const q = prepared.get(name);
          if (!q) needs.add('function'); // not prepared in this session as far as the gateway saw: unknown
          else {
            for (const c2 of q.classes) needs.add(c2);
            judge(q.references);
          }
        }
      } else for (const c2 of s.classes) needs.add(c2);
      judge(s.references);
      if (s.prepare) prepared.set(s.prepare.name, s.prepare.query);
      if (s.deallocate === null || s.discardAll) prepared.clear();
      else if (s.deallocate !== undefined) prepared.delete(s.deallocate);
    }
    if (userCode.size) needs.add('function');
    if (session?.readOnlyRunningCode && c.statements.slice(0, -1).some((s) => s.endsTransaction)) needs.add('write');
    const verdict = this.verdict(sortedClasses(needs), [...userCode], context);
    if (verdict.action === 'forward' && session) {
      if (mutates) {
        session.prepared.clear();
        for (const [k, v] of prepared) session.prepared.set(k, v);
      }
      // A named extended-protocol statement can be run by SQL EXECUTE too.
      if (statement.protocol === 'extended' && statement.statementName) session.prepared.set(statement.statementName, { classes: c.classes, references: mergeReferences(c) });
      session.forwarded(sortedClasses(needs));
    }
    return verdict;
  }

  private verdict(needs: StatementClass[], userCode: string[], context: GateContext): GateVerdict {
    const granted = context.grant.rights;
    const missing = granted.includes('all') ? [] : needs.filter((n) => !granted.includes(n));
    if (missing.length === 0) {
      const rules = context.grant.matched.filter((m) => m.rights.includes('all') || needs.some((n) => m.rights.includes(n))).map((m) => m.rule);
      return { action: 'forward', decision: { outcome: 'allowed', needs, rules } };
    }
    const who = context.identity.ci.repository ?? context.identity.subject;
    const have = context.grant.matched.map((m) => `${m.rights.join(', ')} by rule '${m.rule}'`).join('; ') || 'nothing';
    const code = userCode.length ? `; runs user code on the target: ${userCode.slice(0, 5).join(', ')}${userCode.length > 5 ? ', ...' : ''}` : '';
    return {
      action: 'deny',
      sqlstate: SqlState.InsufficientPrivilege,
      message: `statement needs the ${plural(missing)} ${missing.map((m) => `'${m}'`).join(' and ')} on target '${context.target}', which no rule grants to ${who} [TG_POLICY_DENIED]`,
      detail: `needs: ${needs.join(', ')}; granted: ${have}${code}`,
      hint: `run \`trailgate policy explain --target ${context.target}\` with this job's token to see which rules apply`,
      decision: { outcome: 'denied', needs, missing },
    };
  }
}

const ORDER: readonly StatementClass[] = ['read', 'write', 'ddl', 'admin', 'function', 'code', 'transaction', 'session'];

function sortedClasses(s: Iterable<StatementClass>): StatementClass[] {
  return [...s].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
}

function mergeReferences(c: Classification): CodeReferences {
  const out: CodeReferences = { functions: [], fields: [], operators: [], types: [], reads: [], writes: [] };
  for (const s of c.statements) for (const k of Object.keys(out) as (keyof CodeReferences)[]) out[k].push(...s.references[k]);
  return out;
}

function plural(missing: string[]): string {
  return missing.length > 1 ? 'rights' : 'right';
}
