import type { Approval, ApprovalState, Review } from './approval.js';

/**
 * Where approvals and reviews are kept and shared: a table in the embedded log's SQLite file, or the
 * `<prefix>.approvals` Kafka topic every gateway and reviewer reads. Reviewers write reviews; the gateway
 * holding the statement reads them, decides, and records the decision in the session's chain.
 */
export interface ApprovalStore {
  /** A new pending approval (the gateway that holds it). */
  open(approval: Approval): Promise<void>;
  /** The final state (the gateway that held it). */
  settle(id: string, state: Exclude<ApprovalState, 'pending'>, deciders: string[], reason?: string): Promise<void>;
  /** A reviewer's verdict; 'decided' when the approval is no longer pending, 'unknown' when there is none. */
  review(review: Review): Promise<'ok' | 'decided' | 'unknown'>;
  /** Every review of an approval, in the order they were stored. */
  reviews(id: string): Promise<Review[]>;
  get(id: string): Promise<Approval | null>;
  /** Newest first. */
  list(o?: { state?: ApprovalState; limit?: number }): Promise<Approval[]>;
  /** Approved statement sets and windows on a target for one run id (the caller checks the whole run and the rule). */
  granted(target: string, runId: string): Promise<Approval[]>;
  /** Reads up to what other processes have published by now (Kafka); absent where every read is current. */
  catchUp?(): Promise<void>;
  /** Pending approvals this instance held before it restarted: nothing held survives a restart. */
  abandonInstance(instance: string): Promise<string[]>;
  /** Called when reviews may have arrived (Kafka consumer, or a reviewer in this process). */
  onChange(listener: (approvalId: string) => void): () => void;
  close(): Promise<void>;
}
