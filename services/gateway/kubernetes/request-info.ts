/**
 * What a Kubernetes API request is about, read from its path and method the way the API server's
 * RequestInfoFactory reads it (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go).
 */
export interface RequestInfo {
  /** False for discovery and other non-resource paths (/api, /apis, /version, /openapi/v3, /healthz). */
  isResource: boolean;
  verb: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/** `path` is below the target prefix and without the query; `query` is the URL's search params. */
export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const info: RequestInfo = { isResource: false, verb: method.toLowerCase(), apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
  let parts = path.split('/').filter((p) => p !== '');
  if (parts[0] === 'api') {
    if (parts.length < 2) return info;
    info.apiVersion = parts[1]!;
    parts = parts.slice(2);
  } else if (parts[0] === 'apis') {
    if (parts.length < 3) return info;
    info.apiGroup = parts[1]!;
    info.apiVersion = parts[2]!;
    parts = parts.slice(3);
  } else {
    return info;
  }
  if (parts.length === 0) return info;
  info.isResource = true;
  let watchPath = false;
  if (parts[0] === 'watch') {
    watchPath = true;
    parts = parts.slice(1);
  }
  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      info.namespace = parts[1]!;
      // /namespaces/{name} and /namespaces/{name}/status are the namespace object itself
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
    }
  }
  info.resource = parts[0] ?? '';
  info.name = parts[1] ?? '';
  info.subresource = parts[2] ?? '';
  if (info.resource === 'namespaces' && info.namespace && parts.length <= 3) {
    info.name = info.namespace;
    info.subresource = parts[2] ?? '';
  }
  const m = method.toUpperCase();
  if (watchPath || (m === 'GET' && (query.get('watch') === 'true' || query.get('watch') === '1'))) info.verb = 'watch';
  else if (m === 'GET' || m === 'HEAD') info.verb = info.name ? 'get' : 'list';
  else if (m === 'POST') info.verb = 'create';
  else if (m === 'PUT') info.verb = 'update';
  else if (m === 'PATCH') info.verb = 'patch';
  else if (m === 'DELETE') info.verb = info.name ? 'delete' : 'deletecollection';
  return info;
}

/** `pods`, or `deployments.apps` for a resource outside the core group: what rules' `resources` globs match. */
export function qualifiedResource(info: RequestInfo): string {
  return info.apiGroup ? `${info.resource}.${info.apiGroup}` : info.resource;
}
