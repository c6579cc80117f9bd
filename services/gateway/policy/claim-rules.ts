/**
 * Claim rules, after Teleport Machine ID: every condition of a rule must hold (AND), any rule may grant (OR),
 * each rule names an anchor (repository, repositoryOwner or subject). No matching rule grants nothing.
 * Values are compared exactly and case-sensitively: issuers send canonical case, and folding would make
 * `Acme/x` and `acme/x` one principal on systems (GitLab paths, generic issuers) where they may differ.
 */
import type { CiContext, JobIdentity } from '../../../events/identity.js';
import { POSTGRES_RIGHTS, SSH_RIGHTS, type ClaimRule, type Right } from '../../config/schema.js';
import { KUBE_RIGHTS } from '../kubernetes/kube-config.js';
import { compileGlob } from './glob.js';

/** The kind of target a decision is for; a rule's rights of the other kind do not count there. */
export type TargetKind = 'postgres' | 'ssh' | 'kubernetes';

/** Rights that mean something on each kind of target, in the order decisions list them; `all` grants every one. */
const RIGHTS_OF: Record<TargetKind, readonly Right[]> = { postgres: POSTGRES_RIGHTS, ssh: [...SSH_RIGHTS, 'all'], kubernetes: [...KUBE_RIGHTS, 'all'] };

export interface RuleDecision {
  target: string;
  /** Union of the rights of every matching rule, in POSTGRES_RIGHTS (or SSH_RIGHTS) order; `all` is kept as is (every class). */
  rights: Right[];
  /** `commands`: the patterns the rule limits its exec right to (SSH). */
  matched: { rule: string; rights: Right[]; commands?: string[] }[];
  notMatched: { rule: string; reason: string }[];
}

type Globs = string | readonly string[];

/** Conditions on CiContext, checked in this order; anchors first so a reason names the most telling mismatch. */
const CI_CONDITIONS = [
  'repositoryOwner',
  'repository',
  'ref',
  'refType',
  'workflow',
  'workflowRef',
  'jobWorkflowRef',
  'environment',
  'eventName',
  'actor',
  'runnerEnvironment',
] as const satisfies readonly (keyof CiContext & keyof ClaimRule)[];

const MAX_SHOWN = 120;

/** Quotes a value for a reason: control, format and separator characters escaped, so a token cannot forge lines. */
function quote(value: string, max = Infinity): string {
  const chars = Array.from(value);
  const cut = chars.length > max ? chars.slice(0, max) : chars;
  const escaped = cut
    .map((c) => {
      if (c === '\\' || c === "'") return `\\${c}`;
      if (c === '\n') return '\\n';
      if (c === '\r') return '\\r';
      if (c === '\t') return '\\t';
      if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(c)) return `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`;
      return c;
    })
    .join('');
  return `'${escaped}'${cut.length < chars.length ? `…(${chars.length} chars)` : ''}`;
}

/** A value from the token (or the client): attacker-controlled, so cut short. */
const shown = (value: string): string => quote(value, MAX_SHOWN);
const listOf = (values: readonly string[]): string => `[${values.map((v) => quote(v).slice(1, -1)).join(', ')}]`;
const wanted = (globs: Globs): string => (typeof globs === 'string' ? quote(globs) : `any of [${globs.map((g) => quote(g)).join(', ')}]`);
const matchesAny = (globs: Globs, value: string): boolean =>
  (typeof globs === 'string' ? [globs] : globs).some((g) => compileGlob(g)(value));

/** An empty claim counts as missing, so that `*` never stands in for an absent value. */
function checkGlob(label: string, globs: Globs | undefined, value: unknown): string | undefined {
  if (globs === undefined) return undefined;
  if (typeof value !== 'string' || value === '') return `${label} is not set in the token (rule requires ${wanted(globs)})`;
  return matchesAny(globs, value) ? undefined : `${label} ${shown(value)} does not match ${wanted(globs)}`;
}

/** The first condition of the rule that fails, or undefined when the rule applies. */
function firstFailure(rule: ClaimRule, identity: JobIdentity, target: string): string | undefined {
  if (rule.issuers && !rule.issuers.includes(identity.issuerName)) {
    return `issuer ${shown(identity.issuerName)} is not one of ${listOf(rule.issuers)}`;
  }
  if (!matchesAny(rule.targets, target)) return `target ${shown(target)} is not one of ${listOf(rule.targets)}`;
  // The schema refuses such rules; checked again so a rule built in code cannot match every job.
  if (rule.repository === undefined && rule.repositoryOwner === undefined && rule.subject === undefined) {
    return 'rule names no anchor (repository, repositoryOwner or subject)';
  }
  const ci: CiContext = identity.ci ?? {};
  const failure =
    checkGlob('subject', rule.subject, identity.subject) ??
    CI_CONDITIONS.map((name) => checkGlob(name, rule[name], ci[name])).find((r) => r !== undefined);
  if (failure) return failure;
  if (rule.refProtected !== undefined && ci.refProtected !== rule.refProtected) {
    const have: unknown = ci.refProtected;
    return typeof have === 'boolean'
      ? `refProtected is ${have} in the token (rule requires ${rule.refProtected})`
      : `refProtected is not set in the token (rule requires ${rule.refProtected})`;
  }
  const claims = identity.claims ?? {};
  for (const [name, globs] of Object.entries(rule.claims ?? {})) {
    // Own properties only: `constructor` or `__proto__` must not reach Object.prototype.
    const value = Object.hasOwn(claims, name) ? claims[name] : undefined;
    const reason = checkGlob(`claim ${quote(name)}`, globs, value);
    if (reason) return reason;
  }
  return undefined;
}

export function decide(rules: readonly ClaimRule[], identity: JobIdentity, target: string, kind: TargetKind = 'postgres'): RuleDecision {
  const decision: RuleDecision = { target, rights: [], matched: [], notMatched: [] };
  const applicable = RIGHTS_OF[kind];
  const granted = new Set<Right>();
  for (const rule of rules) {
    const reason = firstFailure(rule, identity, target);
    if (reason !== undefined) {
      decision.notMatched.push({ rule: rule.name, reason });
      continue;
    }
    const rights = rule.rights.filter((r) => applicable.includes(r));
    if (rights.length === 0) {
      decision.notMatched.push({ rule: rule.name, reason: `grants no right that applies to ${kind} targets (${listOf(rule.rights)})` });
      continue;
    }
    decision.matched.push({ rule: rule.name, rights, ...(rule.commands && kind === 'ssh' ? { commands: [...rule.commands] } : {}) });
    for (const right of rights) granted.add(right);
  }
  decision.rights = applicable.filter((r) => granted.has(r));
  return decision;
}

/** Operator-facing text for `trailgate policy explain`. */
export function explain(decision: RuleDecision): string {
  const lines: string[] = [];
  const total = decision.matched.length + decision.notMatched.length;
  if (decision.rights.length > 0) lines.push(`target ${shown(decision.target)}: granted ${decision.rights.join(', ')}`);
  else if (total === 0) lines.push(`target ${shown(decision.target)}: denied (no rules are configured; default deny)`);
  else lines.push(`target ${shown(decision.target)}: denied (none of ${total} rules matched; default deny)`);
  for (const m of decision.matched) {
    const limit = m.commands ? ` (exec only: ${m.commands.map((c) => quote(c)).join(', ')})` : '';
    lines.push(`  granted by rule ${quote(m.rule)}: ${m.rights.join(', ')}${limit}`);
  }
  for (const n of decision.notMatched) lines.push(`  rule ${quote(n.rule)} did not apply: ${n.reason}`);
  return lines.join('\n');
}
