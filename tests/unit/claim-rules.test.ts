import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JobIdentity } from '../../events/identity.js';
import { ClaimRule, type PostgresRight } from '../../services/config/schema.js';
import { ciContextFromClaims, scalarClaims } from '../../services/gateway/identity/claims.js';
import { decide, explain } from '../../services/gateway/policy/claim-rules.js';
import { compileGlob } from '../../services/gateway/policy/glob.js';

type Payload = Record<string, unknown>;

/** Identities are read from raw claims by the real profile mapping; an `undefined` override drops a claim. */
function identity(issuerName: string, profile: JobIdentity['profile'], base: Payload, over: Payload): JobIdentity {
  const payload = Object.fromEntries(Object.entries({ ...base, ...over }).filter(([, v]) => v !== undefined));
  return {
    issuer: `https://${issuerName}.example`,
    issuerName,
    profile,
    subject: String(payload['sub']),
    expiresAt: '2030-01-01T00:00:00Z',
    ci: ciContextFromClaims(profile, payload),
    claims: scalarClaims(payload),
  };
}

const GH_BASE: Payload = {
  sub: 'repo:acme/payments:ref:refs/heads/main',
  repository: 'acme/payments',
  repository_owner: 'acme',
  ref: 'refs/heads/main',
  ref_type: 'branch',
  workflow: 'deploy',
  workflow_ref: 'acme/payments/.github/workflows/deploy.yml@refs/heads/main',
  job_workflow_ref: 'acme/payments/.github/workflows/deploy.yml@refs/heads/main',
  event_name: 'push',
  actor: 'alice',
  runner_environment: 'github-hosted',
  run_attempt: '1',
};

const GL_BASE: Payload = {
  sub: 'project_path:acme/payments:ref_type:branch:ref:main',
  project_path: 'acme/payments',
  namespace_path: 'acme',
  ref: 'main',
  ref_path: 'refs/heads/main',
  ref_type: 'branch',
  ref_protected: 'true',
  pipeline_source: 'push',
  user_login: 'alice',
  runner_environment: 'gitlab-hosted',
};

const gh = (over: Payload = {}): JobIdentity => identity('github', 'github', GH_BASE, over);
const gl = (over: Payload = {}): JobIdentity => identity('gitlab', 'gitlab', GL_BASE, over);

/** Rules go through the config schema, so every case uses a rule the gateway would accept. */
const rule = (name: string, fields: Record<string, unknown>): ClaimRule =>
  ClaimRule.parse({ name, targets: ['payments'], rights: ['read'], ...fields });

const mainOnly = rule('main-only', { repository: 'acme/payments', ref: 'refs/heads/main', rights: ['read', 'write'] });

interface Case {
  name: string;
  rules: ClaimRule[];
  id: JobIdentity;
  target?: string;
  rights: PostgresRight[];
  matched?: string[];
  /** Rule name → pattern its reason must match. */
  reasons?: Record<string, RegExp>;
}

const cases: Case[] = [
  { name: 'no rules: default deny', rules: [], id: gh(), rights: [], matched: [] },
  { name: 'repository on its main branch', rules: [mainOnly], id: gh(), rights: ['read', 'write'], matched: ['main-only'] },
  {
    name: 'right repository, wrong branch',
    rules: [mainOnly],
    id: gh({ ref: 'refs/heads/feature/x' }),
    rights: [],
    reasons: { 'main-only': /^ref 'refs\/heads\/feature\/x' does not match 'refs\/heads\/main'$/ },
  },
  {
    name: 'GitHub fork PR names the base repository, so only ref/event tell it apart',
    rules: [mainOnly, rule('push-only', { repository: 'acme/payments', eventName: 'push' })],
    id: gh({ event_name: 'pull_request', ref: 'refs/pull/1/merge', sub: 'repo:acme/payments:pull_request' }),
    rights: [],
    reasons: { 'main-only': /^ref 'refs\/pull\/1\/merge'/, 'push-only': /^eventName 'pull_request' does not match 'push'$/ },
  },
  {
    name: 'GitHub PR allowed only by an explicit pull_request rule',
    rules: [mainOnly, rule('pr-read', { repository: 'acme/payments', eventName: 'pull_request', ref: 'refs/pull/*/merge' })],
    id: gh({ event_name: 'pull_request', ref: 'refs/pull/1/merge' }),
    rights: ['read'],
    matched: ['pr-read'],
  },
  {
    name: 'GitLab fork MR: project_path is the fork, a rule on the base project does not match',
    rules: [rule('base', { issuers: ['gitlab'], repository: 'acme/payments' })],
    id: gl({ project_path: 'mallory/payments', namespace_path: 'mallory', pipeline_source: 'merge_request_event', ref_protected: 'false' }),
    rights: [],
    reasons: { base: /^repository 'mallory\/payments' does not match 'acme\/payments'$/ },
  },
  {
    name: 'other workflow of the same repository',
    rules: [rule('deploy-wf', { repository: 'acme/payments', workflow: 'deploy' })],
    id: gh({ workflow: 'nightly' }),
    rights: [],
    reasons: { 'deploy-wf': /^workflow 'nightly' does not match 'deploy'$/ },
  },
  {
    name: 'reusable workflow pinned to main',
    rules: [rule('shared', { repositoryOwner: 'acme', jobWorkflowRef: 'acme/shared/.github/workflows/db.yml@refs/heads/main' })],
    id: gh({ job_workflow_ref: 'acme/shared/.github/workflows/db.yml@refs/heads/main' }),
    rights: ['read'],
    matched: ['shared'],
  },
  {
    name: 'reusable workflow from a branch',
    rules: [rule('shared', { repositoryOwner: 'acme', jobWorkflowRef: 'acme/shared/.github/workflows/db.yml@refs/heads/main' })],
    id: gh({ job_workflow_ref: 'acme/shared/.github/workflows/db.yml@refs/heads/evil' }),
    rights: [],
    reasons: { shared: /^jobWorkflowRef '.*@refs\/heads\/evil' does not match/ },
  },
  {
    name: "missing environment never matches environment: '*'",
    rules: [rule('any-env', { repository: 'acme/payments', environment: '*' })],
    id: gh(),
    rights: [],
    reasons: { 'any-env': /^environment is not set in the token \(rule requires '\*'\)$/ },
  },
  {
    name: 'empty environment counts as missing',
    rules: [rule('any-env', { repository: 'acme/payments', environment: '*' })],
    id: gh({ environment: '' }),
    rights: [],
    reasons: { 'any-env': /^environment is not set/ },
  },
  {
    name: 'environment glob matches',
    rules: [rule('prod', { repository: 'acme/payments', environment: 'prod-*', rights: ['write'] })],
    id: gh({ environment: 'prod-eu' }),
    rights: ['write'],
    matched: ['prod'],
  },
  {
    name: 'environment glob does not match staging',
    rules: [rule('prod', { repository: 'acme/payments', environment: ['prod-*', 'production'] })],
    id: gh({ environment: 'staging' }),
    rights: [],
    reasons: { prod: /^environment 'staging' does not match any of \['prod-\*', 'production'\]$/ },
  },
  {
    name: 'tag ref with refType',
    rules: [rule('release', { repository: 'acme/payments', ref: 'refs/tags/v*', refType: 'tag', rights: ['ddl'] })],
    id: gh({ ref: 'refs/tags/v1.2.3', ref_type: 'tag' }),
    rights: ['ddl'],
    matched: ['release'],
  },
  {
    name: 'tag rule: * does not cross / in the tag name',
    rules: [rule('release', { repository: 'acme/payments', ref: 'refs/tags/v*', refType: 'tag' })],
    id: gh({ ref: 'refs/tags/v1/evil', ref_type: 'tag' }),
    rights: [],
    reasons: { release: /^ref 'refs\/tags\/v1\/evil' does not match 'refs\/tags\/v\*'$/ },
  },
  {
    name: 'tag rule against a branch',
    rules: [rule('release', { repository: 'acme/payments', ref: 'refs/*/v*', refType: 'tag' })],
    id: gh({ ref: 'refs/heads/v1' }),
    rights: [],
    reasons: { release: /^refType 'branch' does not match 'tag'$/ },
  },
  {
    name: '** crosses /',
    rules: [rule('rel', { repository: 'acme/payments', ref: 'refs/heads/release/**' })],
    id: gh({ ref: 'refs/heads/release/2024/q1' }),
    rights: ['read'],
    matched: ['rel'],
  },
  {
    name: '* does not cross / (GitLab subgroup)',
    rules: [rule('flat', { repository: 'acme/*' }), rule('deep', { repository: 'acme/**', rights: ['write'] })],
    id: gl({ project_path: 'acme/team/payments', namespace_path: 'acme/team' }),
    rights: ['write'],
    matched: ['deep'],
    reasons: { flat: /^repository 'acme\/team\/payments' does not match 'acme\/\*'$/ },
  },
  {
    name: 'several rules grant a union',
    rules: [
      rule('reader', { repositoryOwner: 'acme', rights: ['read'] }),
      rule('writer', { repository: 'acme/payments', ref: 'refs/heads/main', rights: ['write', 'transaction'] }),
      rule('ddl-on-tags', { repository: 'acme/payments', refType: 'tag', rights: ['ddl'] }),
    ],
    id: gh(),
    rights: ['read', 'write', 'transaction'],
    matched: ['reader', 'writer'],
    reasons: { 'ddl-on-tags': /^refType 'branch' does not match 'tag'$/ },
  },
  {
    name: 'rule for another issuer',
    rules: [rule('gl-only', { issuers: ['gitlab'], repository: 'acme/payments' })],
    id: gh(),
    rights: [],
    reasons: { 'gl-only': /^issuer 'github' is not one of \[gitlab\]$/ },
  },
  {
    name: 'same repository name on GitLab does not match a GitHub rule',
    rules: [rule('gh-payments', { issuers: ['github'], repository: 'acme/payments' })],
    id: gl(),
    rights: [],
    reasons: { 'gh-payments': /^issuer 'gitlab' is not one of \[github\]$/ },
  },
  {
    name: 'same repository name on GitHub matches the GitHub rule',
    rules: [rule('gh-payments', { issuers: ['github'], repository: 'acme/payments' })],
    id: gh(),
    rights: ['read'],
    matched: ['gh-payments'],
  },
  {
    name: 'GitLab protected ref required and present',
    rules: [rule('protected', { repository: 'acme/payments', refProtected: true, rights: ['write'] })],
    id: gl(),
    rights: ['write'],
    matched: ['protected'],
  },
  {
    name: 'GitLab protected ref required, ref unprotected',
    rules: [rule('protected', { repository: 'acme/payments', refProtected: true })],
    id: gl({ ref_protected: 'false' }),
    rights: [],
    reasons: { protected: /^refProtected is false in the token \(rule requires true\)$/ },
  },
  {
    name: 'GitLab protected ref required, claim missing',
    rules: [rule('protected', { repository: 'acme/payments', refProtected: true })],
    id: gl({ ref_protected: undefined }),
    rights: [],
    reasons: { protected: /^refProtected is not set in the token \(rule requires true\)$/ },
  },
  {
    name: 'GitLab unprotected ref allowed by refProtected: false',
    rules: [rule('unprotected', { repository: 'acme/payments', refProtected: false })],
    id: gl({ ref_protected: 'false', ref_path: 'refs/heads/wip' }),
    rights: ['read'],
    matched: ['unprotected'],
  },
  {
    name: 'odd claim type: ref_protected as a JSON boolean is not read, so the rule fails',
    rules: [rule('protected', { repository: 'acme/payments', refProtected: true })],
    id: gl({ ref_protected: true }),
    rights: [],
    reasons: { protected: /^refProtected is not set/ },
  },
  {
    name: 'actor condition',
    rules: [rule('people', { repository: 'acme/payments', actor: ['alice', 'bob'] })],
    id: gh({ actor: 'carol' }),
    rights: [],
    reasons: { people: /^actor 'carol' does not match any of \['alice', 'bob'\]$/ },
  },
  {
    name: 'owner anchor: acme-evil is not acme',
    rules: [rule('owner', { repositoryOwner: 'acme' }), rule('repos', { repository: 'acme/*' })],
    id: gh({ repository: 'acme-evil/x', repository_owner: 'acme-evil', sub: 'repo:acme-evil/x:ref:refs/heads/main' }),
    rights: [],
    reasons: { owner: /^repositoryOwner 'acme-evil' does not match 'acme'$/, repos: /^repository 'acme-evil\/x' does not match/ },
  },
  {
    name: 'subject anchor (* stops at /, so :environment:NAME matches but :ref:refs/... would not)',
    rules: [rule('sub', { subject: 'repo:acme/payments:environment:*' })],
    id: gh({ sub: 'repo:acme/payments:environment:production', environment: 'production' }),
    rights: ['read'],
    matched: ['sub'],
  },
  {
    name: 'subject anchor vs the immutable repo:OWNER@ID/REPO@ID form',
    rules: [rule('sub', { subject: 'repo:acme/payments:**' })],
    id: gh({ sub: 'repo:acme@1234/payments@5678:ref:refs/heads/main' }),
    rights: [],
    reasons: { sub: /^subject 'repo:acme@1234\/payments@5678:ref:refs\/heads\/main' does not match/ },
  },
  {
    name: 'custom claim condition: runner_environment',
    rules: [rule('hosted', { repository: 'acme/payments', claims: { runner_environment: 'github-hosted' } })],
    id: gh({ runner_environment: 'self-hosted' }),
    rights: [],
    reasons: { hosted: /^claim 'runner_environment' 'self-hosted' does not match 'github-hosted'$/ },
  },
  {
    name: 'GitLab deployment_tier claim present',
    rules: [rule('tier', { repository: 'acme/payments', claims: { deployment_tier: 'production' }, rights: ['admin'] })],
    id: gl({ deployment_tier: 'production', environment: 'prod' }),
    rights: ['admin'],
    matched: ['tier'],
  },
  {
    name: 'GitLab deployment_tier claim missing',
    rules: [rule('tier', { repository: 'acme/payments', claims: { deployment_tier: 'production' } })],
    id: gl(),
    rights: [],
    reasons: { tier: /^claim 'deployment_tier' is not set in the token \(rule requires 'production'\)$/ },
  },
  {
    name: 'target glob matches',
    rules: [rule('t', { repository: 'acme/payments', targets: ['payments-*'] })],
    id: gh(),
    target: 'payments-eu',
    rights: ['read'],
    matched: ['t'],
  },
  {
    name: 'target glob does not match',
    rules: [rule('t', { repository: 'acme/payments', targets: ['payments-*'] })],
    id: gh(),
    target: 'orders',
    rights: [],
    reasons: { t: /^target 'orders' is not one of \[payments-\*\]$/ },
  },
  {
    name: "a rule granting 'all' keeps 'all'",
    rules: [rule('admin', { repository: 'acme/payments', rights: ['all'] }), rule('r', { repositoryOwner: 'acme' })],
    id: gh(),
    rights: ['read', 'all'],
    matched: ['admin', 'r'],
  },
  {
    name: 'case-sensitive: Acme/Payments is not acme/payments',
    rules: [rule('cased', { repository: 'Acme/Payments' })],
    id: gh(),
    rights: [],
    reasons: { cased: /^repository 'acme\/payments' does not match 'Acme\/Payments'$/ },
  },
  {
    name: 'regex specials are literal: . does not match any character',
    rules: [rule('dot', { repository: 'acme/my.app' })],
    id: gh({ repository: 'acme/myXapp' }),
    rights: [],
    reasons: { dot: /^repository 'acme\/myXapp' does not match 'acme\/my\.app'$/ },
  },
  {
    name: 'regex specials are literal: c++ and [a] match only themselves',
    rules: [rule('plus', { repository: 'acme/c++' }), rule('class', { repository: 'acme/[a]' })],
    id: gh({ repository: 'acme/c++' }),
    rights: ['read'],
    matched: ['plus'],
    reasons: { class: /does not match 'acme\/\[a\]'/ },
  },
  {
    name: 'odd claim types: numbers are stringified, objects dropped, prototype names are not claims',
    rules: [
      rule('num', { repository: 'acme/payments', claims: { run_attempt: '2' } }),
      rule('obj', { repository: 'acme/payments', claims: { nested: '**' } }),
      rule('proto', { repository: 'acme/payments', claims: { constructor: '**' } }),
    ],
    id: gh({ run_attempt: 2, nested: { a: 1 } }),
    rights: ['read'],
    matched: ['num'],
    reasons: { obj: /^claim 'nested' is not set/, proto: /^claim 'constructor' is not set/ },
  },
  {
    name: 'generic issuer maps only repository: other conditions are not set',
    rules: [rule('gen', { repository: 'acme/payments', ref: '**' })],
    id: identity('ci', 'generic', { sub: 'x', repository: 'acme/payments', ref: 'refs/heads/main' }, {}),
    rights: [],
    reasons: { gen: /^ref is not set in the token/ },
  },
];

describe('decide: table', () => {
  for (const c of cases) {
    test(c.name, () => {
      const d = decide(c.rules, c.id, c.target ?? 'payments');
      assert.deepEqual(d.rights, c.rights);
      if (c.matched) assert.deepEqual(d.matched.map((m) => m.rule), c.matched);
      for (const [name, pattern] of Object.entries(c.reasons ?? {})) {
        const miss = d.notMatched.find((n) => n.rule === name);
        assert.ok(miss, `rule ${name} should not have matched`);
        assert.match(miss.reason, pattern);
      }
      assert.equal(d.matched.length + d.notMatched.length, c.rules.length);
    });
  }
});

describe('decide: reasons and explain', () => {
  test('token values in reasons are cut to 120 characters and control characters escaped', () => {
    const evil = `refs/heads/x\n  granted by rule 'admin': all\u202e${'a'.repeat(500)}`;
    const d = decide([mainOnly], gh({ ref: evil }), 'payments');
    const reason = d.notMatched[0]?.reason ?? '';
    assert.ok(!/[\n\r\u202e]/.test(reason), reason);
    assert.match(reason, /\\n/);
    assert.match(reason, /\\u\{202e\}/);
    assert.match(reason, /…\(\d+ chars\)/);
    assert.ok(reason.length < 260, `reason too long: ${reason.length}`);
    assert.equal(explain(d).split('\n').length, 2);
  });

  test('explain lists grants and every rule that did not apply', () => {
    const rules = [rule('reader', { repositoryOwner: 'acme' }), mainOnly];
    const text = explain(decide(rules, gh({ ref: 'refs/heads/dev' }), 'payments'));
    assert.equal(
      text,
      [
        "target 'payments': granted read",
        "  granted by rule 'reader': read",
        "  rule 'main-only' did not apply: ref 'refs/heads/dev' does not match 'refs/heads/main'",
      ].join('\n'),
    );
  });

  test('explain says default deny', () => {
    assert.match(explain(decide([], gh(), 'payments')), /denied \(no rules are configured; default deny\)/);
    assert.match(explain(decide([mainOnly], gh(), 'orders')), /denied \(none of 1 rules matched; default deny\)/);
  });

  test('a rule without an anchor (built outside the schema) never matches', () => {
    const loose = { name: 'loose', targets: ['**'], rights: ['all'] } as ClaimRule;
    const d = decide([loose], gh(), 'payments');
    assert.deepEqual(d.rights, []);
    assert.match(d.notMatched[0]?.reason ?? '', /no anchor/);
  });
});

describe('compileGlob', () => {
  const table: [string, string, boolean][] = [
    ['main', 'main', true],
    ['main', 'Main', false],
    ['main', 'main2', false],
    ['main', 'xmain', false],
    ['', '', true],
    ['*', '', true],
    ['*', 'a/b', false],
    ['**', 'a/b/c', true],
    ['a/*/c', 'a/b/c', true],
    ['a/*/c', 'a/b/x/c', false],
    ['a/**/c', 'a/b/x/c', true],
    ['a/**/c', 'a/c', false],
    ['a/**c', 'a/c', true],
    ['a***b', 'a/x/b', true],
    ['?', 'é', true],
    ['?', '😀', true],
    ['?', '/', false],
    ['??', 'a', false],
    ['v?.*', 'v1.2', true],
    ['a.c', 'abc', false],
    ['a+', 'aa', false],
    ['a+', 'a+', true],
    ['(a|b)', 'a', false],
    ['(a|b)', '(a|b)', true],
    ['[ab]', 'a', false],
    ['^a$', '^a$', true],
    ['\\d', '1', false],
    ['\\d', '\\d', true],
    ['*x', 'ab\nx', true],
    ['a', 'a\n', false],
  ];
  for (const [pattern, value, expected] of table) {
    test(`${JSON.stringify(pattern)} ~ ${JSON.stringify(value)} → ${expected}`, () => {
      assert.equal(compileGlob(pattern)(value), expected);
    });
  }

  test('caches compiled patterns', () => {
    assert.equal(compileGlob('cache/*'), compileGlob('cache/*'));
  });

  test('many stars on a long value stay fast (no backtracking)', () => {
    const started = performance.now();
    assert.equal(compileGlob('**a**a**a**a**a**a**a**b')('a'.repeat(20000)), false);
    assert.ok(performance.now() - started < 1000);
  });
});
