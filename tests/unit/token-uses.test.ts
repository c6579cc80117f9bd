import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { JobIdentity } from '../../events/index.js';
import { SqliteTokenUses } from '../../services/gateway/identity/sqlite-token-uses.js';
import { TokenReusedError, TokenUses, type TokenReusePolicy } from '../../services/gateway/identity/token-uses.js';

const dir = mkdtempSync(join(tmpdir(), 'tg-token-uses-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function identity(o: { jti?: string | null; expiresInSeconds?: number } = {}): JobIdentity {
  return {
    issuer: 'https://token.actions.githubusercontent.com',
    issuerName: 'github',
    profile: 'github',
    subject: 'repo:acme/x',
    ...(o.jti === null ? {} : { tokenId: o.jti ?? `jti-${++n}` }),
    expiresAt: new Date(Date.now() + (o.expiresInSeconds ?? 600) * 1000).toISOString(),
    ci: {},
  };
}

function registry(policy: TokenReusePolicy, file = join(dir, `log-${++n}.db`), maxEntries?: number) {
  return { file, uses: new TokenUses({ store: new SqliteTokenUses(file), instance: 'gw', policyOf: () => policy, clockSkewSeconds: 60, ...(maxEntries ? { maxEntries } : {}) }) };
}

describe('token uses', () => {
  it('same-client: the first client may reuse its token, another address is refused with TG_AUTH_TOKEN_REUSED', async () => {
    const { uses } = registry('same-client');
    const id = identity();
    assert.equal(await uses.admit(id, 'token-a', '10.0.0.1', 's1'), undefined);
    const again = await uses.admit(id, 'token-a', '::ffff:10.0.0.1', 's2');
    assert.deepEqual([again?.outcome, again?.sameClient, again?.first.sessionId], ['allowed', true, 's1']);
    await assert.rejects(uses.admit(id, 'token-a', '10.0.0.2', 's3'), (e: TokenReusedError) => {
      assert.equal(e.code, 'TG_AUTH_TOKEN_REUSED');
      assert.deepEqual([e.reuse.outcome, e.reuse.sameClient, e.reuse.first.client], ['refused', false, '10.0.0.1']);
      assert.ok(!e.message.includes('token-a'));
      return true;
    });
    await uses.close();
  });

  it('any allows every address; single-session refuses every second session', async () => {
    const any = registry('any').uses;
    const id = identity();
    await any.admit(id, 't', '10.0.0.1', 's1');
    assert.equal((await any.admit(id, 't', '10.0.0.9', 's2'))?.outcome, 'allowed');
    const single = registry('single-session').uses;
    await single.admit(id, 't', '10.0.0.1', 's1');
    await assert.rejects(single.admit(id, 't', '10.0.0.1', 's2'), /one session per token/);
    await any.close();
    await single.close();
  });

  it('names a token without jti by its SHA-256 digest, and never stores the token', async () => {
    const { uses, file } = registry('same-client');
    const id = identity({ jti: null });
    await uses.admit(id, 'eyJ.secret-token.sig', '10.0.0.1', 's1');
    await assert.rejects(uses.admit(id, 'eyJ.secret-token.sig', '10.0.0.2', 's2'), (e: TokenReusedError) => /^sha256:[0-9a-f]{64}$/.test(e.reuse.tokenId));
    // Another token of the same claims is another token.
    assert.equal(await uses.admit(id, 'eyJ.other-token.sig', '10.0.0.2', 's3'), undefined);
    await uses.close();
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT * FROM token_uses').all();
    db.close();
    assert.equal(rows.length, 2);
    assert.ok(!JSON.stringify(rows).includes('secret-token'));
  });

  it('keeps first uses in the file across a restart, and drops them once the token expired', async () => {
    const file = join(dir, 'restart.db');
    const first = registry('same-client', file).uses;
    const live = identity();
    const expired = identity({ expiresInSeconds: -3600 });
    await first.admit(live, 't', '10.0.0.1', 's1');
    await first.admit(expired, 't2', '10.0.0.1', 's2');
    await first.close();
    const second = registry('same-client', file).uses;
    await assert.rejects(second.admit(live, 't', '10.0.0.2', 's3'), /TG_AUTH_TOKEN_REUSED|another client address/);
    await second.close();
    const db = new Database(file, { readonly: true });
    const left = db.prepare('SELECT token_id FROM token_uses').all() as { token_id: string }[];
    db.close();
    assert.deepEqual(left.map((r) => r.token_id), [live.tokenId], 'the expired token was dropped');
  });

  it('holds at most maxEntries in memory and still answers from the store', async () => {
    const { uses } = registry('same-client', undefined, 3);
    const ids = Array.from({ length: 10 }, () => identity());
    for (const [i, id] of ids.entries()) await uses.admit(id, `t${i}`, '10.0.0.1', `s${i}`);
    assert.ok(uses.size <= 3);
    await assert.rejects(uses.admit(ids[0]!, 't0', '10.0.0.2', 'later'), /another client address/);
    await uses.close();
  });

  it('gives two sessions racing with one new token one first use', async () => {
    const { uses } = registry('same-client');
    const id = identity();
    const results = await Promise.allSettled([uses.admit(id, 't', '10.0.0.1', 'a'), uses.admit(id, 't', '10.0.0.2', 'b')]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected']);
    await uses.close();
  });
});
