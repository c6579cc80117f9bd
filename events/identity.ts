/**
 * The job identity carried by every record: who asked, proven by a verified CI token.
 * Field names follow the CI systems' own claims where they exist; ids stay strings as the issuers send them.
 */
export interface JobIdentity {
  /** `iss` of the verified token. */
  issuer: string;
  /** Configured short name of the issuer. */
  issuerName: string;
  /** Claim profile used to read the CI context. */
  profile: 'github' | 'gitlab' | 'generic';
  /** `sub` of the token, kept for reference; policy reads the discrete claims. */
  subject: string;
  /** `jti` when the issuer sets one. */
  tokenId?: string;
  /** Token expiry, ISO 8601. */
  expiresAt: string;
  ci: CiContext;
  /** Every scalar claim of the token as a string (registered JWT claims left out), for generic policy conditions. */
  claims?: Record<string, string>;
}

/** The pipeline run, read from the discrete claims of the token. */
export interface CiContext {
  repository?: string;
  repositoryId?: string;
  repositoryOwner?: string;
  workflow?: string;
  workflowRef?: string;
  jobWorkflowRef?: string;
  ref?: string;
  refType?: string;
  sha?: string;
  runId?: string;
  runAttempt?: string;
  runNumber?: string;
  actor?: string;
  environment?: string;
  eventName?: string;
  runnerEnvironment?: string;
  /** GitLab only: whether the ref is protected. */
  refProtected?: boolean;
  pipelineSource?: string;
  jobId?: string;
}
