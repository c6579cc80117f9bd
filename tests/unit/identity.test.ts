import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT, decodeJwt, generateKeyPair } from 'jose';
import { IssuerConfig } from '../../services/config/schema.js';
import { DEV_ISSUER, DevIssuer } from '../../services/dev/dev-issuer.js';
import { ciContextFromClaims } from '../../services/gateway/identity/claims.js';
import { IdentityError, type IdentityErrorCode } from '../../services/gateway/identity/errors.js';
import { TokenVerifier, type IdentitySettings, type TokenVerifierOptions } from '../../services/gateway/identity/token-verifier.js';
import * as forge from '../support/forged-tokens.js';
import { FakeOidcIssuer, deadUrl } from '../support/oidc-server.js';

const settings = (issuers: unknown[] = []): IdentitySettings => ({
  issuers: issuers.map((i) => IssuerConfig.parse(i)),
  clockSkewSeconds: 60,
  jwksCacheMaxAgeSeconds: 3600,
});

/** Asserts the refusal code, and that the message leaks neither the token nor its signature. */
async function assertRefused(verifier: TokenVerifier, token: string | undefined, code: IdentityErrorCode): Promise<IdentityError> {
  let caught: unknown;
  await verifier.verify(token).catch((err: unknown) => (caught = err));
  assert.ok(caught instanceof IdentityError, `expected IdentityError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (token) {
    assert.ok(!caught.message.includes(token), 'message contains the token');
    for (const part of token.split('.').slice(1)) {
      if (part.length >= 8) assert.ok(!caught.message.includes(part), 'message contains part of the token');
    }
  }
  return caught;
}

let dataDir: string;
let dev: DevIssuer;
let verifier: TokenVerifier;
const fakes: FakeOidcIssuer[] = [];

async function fake(): Promise<FakeOidcIssuer> {
  const started = await FakeOidcIssuer.start();
  fakes.push(started);
  return started;
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'trailgate-identity-'));
  dev = await DevIssuer.openOrCreate(dataDir);
  verifier = new TokenVerifier(settings(), { extraIssuers: [{ config: dev.issuerConfig(), jwks: dev.jwks() }] });
});

after(async () => {
  await Promise.all(fakes.map((f) => f.stop()));
  await rm(dataDir, { recursive: true, force: true });
});

describe('dev issuer', () => {
  test('keeps its key in the data dir, private part readable by the owner only', async () => {
    const dir = join(dataDir, 'dev-issuer');
    assert.equal((await stat(join(dir, 'private.jwk.json'))).mode & 0o777, 0o600);
    const published = JSON.parse(await readFile(join(dir, 'jwks.json'), 'utf8')) as { keys: Array<Record<string, unknown>> };
    assert.equal(published.keys[0]?.['kid'], dev.kid);
    assert.equal(published.keys[0]?.['d'], undefined, 'jwks.json must not hold the private key');
    const reopened = await DevIssuer.openOrCreate(dataDir);
    assert.equal(reopened.kid, dev.kid);
    assert.equal((await verifier.verify(await reopened.mint())).issuerName, 'dev');
  });

  test('mints GitHub Actions-shaped claims with string ids', async () => {
    const claims = decodeJwt(await dev.mint({ repository: 'acme/api', environment: null, ref: 'refs/tags/v1' }));
    assert.equal(claims.iss, DEV_ISSUER);
    assert.equal(claims.aud, 'trailgate');
    assert.equal(claims.sub, 'repo:acme/api:ref:refs/tags/v1');
    assert.equal(claims['repository_owner'], 'acme');
    assert.equal(claims['ref_type'], 'tag');
    assert.equal(claims['workflow_ref'], 'acme/api/.github/workflows/deploy.yml@refs/tags/v1');
    assert.equal(claims['environment'], undefined);
    assert.match(String(claims['sha']), /^[0-9a-f]{40}$/);
    for (const id of ['repository_id', 'repository_owner_id', 'run_id', 'run_attempt', 'run_number']) {
      assert.match(claims[id] as string, /^\d+$/, id);
    }
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 600);
  });
});

describe('claims', () => {
  test('github profile reads the discrete claims', () => {
    const ci = ciContextFromClaims('github', {
      repository: 'acme/payments',
      repository_id: '42',
      run_id: 1234,
      run_attempt: { nested: true },
      environment: null,
      event_name: 'push',
    });
    assert.deepEqual(ci, { repository: 'acme/payments', repositoryId: '42', runId: '1234', eventName: 'push' });
  });

  test('gitlab profile maps project, pipeline and protection claims', () => {
    const ci = ciContextFromClaims('gitlab', {
      project_path: 'group/app',
      project_id: '7',
      namespace_path: 'group',
      ref: 'main',
      ref_path: 'refs/heads/main',
      ref_type: 'branch',
      ref_protected: 'true',
      pipeline_id: '99',
      pipeline_source: 'push',
      job_id: '1001',
      user_login: 'alice',
      runner_environment: 'gitlab-hosted',
      ci_config_ref_uri: 'gitlab.com/group/app//.gitlab-ci.yml@refs/heads/main',
    });
    assert.deepEqual(ci, {
      repository: 'group/app',
      repositoryId: '7',
      repositoryOwner: 'group',
      workflowRef: 'gitlab.com/group/app//.gitlab-ci.yml@refs/heads/main',
      ref: 'refs/heads/main',
      refType: 'branch',
      refProtected: true,
      runId: '99',
      jobId: '1001',
      actor: 'alice',
      eventName: 'push',
      pipelineSource: 'push',
      runnerEnvironment: 'gitlab-hosted',
    });
    assert.deepEqual(ciContextFromClaims('gitlab', { ref: 'main', ref_protected: 'false' }), { ref: 'main', refProtected: false });
    assert.deepEqual(ciContextFromClaims('gitlab', { ref_protected: true }), {});
  });

  test('generic profile keeps only repository', () => {
    assert.deepEqual(ciContextFromClaims('generic', { repository: 'x/y', sha: 'abc', actor: 'bob' }), { repository: 'x/y' });
  });
});

describe('verifier with static keys', () => {
  test('a valid dev token yields the job identity', async () => {
    const token = await dev.mint({ repository: 'acme/payments', sha: 'a'.repeat(40), environment: 'production' });
    const identity = await verifier.verify(`${token}\n`);
    const claims = decodeJwt(token);
    assert.equal(identity.issuer, DEV_ISSUER);
    assert.equal(identity.issuerName, 'dev');
    assert.equal(identity.profile, 'github');
    assert.equal(identity.subject, 'repo:acme/payments:environment:production');
    assert.equal(identity.tokenId, claims.jti);
    assert.equal(identity.expiresAt, new Date((claims.exp ?? 0) * 1000).toISOString());
    assert.deepEqual(identity.ci, {
      repository: 'acme/payments',
      repositoryId: claims['repository_id'],
      repositoryOwner: 'acme',
      workflow: 'deploy',
      workflowRef: 'acme/payments/.github/workflows/deploy.yml@refs/heads/main',
      jobWorkflowRef: 'acme/payments/.github/workflows/deploy.yml@refs/heads/main',
      ref: 'refs/heads/main',
      refType: 'branch',
      sha: 'a'.repeat(40),
      runId: claims['run_id'],
      runAttempt: '1',
      runNumber: claims['run_number'],
      actor: 'octocat',
      environment: 'production',
      eventName: 'push',
      runnerEnvironment: 'github-hosted',
    });
  });

  test('no token', async () => {
    await assertRefused(verifier, undefined, 'TG_AUTH_NO_TOKEN');
    await assertRefused(verifier, '', 'TG_AUTH_NO_TOKEN');
    await assertRefused(verifier, '  \n', 'TG_AUTH_NO_TOKEN');
  });

  test('garbage', async () => {
    for (const garbage of forge.GARBAGE_TOKENS) await assertRefused(verifier, garbage, 'TG_AUTH_MALFORMED');
  });

  test('expired', async () => {
    const err = await assertRefused(verifier, await forge.expired(dev), 'TG_AUTH_EXPIRED');
    assert.match(err.message, /expired at \d{4}-/);
  });

  test('expired within the clock skew is still accepted', async () => {
    const now = Math.floor(Date.now() / 1000);
    await verifier.verify(await dev.mint({ claims: { iat: now - 700, nbf: now - 700, exp: now - 30 } }));
  });

  test('not yet valid', async () => {
    await assertRefused(verifier, await forge.notYetValid(dev), 'TG_AUTH_NOT_YET_VALID');
  });

  test('issued later than now plus the clock skew, though inside its validity window', async () => {
    const err = await assertRefused(verifier, await forge.issuedInFuture(dev), 'TG_AUTH_ISSUED_IN_FUTURE');
    assert.match(err.message, /issued at \d{4}-.*later than now \(allowed clock skew \d+ s\)/);
  });

  test('issued slightly ahead, within the clock skew, is still accepted', async () => {
    const now = Math.floor(Date.now() / 1000);
    await verifier.verify(await dev.mint({ claims: { iat: now + 20, nbf: now - 5, exp: now + 600 } }));
  });

  test('wrong audience names the expected one', async () => {
    const err = await assertRefused(verifier, await forge.wrongAudience(dev), 'TG_AUTH_AUDIENCE');
    assert.match(err.message, /token audience \[https:\/\/github.com\/acme\] does not include any of \[trailgate\]; request the token with audience 'trailgate'/);
  });

  test('audience lists: one match is enough', async () => {
    await verifier.verify(await dev.mint({ audience: ['https://github.com/acme', 'trailgate'] }));
  });

  test('unknown issuer names the iss and the configured ones', async () => {
    const err = await assertRefused(verifier, await forge.wrongIssuer(dev), 'TG_AUTH_UNKNOWN_ISSUER');
    assert.ok(err.message.includes('https://token.actions.githubusercontent.com'));
    assert.ok(err.message.includes(DEV_ISSUER));
  });

  test('bad signature: payload edited after signing', async () => {
    const tampered = forge.tamperedPayload(await dev.mint(), { repository: 'acme/other' });
    await assertRefused(verifier, tampered, 'TG_AUTH_SIGNATURE');
  });

  test('bad signature: another key under the issuer kid', async () => {
    await assertRefused(verifier, await forge.sameKidOtherKey(dev), 'TG_AUTH_SIGNATURE');
  });

  test('unknown kid', async () => {
    await assertRefused(verifier, await forge.unknownKid(), 'TG_AUTH_UNKNOWN_KEY');
  });

  test('alg none', async () => {
    await assertRefused(verifier, forge.unsignedToken(), 'TG_AUTH_ALGORITHM');
  });

  test('HS256 signed with the public key (PEM and JWK forms)', async () => {
    const publicJwk = dev.jwks().keys[0];
    assert.ok(publicJwk);
    await assertRefused(verifier, await forge.hs256WithPublicKey(publicJwk, 'pem'), 'TG_AUTH_ALGORITHM');
    await assertRefused(verifier, await forge.hs256WithPublicKey(publicJwk, 'jwk'), 'TG_AUTH_ALGORITHM');
  });

  test('algorithm outside the issuer allow-list', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT(forge.plausibleClaims()).setProtectedHeader({ alg: 'ES256', kid: dev.kid }).sign(privateKey);
    await assertRefused(verifier, token, 'TG_AUTH_ALGORITHM');
  });

  test('missing required claims', async () => {
    await assertRefused(verifier, await dev.mint({ claims: { sub: undefined } }), 'TG_AUTH_CLAIMS');
    await assertRefused(verifier, await dev.mint({ claims: { exp: undefined } }), 'TG_AUTH_CLAIMS');
    await assertRefused(verifier, await dev.mint({ claims: { iat: 'yesterday' } }), 'TG_AUTH_CLAIMS');
  });

  test('jwksFile issuer', async () => {
    const file = join(dataDir, 'static-jwks.json');
    await writeFile(file, JSON.stringify(dev.jwks()));
    const fromFile = new TokenVerifier(settings([{ name: 'pinned', issuer: DEV_ISSUER, audience: 'trailgate', profile: 'github', jwksFile: file }]));
    const identity = await fromFile.verify(await dev.mint());
    assert.equal(identity.issuerName, 'pinned');
    await assertRefused(fromFile, await forge.unknownKid(), 'TG_AUTH_UNKNOWN_KEY');
  });
});

describe('verifier with a remote issuer', () => {
  const gitlabClaims = {
    aud: 'trailgate',
    sub: 'project_path:group/app:ref_type:branch:ref:main',
    project_path: 'group/app',
    project_id: '7',
    ref: 'main',
    ref_path: 'refs/heads/main',
    ref_protected: 'true',
    pipeline_id: '99',
    pipeline_source: 'push',
  };
  const remoteVerifier = (issuer: FakeOidcIssuer, extra: Record<string, unknown> = {}, options: TokenVerifierOptions = {}) =>
    new TokenVerifier(settings([{ name: 'gitlab', issuer: issuer.issuer, audience: 'trailgate', profile: 'gitlab', ...extra }]), options);

  test('discovery and JWKS are fetched once and cached', async () => {
    const issuer = await fake();
    const v = remoteVerifier(issuer);
    const first = await v.verify(await issuer.mint(gitlabClaims));
    await v.verify(await issuer.mint(gitlabClaims));
    assert.equal(first.issuerName, 'gitlab');
    assert.equal(first.ci.repository, 'group/app');
    assert.equal(first.ci.refProtected, true);
    assert.deepEqual(issuer.hits, { discovery: 1, jwks: 1 });
  });

  test('configured jwksUri skips discovery', async () => {
    const issuer = await fake();
    const v = remoteVerifier(issuer, { jwksUri: issuer.jwksUrl });
    await v.verify(await issuer.mint(gitlabClaims));
    assert.deepEqual(issuer.hits, { discovery: 0, jwks: 1 });
  });

  test('key rotation: a token with the new kid verifies after a refresh', async () => {
    const issuer = await fake();
    const v = remoteVerifier(issuer, {}, { jwksCooldownMs: 0 });
    const oldKid = issuer.kid;
    await v.verify(await issuer.mint(gitlabClaims));
    await issuer.rotate();
    await v.verify(await issuer.mint(gitlabClaims));
    assert.equal(issuer.hits.jwks, 2);
    await assertRefused(v, await issuer.mint(gitlabClaims, oldKid), 'TG_AUTH_UNKNOWN_KEY');
  });

  test('unknown kids refetch at most once per cooldown', async () => {
    const issuer = await fake();
    const v = remoteVerifier(issuer);
    await v.verify(await issuer.mint(gitlabClaims));
    await issuer.rotate();
    const err = await assertRefused(v, await issuer.mint(gitlabClaims), 'TG_AUTH_UNKNOWN_KEY');
    await assertRefused(v, await forge.unknownKid({ ...gitlabClaims, iss: issuer.issuer }), 'TG_AUTH_UNKNOWN_KEY');
    assert.equal(issuer.hits.jwks, 1);
    assert.match(err.message, /retry after 30 s/);
  });

  test('issuer outage: cached keys keep working', async () => {
    const issuer = await fake();
    const v = remoteVerifier(issuer);
    await v.verify(await issuer.mint(gitlabClaims));
    const later = await issuer.mint(gitlabClaims);
    await issuer.stop();
    assert.equal((await v.verify(later)).ci.runId, '99');
  });

  test('issuer unreachable and nothing cached', async () => {
    const jwksUri = await deadUrl('/keys');
    const pinned = new TokenVerifier(settings([{ name: 'down', issuer: DEV_ISSUER, audience: 'trailgate', jwksUri }]));
    const err = await assertRefused(pinned, await dev.mint(), 'TG_AUTH_JWKS_UNAVAILABLE');
    assert.match(err.message, /could not fetch the signing keys of issuer down: .*ECONNREFUSED.*; check network access to http:\/\/127\.0\.0\.1:\d+\/keys or configure jwksFile/);

    const issuer = await deadUrl('');
    const discovered = new TokenVerifier(settings([{ name: 'down', issuer, audience: 'trailgate' }]));
    const token = await new SignJWT(forge.plausibleClaims({ iss: issuer })).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign((await generateKeyPair('RS256')).privateKey);
    const discoveryErr = await assertRefused(discovered, token, 'TG_AUTH_JWKS_UNAVAILABLE');
    assert.match(discoveryErr.message, /openid-configuration/);
  });

  test('a discovery document naming another issuer is refused', async () => {
    const issuer = await fake();
    const v = new TokenVerifier(settings([{ name: 'slash', issuer: `${issuer.issuer}/`, audience: 'trailgate' }]));
    const err = await assertRefused(v, await issuer.mint({ ...gitlabClaims, iss: `${issuer.issuer}/` }), 'TG_AUTH_JWKS_UNAVAILABLE');
    assert.match(err.message, /names issuer/);
  });
});
