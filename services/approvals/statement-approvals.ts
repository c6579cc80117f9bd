import type { JobIdentity, ParameterValue } from '../../events/index.js';
import type { TrailRedactor } from '../masking/detectors/trail-redactor.js';
import type { ApprovalRecorder, Hold, HoldOutcome, TargetApprovals } from './approval-desk.js';
import type { ApprovalRule } from './config.js';
import { findGrant } from './planned-approvals.js';

/** What the relay does with a statement a rule holds: refuse it, hold it, or run it under an approved set or window. */
export type ApprovalCheck = { refuse: { sqlstate: string; message: string; hint: string } } | { hold: Hold } | { granted: string };

/** A held statement's end, as the answer the client gets (null: it runs). */
export function answerOf(o: HoldOutcome): { sqlstate: string; message: string; hint?: string } | null {
  switch (o.state) {
    case 'approved':
      return null;
    case 'rejected':
      return { sqlstate: '42501', message: `trailgate: statement rejected by ${o.deciders.join(', ')} (approval ${o.approvalId}): ${o.reason}` };
    case 'expired':
      return { sqlstate: '57014', message: `trailgate: ${o.reason} [TG_APPROVAL_EXPIRED]`, hint: 'ask the approvers sooner, or plan it with `trailgate approvals request` and apply once approved' };
    case 'withdrawn':
      return { sqlstate: '57014', message: `trailgate: canceling statement due to user request; approval ${o.approvalId} withdrawn` };
    default:
      return { sqlstate: '57P01', message: `trailgate: approval ${o.approvalId} abandoned: ${o.reason}` };
  }
}

/** One Postgres session's view of the approval rules of its target. */
export class StatementApprovals {
  constructor(
    private readonly rules: TargetApprovals,
    private readonly session: { target: string; identity: JobIdentity; sessionId: string; record: ApprovalRecorder; trail?: TrailRedactor | null },
  ) {}

  /** Null when no rule holds the statement: it goes on as if approvals did not exist (and without a promise). */
  check(s: { text: string; needs: readonly string[]; parameters?: ParameterValue[]; inTransaction: boolean }, notice: (message: string) => void): Promise<ApprovalCheck> | null {
    const rule = this.rules.statementRule(s.needs);
    if (!rule) return null;
    return this.checkHeld(rule, s, notice);
  }

  private async checkHeld(rule: ApprovalRule, s: { text: string; parameters?: ParameterValue[]; inTransaction: boolean }, notice: (message: string) => void): Promise<ApprovalCheck> {
    // Approved ahead for this run (plan and apply, or a window): runs unheld, in a transaction too.
    const desk = this.rules.desk;
    const grant = await findGrant(desk.store, { rule, target: this.session.target, identity: this.session.identity, text: s.text, ...(s.parameters?.length ? { parameters: s.parameters } : {}), trail: this.session.trail ?? null }, desk.now()).catch(() => null);
    if (grant) return { granted: grant.id };
    if (s.inTransaction && rule.inTransaction === 'refuse') {
      return {
        refuse: {
          sqlstate: '25001',
          message: `trailgate: rule ${rule.name} needs approval for this statement, and it is not held inside an open transaction (its locks would be held while people decide) [TG_APPROVAL_IN_TRANSACTION]`,
          hint: 'run it outside a transaction, or have it approved first with `trailgate approvals request --target ' + this.session.target + ' --file <sql>`',
        },
      };
    }
    return {
      hold: this.rules.desk.hold({
        rule,
        target: this.session.target,
        kind: 'statement',
        text: s.text,
        ...(s.parameters?.length ? { parameters: s.parameters } : {}),
        identity: this.session.identity,
        sessionId: this.session.sessionId,
        record: this.session.record,
        notice,
        trail: this.session.trail ?? null,
      }),
    };
  }
}
