import type { ClaimRule } from '../../config/schema.js';
import { compileGlob, type GlobMatcher } from '../policy/glob.js';
import { dangerousEnv } from './dangerous-env.js';

/** What a rule without its own `env` relays: the locale and the terminal type. */
export const DEFAULT_ENV = ['LANG', 'LC_*', 'TERM'] as const;

const LOCALE = /^(LANG|LANGUAGE|LC_[A-Z_]+)$/;
const LOCALE_VALUE = /^[A-Za-z0-9_.@:-]*$/;

export interface EnvDecision {
  allowed: boolean;
  /** Why the gateway refuses it. */
  reason?: string;
  /** Rules that allow it. */
  rules?: string[];
  /** A rule's `maskEnv` names it: its value is not recorded. */
  masked: boolean;
}

interface RuleEnv {
  rule: string;
  /** shell or all: the job can run anything anyway, so the target's AcceptEnv alone decides. */
  open: boolean;
  allow: GlobMatcher[];
  mask: GlobMatcher[];
}

/**
 * Which client environment variables an SSH session relays. On rules that grant `shell` or `all`,
 * any variable but the gateway's own TRAILGATE_*; on the others only the rule's `env` list (default
 * LANG, LC_*, TERM), and never a loader or shell start-up variable, so an exec limited to a command
 * pattern runs that command and nothing a variable could make it load first.
 */
export class EnvironmentPolicy {
  private readonly rules: RuleEnv[];

  constructor(matched: readonly { rule: string; rights: readonly string[] }[], rules: readonly ClaimRule[]) {
    this.rules = matched.map((m) => {
      const rule = rules.find((r) => r.name === m.rule);
      return {
        rule: m.rule,
        open: m.rights.includes('shell') || m.rights.includes('all'),
        allow: (rule?.env ?? DEFAULT_ENV).map((p) => compileGlob(p)),
        mask: (rule?.maskEnv ?? []).map((p) => compileGlob(p)),
      };
    });
  }

  decide(name: string, value = ''): EnvDecision {
    const masked = this.rules.some((r) => r.mask.some((m) => m(name)));
    if (/^TRAILGATE_/i.test(name)) return { allowed: false, reason: 'TRAILGATE_* variables are set by the gateway', masked };
    const open = this.rules.filter((r) => r.open).map((r) => r.rule);
    if (open.length) return { allowed: true, rules: open, masked };
    const danger = dangerousEnv(name);
    if (danger) return { allowed: false, reason: `${danger}; it is relayed only on rules granting shell or all`, masked };
    const rules = this.rules.filter((r) => r.allow.some((m) => m(name))).map((r) => r.rule);
    // A locale named by a path makes the C library load locale files from wherever the client says.
    if (rules.length && LOCALE.test(name) && !LOCALE_VALUE.test(value)) return { allowed: false, reason: `${name} must name a locale (letters, digits, _ . @ -), not a path`, masked };
    if (rules.length) return { allowed: true, rules, masked };
    return { allowed: false, reason: `no rule's env lists ${name} (default: ${DEFAULT_ENV.join(', ')})`, masked };
  }
}
