import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendSettings } from '../../services/gateway/policy/backend-settings.js';

const ROLES = [
  { rights: ['read', 'transaction', 'session'] as const, role: 'orders_reader' },
  { rights: ['read', 'write', 'transaction', 'session'] as const, role: 'orders writer' },
].map((r) => ({ ...r, rights: [...r.rights] }));

describe('backendSettings', () => {
  it('starts a session without a write right read-only', () => {
    assert.deepEqual(backendSettings(['read', 'transaction', 'session'], []), { readOnly: true, options: '-c default_transaction_read_only=on' });
    assert.equal(backendSettings(['read', 'function', 'code'], []).readOnly, true, 'code runs, the database holds it to read-only');
  });

  it('leaves a session that may write, change the schema or administer as the target configures it', () => {
    for (const right of ['write', 'ddl', 'admin', 'all']) assert.deepEqual(backendSettings(['read', right], []), { readOnly: false });
  });

  it('ignores SSH rights when it judges a Postgres session', () => {
    assert.equal(backendSettings(['read', 'shell', 'sftp-write'], []).readOnly, true);
  });

  it('picks the first role whose rights cover all of the session rights', () => {
    assert.deepEqual(backendSettings(['read'], ROLES), { readOnly: true, role: 'orders_reader', options: '-c default_transaction_read_only=on -c role=orders_reader' });
    const writer = backendSettings(['read', 'write'], ROLES);
    assert.equal(writer.role, 'orders writer');
    assert.equal(writer.options, '-c role=orders\\ writer', 'a space in a role name is escaped for the server');
    assert.deepEqual(backendSettings(['read', 'ddl'], ROLES), { readOnly: false }, 'no entry covers ddl: the target user');
    assert.equal(backendSettings(['all'], ROLES).role, undefined);
  });
});
