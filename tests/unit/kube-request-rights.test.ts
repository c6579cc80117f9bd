/** What a Kubernetes request is (verb, resource, namespace, name) and which right it needs, decided before it is sent. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { impersonationHeaders } from '../../services/gateway/kubernetes/impersonation.js';
import { checkKubeRequest, neededRight, type KubeRuleGrant } from '../../services/gateway/kubernetes/kube-rights.js';
import { readExitStatus, readResize } from '../../services/gateway/kubernetes/channel-protocol.js';
import { requestInfo } from '../../services/gateway/kubernetes/request-info.js';

const info = (method: string, url: string) => {
  const u = new URL(url, 'https://x');
  return requestInfo(method, u.pathname, u.searchParams);
};

describe('request info', () => {
  it('reads verbs, groups, namespaces, names and subresources as the API server does', () => {
    assert.deepEqual(info('GET', '/api/v1/namespaces/ci/pods/web-0'), { isResource: true, verb: 'get', apiGroup: '', apiVersion: 'v1', resource: 'pods', subresource: '', namespace: 'ci', name: 'web-0' });
    assert.equal(info('GET', '/api/v1/namespaces/ci/pods').verb, 'list');
    assert.equal(info('GET', '/api/v1/namespaces/ci/pods?watch=true').verb, 'watch');
    assert.equal(info('GET', '/api/v1/watch/namespaces/ci/pods').verb, 'watch');
    assert.equal(info('DELETE', '/api/v1/namespaces/ci/pods').verb, 'deletecollection');
    const d = info('PATCH', '/apis/apps/v1/namespaces/prod/deployments/api/scale');
    assert.deepEqual([d.verb, d.apiGroup, d.resource, d.subresource, d.namespace, d.name], ['patch', 'apps', 'deployments', 'scale', 'prod', 'api']);
    const ns = info('GET', '/api/v1/namespaces/prod');
    assert.deepEqual([ns.resource, ns.name, ns.namespace], ['namespaces', 'prod', 'prod']);
    assert.equal(info('GET', '/apis').isResource, false);
    assert.equal(info('GET', '/version').isResource, false);
  });
});

describe('rights', () => {
  const grants: KubeRuleGrant[] = [
    { rule: 'read-ci', rights: ['read', 'logs'], namespaces: ['ci-*'] },
    { rule: 'deploy', rights: ['write'], namespaces: ['prod'], resources: ['deployments.apps', 'configmaps'] },
  ];
  it('exec, attach and port-forward need their own right whatever the method (a WebSocket upgrade is a GET)', () => {
    assert.equal(neededRight(info('GET', '/api/v1/namespaces/ci/pods/p/exec?command=sh')), 'exec');
    assert.equal(neededRight(info('POST', '/api/v1/namespaces/ci/pods/p/exec')), 'exec');
    assert.equal(neededRight(info('GET', '/api/v1/namespaces/ci/pods/p/attach')), 'attach');
    assert.equal(neededRight(info('GET', '/api/v1/namespaces/ci/pods/p/portforward')), 'port-forward');
    assert.equal(neededRight(info('GET', '/api/v1/namespaces/ci/pods/p/log')), 'logs');
    assert.equal(neededRight(info('GET', '/api/v1/namespaces/ci/services/s/proxy/admin')), 'all');
  });
  it('namespace and resource globs limit a rule', () => {
    assert.equal(checkKubeRequest(grants, info('GET', '/api/v1/namespaces/ci-7/pods')).decision.outcome, 'allowed');
    const other = checkKubeRequest(grants, info('GET', '/api/v1/namespaces/prod/pods'));
    assert.equal(other.decision.outcome, 'denied');
    assert.match(other.reason!, /does not cover namespace 'prod'/);
    assert.equal(checkKubeRequest(grants, info('PATCH', '/apis/apps/v1/namespaces/prod/deployments/api')).decision.outcome, 'allowed');
    assert.equal(checkKubeRequest(grants, info('DELETE', '/api/v1/namespaces/prod/secrets/db')).decision.outcome, 'denied');
    assert.equal(checkKubeRequest(grants, info('GET', '/api/v1/namespaces/ci-1/pods/p/exec')).decision.outcome, 'denied');
    // cluster-wide resources are out of reach of a rule limited to namespaces
    assert.equal(checkKubeRequest(grants, info('GET', '/api/v1/nodes')).decision.outcome, 'denied');
    // discovery serves every granted job
    assert.equal(checkKubeRequest(grants, info('GET', '/apis')).decision.outcome, 'allowed');
  });
});

describe('impersonation', () => {
  it('names the job, its rules and its run; claims that cannot travel in a header are encoded', () => {
    const h = impersonationHeaders(
      { issuer: 'https://token.actions.githubusercontent.com', issuerName: 'github', profile: 'github', subject: 'repo:acme/app:ref:refs/heads/main', expiresAt: '', ci: { repository: 'acme/app', runId: '42', runAttempt: '1' } },
      [{ rule: 'deploy', rights: ['write'], kubeGroups: ['ci:deployers'] }],
      'sess-1',
    );
    assert.equal(h['impersonate-user'], 'trailgate:github:repo:acme/app:ref:refs/heads/main');
    assert.deepEqual(h['impersonate-group'], ['trailgate:rule:deploy', 'ci:deployers']);
    assert.equal(h['impersonate-extra-trailgate.dev%2frun-id'], '42/1');
    assert.equal(h['impersonate-extra-trailgate.dev%2fsession-id'], 'sess-1');
  });
});

describe('channel protocol', () => {
  it('reads the exit code from the v4/v5 error channel and resizes', () => {
    const failure = Buffer.from(JSON.stringify({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } }));
    assert.deepEqual(readExitStatus(failure, 'v5.channel.k8s.io'), { exitStatus: 3 });
    assert.deepEqual(readExitStatus(Buffer.from('{"status":"Success"}'), 'v4.channel.k8s.io'), { exitStatus: 0 });
    assert.equal(readExitStatus(Buffer.from('{"status":"Failure","message":"container not found"}'), 'v5.channel.k8s.io').exitStatus, null);
    assert.deepEqual(readResize(Buffer.from('{"Width":120,"Height":40}')), { cols: 120, rows: 40 });
    assert.equal(readResize(Buffer.from('{"Width":1e9,"Height":40}')), null);
    assert.equal(readResize(Buffer.from('not json')), null);
  });
});
