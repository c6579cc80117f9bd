import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, validateConfig } from '../../services/config/load.js';
import { resolveSecret } from '../../services/config/secrets.js';

describe('configuration', () => {
  it('accepts the example file in the repository', () => {
    const config = loadConfig(join(import.meta.dirname, '../../trailgate.yaml'));
    assert.equal(config.postgres.listen.port, 6432);
    assert.equal(config.recording.mode, 'strict');
    assert.equal(config.identity.issuers[0]?.issuer, 'https://token.actions.githubusercontent.com');
  });

  it('fills defaults for an empty file', () => {
    const config = validateConfig({});
    assert.equal(config.postgres.tls.requireForRemote, true);
    assert.deepEqual(config.targets, {});
  });

  it('names every offending key', () => {
    assert.throws(
      () => validateConfig({ targets: { orders: { host: 'db', database: 'orders', user: 'ci', port: 70000 } }, identity: { issuers: [{ name: 'x', issuer: 'https://x', audience: [], algorithms: ['HS256'] }] } }),
      (e: ConfigError) => {
        assert.equal(e.code, 'TG_CONFIG_INVALID');
        assert.match(e.message, /targets\.orders\.port/);
        assert.match(e.message, /identity\.issuers\.0\.audience/);
        assert.match(e.message, /identity\.issuers\.0\.algorithms\.0/);
        return true;
      },
    );
  });

  it('takes database roles per set of rights on a Postgres target, and names a bad one', () => {
    const orders = { host: 'db', database: 'orders', user: 'ci' };
    const config = validateConfig({ targets: { orders: { ...orders, roles: [{ rights: ['read', 'session'], role: 'orders_reader' }] } } });
    const target = config.targets.orders!;
    assert.deepEqual(target.kind === 'postgres' ? target.roles : null, [{ rights: ['read', 'session'], role: 'orders_reader' }]);
    assert.throws(() => validateConfig({ targets: { orders: { ...orders, roles: [{ rights: ['shell'], role: 'x' }] } } }), /targets\.orders\.roles\.0\.rights\.0/);
    assert.throws(() => validateConfig({ targets: { orders: { ...orders, roles: [{ rights: ['read'] }] } } }), /targets\.orders\.roles\.0\.role/);
  });

  it('refuses an issuer with both a JWKS URL and a JWKS file', () => {
    assert.throws(() => validateConfig({ identity: { issuers: [{ name: 'x', issuer: 'https://x', audience: 'a', jwksUri: 'https://x/jwks', jwksFile: '/k.json' }] } }), /jwksUri or jwksFile/);
  });

  it('reports YAML syntax errors with the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-config-'));
    const file = join(dir, 'trailgate.yaml');
    writeFileSync(file, 'targets: [unclosed\n');
    assert.throws(() => loadConfig(file), (e: Error) => e.message.startsWith(file) && /not valid YAML/.test(e.message));
  });

  it('reads secrets from the environment and from files, and names the key when one is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-secret-'));
    writeFileSync(join(dir, 'pw'), 's3cret-from-file\n');
    process.env.TG_TEST_SECRET = 's3cret-from-env';
    assert.equal(resolveSecret({ env: 'TG_TEST_SECRET' }, 'targets.a.password'), 's3cret-from-env');
    assert.equal(resolveSecret({ file: join(dir, 'pw') }, 'targets.a.password'), 's3cret-from-file');
    assert.throws(() => resolveSecret({ env: 'TG_TEST_UNSET_SECRET' }, 'targets.a.password'), /targets\.a\.password refers to environment variable TG_TEST_UNSET_SECRET/);
    assert.throws(() => resolveSecret({ file: join(dir, 'missing') }, 'targets.b.password'), (e: Error) => /targets\.b\.password/.test(e.message) && !e.message.includes('s3cret'));
  });
});
