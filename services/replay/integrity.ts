/** What the replay UI says about whether a session's record is whole and unforged. */
export interface IntegrityVerdict {
  /** `unavailable` when this deployment cannot check (no verifier configured or built in). */
  status: 'ok' | 'failed' | 'truncated' | 'unavailable';
  /** One line for people, e.g. which record failed and how. */
  summary: string;
  /** seq of the first record that failed, when one did. */
  failedSeq?: number;
  /** Machine-readable kind of failure, e.g. TG_VERIFY_LINK_BROKEN. */
  code?: string;
}

/** Checks one session; the UI depends on this and never on how the check is done. */
export interface IntegrityChecker {
  verify(sessionId: string): Promise<IntegrityVerdict>;
}

/** For a log without a hash chain: says so plainly instead of implying the session was checked. */
export const UNCHECKED: IntegrityChecker = {
  verify: () => Promise.resolve({ status: 'unavailable', summary: 'integrity verification is not available in this build: the record has not been checked' }),
};
