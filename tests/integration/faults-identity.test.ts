/**
 * The issuer's JWKS endpoint slow and down, and clocks that disagree, through a real gateway with the
 * real `pg` client. The issuer is a local stand-in for an OIDC provider (tests/support/oidc-server.ts).
 * Keys already fetched keep verifying while the issuer is slow or away; a kid the gateway has not seen
 * is refused with a clear 28000 within the configured fetch timeout, never held; the gateway recovers
 * when the issuer answers again. exp, nbf and iat are honoured up to identity.clockSkewSeconds, no further.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { FakeOidcIssuer } from '../support/oidc-server.js';

let h: GatewayHarness;
let issuer: FakeOidcIssuer;
const FETCH_TIMEOUT_MS = 400;
const SKEW = 60;
const claims = { aud: 'trailgate', sub: 'repo:acme/app:ref:refs/heads/main', repository: 'acme/app' };

/** Connects with a token and runs one statement; resolves with the refusal's SQLSTATE and message, or 'ok'. */
async function attempt(token: string): Promise<{ code: string; message: string }> {
  try {
    const c = await h.client({ token });
    await c.query('select 1');
    await c.end();
    return { code: 'ok', message: '' };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { code: e.code ?? 'none', message: e.message };
  }
}

before(async () => {
  issuer = await FakeOidcIssuer.start();
  h = await GatewayHarness.start({
    issuers: [{ name: 'ci', issuer: issuer.issuer, audience: 'trailgate', profile: 'generic', algorithms: ['RS256'], tokenReuse: 'any' }],
    identity: { jwksTimeoutMillis: FETCH_TIMEOUT_MS, jwksCooldownSeconds: 0, clockSkewSeconds: SKEW },
    rules: [{ name: 'ci', issuers: ['ci', 'dev'], subject: '**', targets: ['*'], rights: ['all'] }],
  });
});
after(async () => {
  await h?.stop();
  await issuer?.stop();
});

describe('the issuer\'s JWKS endpoint slow, then down, then back', () => {
  it('verifies with the issuer up, fetching its keys once', async () => {
    assert.equal((await attempt(await issuer.mint(claims))).code, 'ok');
    assert.equal(issuer.hits.jwks, 1);
  });

  it('keeps verifying tokens of the cached key while the issuer is slow, and refuses a new kid within the fetch timeout', async () => {
    issuer.delayMs = 30_000;
    const cachedKid = issuer.kid;
    assert.equal((await attempt(await issuer.mint(claims))).code, 'ok', 'the cached key needs no fetch');
    const rotated = await issuer.rotate();
    const refused = await attempt(await issuer.mint(claims, rotated));
    assert.equal(refused.code, '28000');
    assert.match(refused.message, new RegExp(`could not fetch the signing keys of issuer ci: no answer within ${FETCH_TIMEOUT_MS} ms.*\\[TG_AUTH_JWKS_UNAVAILABLE\\]`));
    // jose keeps the last key set it fetched when a refetch fails.
    assert.equal((await attempt(await issuer.mint(claims, cachedKid))).code, 'ok');
  });

  let cachedKid: string;
  let rotatedKid: string;

  it('keeps verifying tokens of the cached key while the issuer is down, and refuses the unknown kid at once', async () => {
    rotatedKid = issuer.kid;
    cachedKid = [...issuer.kids()].find((k) => k !== rotatedKid)!;
    await issuer.stop();
    assert.equal((await attempt(await issuer.mint(claims, cachedKid))).code, 'ok');
    const unknown = await attempt(await issuer.mint(claims, rotatedKid));
    assert.equal(unknown.code, '28000');
    assert.match(unknown.message, /could not fetch the signing keys of issuer ci: .*ECONNREFUSED.*\[TG_AUTH_JWKS_UNAVAILABLE\]/);
  });

  it('recovers when the issuer answers again: the rotated key verifies', async () => {
    issuer.delayMs = 0;
    await issuer.listenAgain();
    assert.equal((await attempt(await issuer.mint(claims, rotatedKid))).code, 'ok');
  });
});

describe('clock skew on tokens', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const margin = SKEW / 2;

  it('accepts exp, nbf and iat within the allowed skew', async () => {
    assert.equal((await attempt(await issuer.mint({ ...claims, iat: now() - 600, exp: now() - margin }))).code, 'ok', 'expired by less than the skew');
    assert.equal((await attempt(await issuer.mint({ ...claims, nbf: now() + margin }))).code, 'ok', 'not yet valid by less than the skew');
    assert.equal((await attempt(await issuer.mint({ ...claims, iat: now() + margin, exp: now() + 600 }))).code, 'ok', 'issued ahead by less than the skew');
  });

  it('refuses each beyond the skew with 28000 and the code that names it', async () => {
    const expired = await attempt(await issuer.mint({ ...claims, iat: now() - 600, exp: now() - SKEW - margin }));
    assert.deepEqual([expired.code, /TG_AUTH_EXPIRED/.test(expired.message)], ['28000', true], expired.message);
    const early = await attempt(await issuer.mint({ ...claims, nbf: now() + SKEW + margin }));
    assert.deepEqual([early.code, /TG_AUTH_NOT_YET_VALID/.test(early.message)], ['28000', true], early.message);
    const future = await attempt(await issuer.mint({ ...claims, iat: now() + SKEW + margin, exp: now() + 600 }));
    assert.deepEqual([future.code, /TG_AUTH_ISSUED_IN_FUTURE/.test(future.message)], ['28000', true], future.message);
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 6 });
