/**
 * Forgeries an attacker can build from a stolen or observed token, each refused with a reason that
 * names the check it failed and never quotes the token.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DevIssuer } from '../../services/dev/dev-issuer.js';
import { IdentityError, type IdentityErrorCode } from '../../services/gateway/identity/errors.js';
import { TokenVerifier } from '../../services/gateway/identity/token-verifier.js';
import * as forge from '../support/forged-tokens.js';

let dataDir: string;
let dev: DevIssuer;
let verifier: TokenVerifier;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'trailgate-forgery-'));
  dev = await DevIssuer.openOrCreate(dataDir);
  verifier = new TokenVerifier({ issuers: [], clockSkewSeconds: 60, jwksCacheMaxAgeSeconds: 3600 }, { extraIssuers: [{ config: dev.issuerConfig(), jwks: dev.jwks() }] });
});
after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const parts = (t: string) => t.split('.') as [string, string, string];
const now = () => Math.floor(Date.now() / 1000);

const FORGERIES: [string, () => Promise<string>, IdentityErrorCode, RegExp][] = [
  ['unsigned, alg none', async () => forge.unsignedToken(), 'TG_AUTH_ALGORITHM', /none/i],
  ['genuine token relabelled alg none, signature kept', async () => { const [, p, s] = parts(await dev.mint()); return `${b64({ alg: 'none' })}.${p}.${s}`; }, 'TG_AUTH_ALGORITHM', /none/i],
  ['HS256 keyed with the public key as PEM', () => forge.hs256WithPublicKey(dev.jwks().keys[0]!, 'pem'), 'TG_AUTH_ALGORITHM', /HS256/],
  ['HS256 keyed with the public key as JWK JSON', () => forge.hs256WithPublicKey(dev.jwks().keys[0]!, 'jwk'), 'TG_AUTH_ALGORITHM', /HS256/],
  ['signed by a stranger under the issuer key id', () => forge.sameKidOtherKey(dev), 'TG_AUTH_SIGNATURE', /signature/i],
  ['signed by a stranger under an unknown key id', () => forge.unknownKid(), 'TG_AUTH_UNKNOWN_KEY', /key/i],
  ['payload edited to another repository', async () => forge.tamperedPayload(await dev.mint(), { repository: 'acme/other' }), 'TG_AUTH_SIGNATURE', /signature/i],
  ['payload edited to a later expiry', async () => forge.tamperedPayload(await dev.mint(), { exp: now() + 86400 }), 'TG_AUTH_SIGNATURE', /signature/i],
  ['signature spliced from another genuine token', async () => { const [h, p] = parts(await dev.mint({ repository: 'acme/a' })); const [, , s] = parts(await dev.mint({ repository: 'acme/b' })); return `${h}.${p}.${s}`; }, 'TG_AUTH_SIGNATURE', /signature/i],
  ['signature truncated', async () => { const [h, p, s] = parts(await dev.mint()); return `${h}.${p}.${s.slice(0, 40)}`; }, 'TG_AUTH_SIGNATURE', /signature/i],
  ['header kid switched to an unpublished one', async () => { const [h, p, s] = parts(await dev.mint()); const header = JSON.parse(Buffer.from(h, 'base64url').toString()); return `${b64({ ...header, kid: 'other' })}.${p}.${s}`; }, 'TG_AUTH_UNKNOWN_KEY', /key/i],
  ['expired an hour ago', () => forge.expired(dev), 'TG_AUTH_EXPIRED', /expired/i],
  ['not valid for another hour', () => forge.notYetValid(dev), 'TG_AUTH_NOT_YET_VALID', /not (yet )?valid/i],
  ['minted for another audience', () => forge.wrongAudience(dev), 'TG_AUTH_AUDIENCE', /audience/i],
  ['claiming to come from GitHub', () => forge.wrongIssuer(dev), 'TG_AUTH_UNKNOWN_ISSUER', /issuer/i],
  ['without an expiry', () => dev.mint({ claims: { exp: undefined } }), 'TG_AUTH_CLAIMS', /exp/],
  ['with an expiry that is a string', () => dev.mint({ claims: { exp: String(now() + 600) } }), 'TG_AUTH_CLAIMS', /exp/],
  ['without a subject', () => dev.mint({ claims: { sub: undefined } }), 'TG_AUTH_CLAIMS', /sub/],
  ['five parts, shaped like an encrypted token', async () => `${(await dev.mint())}.extra.parts`, 'TG_AUTH_MALFORMED', /JWT/],
];

describe('forged tokens', () => {
  test('the table holds at least 15 forgeries', () => assert.ok(FORGERIES.length >= 15));
  for (const [name, make, code, reason] of FORGERIES) {
    test(`refuses: ${name}`, async () => {
      const token = await make();
      const err = await verifier.verify(token).then(
        () => assert.fail('the forgery was accepted'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof IdentityError, String(err));
      assert.equal(err.code, code, err.message);
      assert.match(err.message, reason);
      assert.ok(!err.message.includes(parts(token)[2] || token), 'the message does not quote the token');
    });
  }
});
