import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobIdentity } from '../../events/index.js';
import { sqlcommenterComment, withComment } from '../../services/gateway/postgres/sqlcommenter.js';

const identity: JobIdentity = {
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github',
  profile: 'github',
  subject: 'repo:acme/payments:ref:refs/heads/main',
  expiresAt: '2026-11-25T00:00:00.000Z',
  ci: { repository: 'acme/payments', ref: 'refs/heads/main', runId: '42', runAttempt: '1', workflow: "deploy 'prod' */ drop", actor: 'octo cat' },
};

describe('sqlcommenter', () => {
  const comment = sqlcommenterComment(identity, 's-1');

  it('sorts keys and URL-encodes values, escaping quotes', () => {
    assert.equal(
      comment,
      "/*application='trailgate',tg_actor='octo%20cat',tg_ref='refs%2Fheads%2Fmain',tg_repository='acme%2Fpayments',tg_run_attempt='1',tg_run_id='42',tg_session='s-1',tg_workflow='deploy%20\\'prod\\'%20%2A%2F%20drop'*/",
    );
  });

  it('can never close the comment early or start a new line', () => {
    const body = comment.slice(2, -2);
    assert.ok(!body.includes('*/') && !body.includes('\n'));
  });

  it('goes before a final semicolon', () => {
    assert.equal(withComment('select 1;', comment), `select 1 ${comment};`);
    assert.equal(withComment('select 1  ', comment), `select 1 ${comment}`);
  });

  it('leaves statements that already carry a comment alone', () => {
    assert.equal(withComment('select 1 -- mine', comment), 'select 1 -- mine');
    assert.equal(withComment("select 1 /*action='x'*/", comment), "select 1 /*action='x'*/");
    assert.equal(withComment('   ', comment), '   ');
  });
});
