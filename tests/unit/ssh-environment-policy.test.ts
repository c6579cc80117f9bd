import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validateConfig } from '../../services/config/load.js';
import type { ClaimRule } from '../../services/config/schema.js';
import { dangerousEnv, dangerousEnvMatch } from '../../services/gateway/ssh/dangerous-env.js';
import { EnvironmentPolicy } from '../../services/gateway/ssh/environment-policy.js';

const rule = (extra: Partial<ClaimRule>): ClaimRule => ({ name: 'r', repository: 'acme/x', targets: ['web'], rights: ['exec'], ...extra });

describe('SSH environment policy', () => {
  it('relays only LANG, LC_* and TERM on an exec rule without env', () => {
    const policy = new EnvironmentPolicy([{ rule: 'r', rights: ['exec'] }], [rule({})]);
    for (const name of ['LANG', 'LC_ALL', 'LC_MESSAGES', 'TERM']) assert.deepEqual(policy.decide(name), { allowed: true, rules: ['r'], masked: false }, name);
    for (const name of ['MY_VAR', 'EDITOR', 'LANGUAGE_X']) assert.equal(policy.decide(name).allowed, false, name);
  });

  it('never relays loader or shell start-up variables on such a rule, even one a rule lists', () => {
    const policy = new EnvironmentPolicy([{ rule: 'r', rights: ['exec', 'sftp-read'] }], [rule({ env: ['MY_*'] })]);
    for (const name of ['BASH_ENV', 'ENV', 'PATH', 'IFS', 'PS4', 'SHELLOPTS', 'BASHOPTS', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'PYTHONPATH', 'PERL5OPT', 'NODE_OPTIONS', 'BASH_FUNC_ls%%']) {
      const d = policy.decide(name);
      assert.equal(d.allowed, false, name);
      assert.match(d.reason!, /relayed only on rules granting shell or all/);
    }
    assert.equal(policy.decide('MY_VAR').allowed, true);
  });

  it('relays anything but TRAILGATE_* when a matching rule grants shell or all', () => {
    const policy = new EnvironmentPolicy([{ rule: 'exec-only', rights: ['exec'] }, { rule: 'ops', rights: ['shell'] }], [rule({ name: 'exec-only' }), rule({ name: 'ops', rights: ['shell'] })]);
    assert.deepEqual(policy.decide('BASH_ENV'), { allowed: true, rules: ['ops'], masked: false });
    assert.equal(policy.decide('TRAILGATE_REPOSITORY').allowed, false);
    assert.equal(policy.decide('trailgate_run_id').allowed, false);
  });

  it('takes a locale by its name only, never a path to locale files', () => {
    const policy = new EnvironmentPolicy([{ rule: 'r', rights: ['exec'] }], [rule({})]);
    assert.equal(policy.decide('LANG', 'en_US.UTF-8').allowed, true);
    assert.equal(policy.decide('LC_ALL', 'C').allowed, true);
    const d = policy.decide('LC_ALL', '/tmp/evil-locale');
    assert.equal(d.allowed, false);
    assert.match(d.reason!, /not a path/);
  });

  it('masks the values a rule names in maskEnv', () => {
    const policy = new EnvironmentPolicy([{ rule: 'r', rights: ['exec'] }], [rule({ env: ['LANG', 'API_*'], maskEnv: ['API_*'] })]);
    assert.deepEqual(policy.decide('API_TOKEN'), { allowed: true, rules: ['r'], masked: true });
    assert.equal(policy.decide('LANG').masked, false);
  });

  it('finds dangerous names behind globs', () => {
    assert.ok(dangerousEnvMatch('*'));
    assert.ok(dangerousEnvMatch('L*'));
    assert.ok(dangerousEnvMatch('LD_*'));
    assert.ok(dangerousEnvMatch('PYTHON*'));
    assert.ok(dangerousEnvMatch('BASH_ENV'));
    assert.equal(dangerousEnvMatch('LC_*'), null);
    assert.equal(dangerousEnvMatch('MY_VAR'), null);
    assert.equal(dangerousEnv('LANG'), null);
  });
});

describe('env in the configuration', () => {
  const config = (env: string[]) => ({ policy: { rules: [{ name: 'deploy', repository: 'acme/x', targets: ['web'], rights: ['exec'], env }] } });

  it('accepts harmless names and globs', () => {
    const rules = validateConfig(config(['LANG', 'LC_*', 'TERM', 'MY_VAR'])).policy.rules;
    assert.deepEqual(rules[0]!.env, ['LANG', 'LC_*', 'TERM', 'MY_VAR']);
  });

  for (const name of ['LD_PRELOAD', 'BASH_ENV', 'PATH', 'ENV', 'IFS', 'PS4', 'SHELLOPTS', 'BASHOPTS', 'PYTHONSTARTUP', 'PERL5OPT', 'NODE_OPTIONS', 'LD_*', '*']) {
    it(`refuses ${name} at load, naming the key`, () => {
      assert.throws(
        () => validateConfig(config(['LANG', name])),
        (e: ConfigError) => {
          assert.equal(e.code, 'TG_CONFIG_INVALID');
          assert.match(e.message, /policy\.rules\.0\.env\.1/);
          assert.match(e.message, /never relayed/);
          return true;
        },
      );
    });
  }

  it('takes tokenReuse per issuer and refuses unknown values', () => {
    const issuer = { name: 'gh', issuer: 'https://token.actions.githubusercontent.com', audience: 'trailgate' };
    assert.equal(validateConfig({ identity: { issuers: [{ ...issuer, tokenReuse: 'single-session' }] } }).identity.issuers[0]!.tokenReuse, 'single-session');
    assert.throws(() => validateConfig({ identity: { issuers: [{ ...issuer, tokenReuse: 'sometimes' }] } }), /identity\.issuers\.0\.tokenReuse/);
  });
});
