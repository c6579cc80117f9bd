/** How a record, a session or a ledger fails verification; each names a different attack or accident. */
export type FailureKind =
  /** A record's content no longer matches its hash. */
  | 'modified'
  /** A record is gone: a gap in the sequence, or a link to a record that is not there. */
  | 'missing'
  /** A record sits at another position than the one it was written at. */
  | 'reordered'
  /** A record that the gateway never wrote sits between two that it did. */
  | 'inserted'
  /** A record written for another session. */
  | 'foreign'
  /** A record after the session's signed end. */
  | 'after-end'
  /** A signed chain head that does not match the records (rewritten after signing). */
  | 'checkpoint-mismatch'
  /** A signature that does not verify with the trusted key of its id. */
  | 'bad-signature'
  /** A signature by a key the trusted key set does not hold. */
  | 'unknown-key'
  /** A published key whose material no longer matches its id or the trusted copy. */
  | 'key-replaced'
  /** A record's envelope (instance, client, identity, target) disagrees with the chained events. */
  | 'envelope-mismatch'
  /** No signed end: the tail was cut off, or the session is still open. */
  | 'truncated'
  /** Closed by a restarted gateway: intact up to the abort, the tail after it is lost. */
  | 'aborted'
  /** A session the gateway's signed ledger names is not in the log. */
  | 'session-missing'
  /** The ledger's own chain or signatures do not hold. */
  | 'ledger-broken'
  /** The ledger ends before the copy held off the machine does: its tail was cut. */
  | 'ledger-cut'
  /** A session older than the summary interval that no signed summary names. */
  | 'unlisted';

export interface Failure {
  kind: FailureKind;
  /** The first record that fails (a session's seq, or a ledger entry's seq); null when none applies. */
  seq: number | null;
  message: string;
}

export type Status = 'intact' | 'truncated' | 'tampered';

export interface SessionVerdict {
  sessionId: string;
  status: Status;
  records: number;
  /** The highest seq covered by a valid signature. */
  signedThrough: number;
  /**
   * Records whose content a SIEM sink cut to its field limit: their own hash cannot be recomputed, but
   * it is linked by the next record's `prev` and covered by the signed checkpoints. Present only when any.
   */
  contentUnchecked?: number[];
  failure?: Failure;
}

export interface LedgerVerdict {
  instance: string;
  entries: number;
  sessionsListed: number;
  failure?: Failure;
}

export interface VerifyReport {
  source: string;
  trust: string;
  sessions: SessionVerdict[];
  ledgers: LedgerVerdict[];
  /** Problems with the key set itself (a key replaced under its id). */
  keys: Failure[];
  /** Sessions in the log that no signed summary names yet (recent ones). */
  unlisted: string[];
  /** Sessions that a signed summary should name by now and none does: the ledger was cut or never written. */
  unnamed: { sessionId: string; instance: string; startedAt: string; failure: Failure }[];
  /** The off-machine copy of the ledgers the local ones were compared with, when one was given. */
  ledgerCopy?: string;
  ok: boolean;
}

export const TAMPERING: ReadonlySet<FailureKind> = new Set(['modified', 'missing', 'reordered', 'inserted', 'foreign', 'after-end', 'checkpoint-mismatch', 'bad-signature', 'unknown-key', 'key-replaced', 'envelope-mismatch', 'session-missing', 'ledger-broken', 'ledger-cut', 'unlisted']);
