/**
 * The policy on one Kubernetes request: which right it needs (read, write, exec, attach, port-forward,
 * logs) and which of the session's matching rules give that right in its namespace and on its resource.
 * Exec, attach and port-forward need their own right whatever the HTTP method (a WebSocket upgrade is a
 * GET), as the API server's AuthorizePodWebsocketUpgradeCreatePermission does since 1.35.
 */
import type { StatementDecision } from '../../../events/index.js';
import type { ClaimRule } from '../../config/schema.js';
import { compileGlob } from '../policy/glob.js';
import type { KubeRight } from './kube-config.js';
import { qualifiedResource, type RequestInfo } from './request-info.js';

/** A matching rule as the Kubernetes side uses it. */
export interface KubeRuleGrant {
  rule: string;
  rights: readonly string[];
  namespaces?: readonly string[];
  resources?: readonly string[];
  kubeGroups?: readonly string[];
  recordStdin?: boolean;
}

/** Builds the grants from the connect-time decision's matched rules and the rules they name. */
export function kubeGrants(matched: readonly { rule: string; rights: readonly string[] }[], rules: readonly ClaimRule[]): KubeRuleGrant[] {
  return matched.map((m) => {
    const r = rules.find((x) => x.name === m.rule);
    return {
      rule: m.rule,
      rights: m.rights,
      ...(r?.namespaces ? { namespaces: r.namespaces } : {}),
      ...(r?.resources ? { resources: r.resources } : {}),
      ...(r?.kubeGroups ? { kubeGroups: r.kubeGroups } : {}),
      ...(r?.recordStdin ? { recordStdin: true } : {}),
    };
  });
}

const READ_VERBS = new Set(['get', 'list', 'watch']);

/** The right a request needs; null for a path no rule can open (a proxy subresource, an unknown verb). */
export function neededRight(info: RequestInfo): KubeRight | 'all' | null {
  if (!info.isResource) return 'read';
  if (info.resource === 'pods') {
    if (info.subresource === 'exec') return 'exec';
    if (info.subresource === 'attach') return 'attach';
    if (info.subresource === 'portforward') return 'port-forward';
    if (info.subresource === 'log') return 'logs';
  }
  // proxy reaches any port of a pod, service or node with the gateway's rights: only `all` opens it.
  if (info.subresource === 'proxy' || info.resource === 'proxy') return 'all';
  if (READ_VERBS.has(info.verb)) return 'read';
  if (['create', 'update', 'patch', 'delete', 'deletecollection'].includes(info.verb)) return 'write';
  return null;
}

function ruleCovers(g: KubeRuleGrant, right: string, info: RequestInfo): string | null {
  // Discovery (/api, /apis, /version, /openapi) serves every granted job: kubectl reads it before anything.
  if (!info.isResource) return null;
  if (!(g.rights.includes(right) || g.rights.includes('all'))) return `rule '${g.rule}' does not grant ${right}`;
  if (g.namespaces) {
    if (!info.namespace) return `rule '${g.rule}' is limited to namespaces and this is cluster-wide`;
    if (!g.namespaces.some((p) => compileGlob(p)(info.namespace))) return `rule '${g.rule}' does not cover namespace '${info.namespace}'`;
  }
  if (g.resources) {
    const resource = qualifiedResource(info);
    if (!g.resources.some((p) => compileGlob(p)(resource))) return `rule '${g.rule}' does not cover resource '${resource}'`;
  }
  return null;
}

export interface KubeDecision {
  decision: StatementDecision;
  /** When denied: why, in words, for the client's Status message. */
  reason?: string;
  /** The rules that allowed it. */
  grants: KubeRuleGrant[];
}

export function checkKubeRequest(grants: readonly KubeRuleGrant[], info: RequestInfo): KubeDecision {
  const right = neededRight(info);
  if (right === null) return { decision: { outcome: 'denied', needs: [info.verb], missing: [info.verb] }, reason: `the gateway does not relay the verb '${info.verb}'`, grants: [] };
  const allowed: KubeRuleGrant[] = [];
  const why: string[] = [];
  for (const g of grants) {
    const miss = ruleCovers(g, right, info);
    if (miss === null) allowed.push(g);
    else why.push(miss);
  }
  if (allowed.length) return { decision: { outcome: 'allowed', needs: [right], rules: allowed.map((g) => g.rule) }, grants: allowed };
  return { decision: { outcome: 'denied', needs: [right], missing: [right] }, reason: `${right} is not granted here: ${why.join('; ') || 'no rule matched'}`, grants: [] };
}
