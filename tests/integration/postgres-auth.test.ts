/**
 * Every way a token can be wrong ends in SQLSTATE 28000 with a reason the job's author can act on,
 * the token itself is never echoed, and each rejection is an audit event.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { EventRecord } from '../../events/index.js';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import { GARBAGE_TOKENS, expired, hs256WithPublicKey, issuedInFuture, notYetValid, sameKidOtherKey, tamperedPayload, unknownKid, unsignedToken, wrongAudience, wrongIssuer } from '../support/forged-tokens.js';
import { deadUrl } from '../support/oidc-server.js';
import { RawPgClient, errorFields } from '../support/raw-pg.js';

let h: GatewayHarness;
let unreachableIssuer: string;

before(async () => {
  unreachableIssuer = await deadUrl();
  h = await GatewayHarness.start({
    issuers: [{ name: 'offline', issuer: 'https://offline.example.invalid', audience: 'trailgate', profile: 'github', jwksUri: `${unreachableIssuer}jwks`, algorithms: ['RS256'] }],
  });
});
after(async () => {
  await h.stop();
});

/** Connects with the given password and returns the error the gateway sent. */
async function rejection(password: string): Promise<{ code: string; message: string }> {
  const client = new pg.Client({ host: '127.0.0.1', port: h.port, database: 'app', user: 'ci', password });
  try {
    await client.connect();
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { code: e.code ?? '', message: e.message };
  } finally {
    await client.end().catch(() => undefined);
  }
  throw new Error('the gateway accepted the connection');
}

async function rejectedEvent(check: () => Promise<unknown>): Promise<EventRecord[]> {
  const ended = h.endedSession((ev) => ofType(ev, 'auth.decided')[0]?.data.outcome === 'rejected');
  await check();
  return ended;
}

const cases: [string, () => Promise<string>, string, RegExp][] = [
  ['garbage', async () => GARBAGE_TOKENS[0]!, 'TG_AUTH_MALFORMED', /not a JWT/],
  ['expired', () => expired(h.issuer), 'TG_AUTH_EXPIRED', /expired/],
  ['not yet valid', () => notYetValid(h.issuer), 'TG_AUTH_NOT_YET_VALID', /not valid before|not yet valid/],
  ['issued in the future', () => issuedInFuture(h.issuer), 'TG_AUTH_ISSUED_IN_FUTURE', /issued at .* later than now/],
  ['wrong audience', () => wrongAudience(h.issuer), 'TG_AUTH_AUDIENCE', /audience/],
  ['wrong issuer', () => wrongIssuer(h.issuer), 'TG_AUTH_UNKNOWN_ISSUER', /issuer/],
  ['bad signature', () => sameKidOtherKey(h.issuer), 'TG_AUTH_SIGNATURE', /signature/],
  ['tampered payload', async () => tamperedPayload(await h.token(), { repository: 'acme/other' }), 'TG_AUTH_SIGNATURE', /signature/],
  ['unknown key id', () => unknownKid(), 'TG_AUTH_UNKNOWN_KEY', /key/],
  ['alg none', async () => unsignedToken(), 'TG_AUTH_ALGORITHM', /none|algorithm/],
  ['HS256 signed with the issuer public key', () => hs256WithPublicKey(h.issuer.jwks().keys[0]!, 'pem'), 'TG_AUTH_ALGORITHM', /HS256|algorithm/],
  [
    'issuer JWKS unreachable and not cached',
    async () => unknownKidFor('https://offline.example.invalid'),
    'TG_AUTH_JWKS_UNAVAILABLE',
    /signing keys|JWKS/i,
  ],
];

async function unknownKidFor(iss: string): Promise<string> {
  return unknownKid({ iss, aud: 'trailgate', sub: 'repo:acme/payments:ref:refs/heads/main', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300 });
}

describe('token rejection over the Postgres protocol', () => {
  for (const [name, make, code, reason] of cases) {
    it(`refuses ${name} with 28000 and ${code}`, async () => {
      const token = await make();
      let seen: { code: string; message: string } | undefined;
      const events = await rejectedEvent(async () => (seen = await rejection(token)));
      assert.equal(seen!.code, '28000');
      assert.match(seen!.message, reason);
      assert.ok(seen!.message.includes(code), `message names ${code}: ${seen!.message}`);
      assert.ok(!seen!.message.includes(token), 'the token is not echoed to the client');
      const decided = ofType(events, 'auth.decided')[0]!;
      assert.equal(decided.data.code, code);
      assert.equal(decided.identity, null);
      assert.ok(!JSON.stringify(events).includes(token), 'the token is not in the audit record');
      assert.equal(ofType(events, 'session.ended')[0]!.data.reason, 'auth-failed');
    });
  }

  it('refuses a connection without a password with 28000', async () => {
    const raw = await RawPgClient.connect(h.port);
    const events = await rejectedEvent(async () => {
      raw.startup({ user: 'ci', database: 'app' });
      assert.equal((await raw.until('R')).body.readInt32BE(0), 3, 'asks for a cleartext password');
      raw.password('');
      const err = errorFields((await raw.until('E')).body);
      assert.equal(err.C, '28000');
      assert.equal(err.S, 'FATAL');
      assert.match(err.M!, /TG_AUTH_NO_TOKEN/);
      await raw.closedByServer();
    });
    assert.equal(ofType(events, 'auth.decided')[0]!.data.code, 'TG_AUTH_NO_TOKEN');
  });

  it('refuses an unknown target only after the token is verified, with 3D000', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: h.port, database: 'no-such-target', user: 'ci', password: await h.token() });
    await assert.rejects(client.connect(), (e: { code?: string; message: string }) => e.code === '3D000' && /no target named 'no-such-target'/.test(e.message));
    await client.end().catch(() => undefined);
    const garbage = new pg.Client({ host: '127.0.0.1', port: h.port, database: 'no-such-target', user: 'ci', password: 'garbage' });
    await assert.rejects(garbage.connect(), (e: { code?: string }) => e.code === '28000');
    await garbage.end().catch(() => undefined);
  });

  it('refuses replication connections', async () => {
    const raw = await RawPgClient.connect(h.port);
    raw.startup({ user: 'ci', database: 'app', replication: 'database' });
    const err = errorFields((await raw.until('E')).body);
    assert.equal(err.C, '0A000');
    await raw.closedByServer();
  });
});
