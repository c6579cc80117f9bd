import type { IncomingHttpHeaders } from 'node:http';
import type { JobIdentity } from '../../../events/index.js';
import type { KubeRuleGrant } from './kube-rights.js';

/** The impersonation headers a client sent, by name; any of them gets the request refused (only the gateway impersonates). */
export function clientImpersonation(headers: IncomingHttpHeaders): string[] {
  return Object.keys(headers).filter((h) => h.startsWith('impersonate-'));
}

/** The user a job becomes in the cluster: `trailgate:<issuer name>:<subject>`. */
export function impersonatedUser(identity: JobIdentity): string {
  return `trailgate:${identity.issuerName}:${identity.subject}`;
}

/** Extra keys are lower case and percent-encoded in the header name (`trailgate.dev%2Frun-id`). */
const extra = (key: string): string => `impersonate-extra-${encodeURIComponent(`trailgate.dev/${key}`).toLowerCase()}`;

/**
 * Headers toward the cluster: the job as user, `trailgate:rule:<rule>` and the rules' kubeGroups as
 * groups, and the run in Impersonate-Extra-*, so that the cluster's own audit log names the run.
 */
export function impersonationHeaders(identity: JobIdentity, grants: readonly KubeRuleGrant[], sessionId: string): Record<string, string | string[]> {
  const groups = new Set<string>();
  for (const g of grants) {
    groups.add(`trailgate:rule:${g.rule}`);
    for (const k of g.kubeGroups ?? []) groups.add(k);
  }
  const ci = identity.ci ?? {};
  const headers: Record<string, string | string[]> = {
    'impersonate-user': headerSafe(impersonatedUser(identity)),
    'impersonate-group': [...groups].map(headerSafe),
    [extra('session-id')]: sessionId,
  };
  if (ci.repository) headers[extra('repository')] = headerSafe(ci.repository);
  if (ci.runId) headers[extra('run-id')] = headerSafe(ci.runAttempt ? `${ci.runId}/${ci.runAttempt}` : ci.runId);
  return headers;
}

/** Claims are the issuer's, not ours: a value that cannot travel in a header is percent-encoded rather than dropped. */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}
