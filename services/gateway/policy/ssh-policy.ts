/**
 * The policy on an SSH session: the connect-time rule decision says which rights the job has; these
 * functions say what one request needs and whether the session has it, and by which rules.
 */
import type { StatementDecision } from '../../../events/index.js';
import type { SshRight } from '../../config/schema.js';
import { compileGlob } from './glob.js';

export interface SshGrant {
  rights: readonly string[];
  matched: readonly { rule: string; rights: readonly string[]; commands?: readonly string[] }[];
}

/**
 * What a wildcard in a command pattern never matches: the characters with which a shell chains,
 * substitutes or redirects commands. A pattern may still name them literally.
 */
export const SHELL_METACHARACTERS = ';&|`$<>()\n\r';

/** The server side of a legacy scp transfer, as OpenSSH's `scp -O` asks for it: `scp [-v -r -p -d] -t|-f PATH`. */
export interface ScpInvocation {
  /** `-t`: the client uploads to PATH; `-f`: it downloads from PATH. */
  direction: 'upload' | 'download';
  path: string;
  recursive: boolean;
}

const SCP_COMMAND = /^scp((?: -[vrpdqT]+)*) -([tf])(?: --)? ([^\s].*)$/;

/** Reads an exec command as an scp server invocation, or null; a path with shell metacharacters is not one. */
export function parseScpCommand(command: string): ScpInvocation | null {
  const m = SCP_COMMAND.exec(command);
  if (!m) return null;
  const path = m[3]!;
  if ([...path].some((c) => SHELL_METACHARACTERS.includes(c))) return null;
  return { direction: m[2] === 't' ? 'upload' : 'download', path, recursive: /r/.test(m[1] ?? '') };
}

/** The rules of the grant that give `right` (directly or through `all`). */
export function rulesGranting(grant: SshGrant, right: SshRight): string[] {
  return grant.matched.filter((m) => m.rights.includes(right) || m.rights.includes('all')).map((m) => m.rule);
}

/** A request that needs one right: allowed when any matching rule gives it. */
export function checkRight(grant: SshGrant, right: SshRight): StatementDecision {
  const rules = rulesGranting(grant, right);
  return rules.length ? { outcome: 'allowed', needs: [right], rules } : { outcome: 'denied', needs: [right], missing: [right] };
}

/** Allowed when one of the rights is granted (SFTP metadata requests serve readers and writers alike). */
export function checkAnyRight(grant: SshGrant, rights: readonly SshRight[]): StatementDecision {
  for (const right of rights) {
    const rules = rulesGranting(grant, right);
    if (rules.length) return { outcome: 'allowed', needs: [right], rules };
  }
  return { outcome: 'denied', needs: [...rights], missing: [...rights] };
}

export interface ExecDecision {
  decision: StatementDecision;
  /** Set when the command is a legacy scp transfer. */
  scp: ScpInvocation | null;
  /** For the client when denied: what is missing, in words. */
  reason?: string;
}

/**
 * An exec command is allowed by a rule granting `exec` whose `commands` (if any) match the whole line,
 * or, when it is a legacy scp transfer, by `sftp-write` (upload) or `sftp-read` (download).
 */
export function checkExec(grant: SshGrant, command: string): ExecDecision {
  const scp = parseScpCommand(command);
  if (scp) {
    const right: SshRight = scp.direction === 'upload' ? 'sftp-write' : 'sftp-read';
    const rules = rulesGranting(grant, right);
    if (rules.length) return { decision: { outcome: 'allowed', needs: [right], rules }, scp };
  }
  const execRules = grant.matched.filter((m) => m.rights.includes('exec') || m.rights.includes('all'));
  const rules = execRules.filter((m) => !m.commands || m.commands.some((p) => compileGlob(p, SHELL_METACHARACTERS)(command))).map((m) => m.rule);
  if (rules.length) return { decision: { outcome: 'allowed', needs: ['exec'], rules }, scp };
  const needs = scp ? ['exec', scp.direction === 'upload' ? 'sftp-write' : 'sftp-read'] : ['exec'];
  const reason =
    execRules.length === 0
      ? 'no rule grants exec'
      : `the command matches none of the exec patterns of rule${execRules.length > 1 ? 's' : ''} ${execRules.map((m) => `'${m.rule}'`).join(', ')}`;
  return { decision: { outcome: 'denied', needs, missing: needs }, scp, reason };
}
