/** The SCRAM client reads what the target sends during authentication; a hostile target must not stall the gateway. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_SCRAM_ITERATIONS, ScramClient } from '../../services/gateway/postgres/scram-client.js';

const nonceOf = (c: ScramClient) => c.initialResponse().slice('n,,n=,r='.length);

describe('SCRAM client', () => {
  // Found by fuzzing: i=2147483647 held a thread of the shared pool in PBKDF2 for about half an hour.
  test('refuses a server-first message asking for more iterations than the limit, without deriving the key', { timeout: 60_000 }, async () => {
    const client = new ScramClient('secret');
    await assert.rejects(client.continue(`r=${nonceOf(client)}srv,s=c2FsdA==,i=2147483647`), /2147483647 SCRAM iterations.*limit of 10000000.*scram_iterations/);
  });

  test('still answers a target at the limit and at PostgreSQL default', { timeout: 120_000 }, async () => {
    const client = new ScramClient('secret');
    assert.match(await client.continue(`r=${nonceOf(client)}srv,s=c2FsdA==,i=4096`), /^c=biws,r=.*srv,p=/);
    assert.equal(MAX_SCRAM_ITERATIONS, 10_000_000);
  });
});
