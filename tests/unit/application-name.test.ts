import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobIdentity } from '../../events/index.js';
import { applicationNameFor } from '../../services/gateway/postgres/application-name.js';

const identity = (ci: JobIdentity['ci'], subject = 'repo:acme/payments:ref:refs/heads/main'): JobIdentity => ({
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github',
  profile: 'github',
  subject,
  expiresAt: new Date().toISOString(),
  ci,
});

describe('application_name for the target', () => {
  it('is a compact tag of repository, run and attempt', () => {
    assert.equal(applicationNameFor(identity({ repository: 'acme/payments', runId: '123456', runAttempt: '2' })), 'tg:acme/payments:123456:2');
  });

  it('stays within 63 bytes of printable ASCII and keeps the run id whole', () => {
    const name = applicationNameFor(identity({ repository: `acme/${'very-long-repository-name-'.repeat(5)}ünïcode`, runId: '98765432101234', runAttempt: '1' }));
    assert.ok(Buffer.byteLength(name) <= 63, name);
    assert.match(name, /^[\x20-\x7e]+$/);
    assert.ok(name.endsWith(':98765432101234:1'), name);
  });

  it('falls back to the subject when the issuer sends no repository', () => {
    assert.equal(applicationNameFor(identity({}, 'svc')), 'tg:svc:-:1');
  });
});
