/**
 * Logging in to the SSH gateway with the real OpenSSH client: the token is the keyboard-interactive
 * answer (or the password), every way it can be wrong is refused with the reason on the client's
 * screen, the token is never echoed or recorded, and the target must prove its pinned host key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EventRecord } from '../../events/index.js';
import { GatewayHarness, ofType } from '../support/gateway-harness.js';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import { GARBAGE_TOKENS, expired, hs256WithPublicKey, issuedInFuture, notYetValid, sameKidOtherKey, tamperedPayload, unknownKid, unsignedToken, wrongAudience, wrongIssuer } from '../support/forged-tokens.js';
import { FakeOidcIssuer, deadUrl } from '../support/oidc-server.js';
import type { OpenSsh } from '../support/openssh.js';

let h: GatewayHarness;
let ssh: OpenSsh;
let oidc: FakeOidcIssuer;

before(async () => {
  oidc = await FakeOidcIssuer.start();
  const unreachable = await deadUrl();
  h = await GatewayHarness.start({
    ssh: true,
    issuers: [
      { name: 'offline', issuer: 'https://offline.example.invalid', audience: 'trailgate', profile: 'github', jwksUri: `${unreachable}jwks`, algorithms: ['RS256'] },
      { name: 'ci', issuer: oidc.issuer, audience: 'trailgate', profile: 'github', algorithms: ['RS256'] },
    ],
    rules: [
      { name: 'tests-all', issuers: ['dev', 'ci'], subject: '**', targets: ['*'], rights: ['all'] },
    ],
  });
  ssh = h.openssh();
});
after(async () => {
  await h.stop();
  await oidc.stop();
});

/** Logs in with `token`, runs `true`, and returns what the client printed with the session's events. */
async function attempt(token: string, login = 'web'): Promise<{ code: number | null; stderr: string; events: EventRecord[] }> {
  const ended = h.endedSession((ev) => ofType(ev, 'session.started')[0]?.data.requested.user === login);
  const result = await ssh.ssh([`${login}@127.0.0.1`, 'true'], { token });
  return { code: result.code, stderr: result.stderr, events: await ended };
}

const cases: [string, () => Promise<string>, string, RegExp][] = [
  ['garbage', async () => GARBAGE_TOKENS[0]!, 'TG_AUTH_MALFORMED', /not a JWT/],
  ['expired', () => expired(h.issuer), 'TG_AUTH_EXPIRED', /expired/],
  ['not yet valid', () => notYetValid(h.issuer), 'TG_AUTH_NOT_YET_VALID', /not valid before/],
  ['issued in the future', () => issuedInFuture(h.issuer), 'TG_AUTH_ISSUED_IN_FUTURE', /issued at .* later than now/],
  ['wrong audience', () => wrongAudience(h.issuer), 'TG_AUTH_AUDIENCE', /audience/],
  ['wrong issuer', () => wrongIssuer(h.issuer), 'TG_AUTH_UNKNOWN_ISSUER', /issuer/],
  ['bad signature', () => sameKidOtherKey(h.issuer), 'TG_AUTH_SIGNATURE', /signature/],
  ['tampered payload', async () => tamperedPayload(await h.token(), { repository: 'acme/other' }), 'TG_AUTH_SIGNATURE', /signature/],
  ['unknown key id', () => unknownKid(), 'TG_AUTH_UNKNOWN_KEY', /key/],
  ['alg none', async () => unsignedToken(), 'TG_AUTH_ALGORITHM', /none/],
  ['HS256 signed with the issuer public key', () => hs256WithPublicKey(h.issuer.jwks().keys[0]!, 'pem'), 'TG_AUTH_ALGORITHM', /HS256/],
  [
    'issuer JWKS unreachable and not cached',
    () => unknownKid({ iss: 'https://offline.example.invalid', aud: 'trailgate', sub: 'repo:acme/payments', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300 }),
    'TG_AUTH_JWKS_UNAVAILABLE',
    /signing keys/,
  ],
];

describe('SSH login with a CI token', () => {
  for (const [name, make, code, reason] of cases) {
    it(`refuses ${name} with ${code}, shown on the client's screen`, async () => {
      const token = await make();
      const { code: exit, stderr, events } = await attempt(token);
      assert.equal(exit, 255);
      assert.match(stderr, /Trailgate refused the login/);
      assert.match(stderr, reason);
      assert.ok(stderr.includes(code), `the client is told ${code}: ${stderr}`);
      assert.ok(!stderr.includes(token), 'the token is not echoed to the client');
      const decided = ofType(events, 'auth.decided')[0]!;
      assert.equal(decided.data.outcome, 'rejected');
      assert.equal(decided.data.code, code);
      assert.equal(decided.data.via, 'keyboard-interactive');
      assert.equal(decided.identity, null);
      assert.ok(!JSON.stringify(events).includes(token), 'the token is not in the audit record');
      assert.equal(ofType(events, 'session.ended')[0]!.data.reason, 'auth-failed');
      assert.equal(ofType(events, 'session.started')[0]!.data.protocol, 'ssh');
      assert.equal(events[0]!.seq, 1);
    });
  }

  it('refuses an empty answer with TG_AUTH_NO_TOKEN', async () => {
    const { stderr, events } = await attempt('');
    assert.match(stderr, /TG_AUTH_NO_TOKEN/);
    assert.equal(ofType(events, 'auth.decided')[0]!.data.code, 'TG_AUTH_NO_TOKEN');
  });

  it('takes a token longer than OpenSSH answers in pieces (bin/trailgate-askpass) and records the granted login', async () => {
    const token = await h.token();
    assert.ok(token.length > 1023, `a dev token is longer than OpenSSH's 1023-character answers (${token.length})`);
    const ended = h.endedSession((ev) => ofType(ev, 'command.completed').length > 0);
    const result = await ssh.ssh(['web@127.0.0.1', 'echo "$TRAILGATE_REPOSITORY"'], { token });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.toString(), 'acme/payments\n', 'the run tags reach the target as TRAILGATE_* (AcceptEnv)');
    const events = await ended;
    assert.deepEqual(
      events.map((e) => e.type).slice(0, 4),
      ['session.started', 'auth.decided', 'policy.decided', 'target.connected'],
    );
    const connected = ofType(events, 'target.connected')[0]!;
    assert.match(connected.data.hostKey!, /^SHA256:/);
    assert.equal(connected.target?.kind, 'ssh');
    assert.equal(connected.identity?.ci.repository, 'acme/payments');
    assert.ok(!JSON.stringify(events).includes(token));
  });

  it('accepts the token as the password when it fits OpenSSH (an issuer with short tokens)', async () => {
    const token = await oidc.mint({ aud: 'trailgate', sub: 'repo:acme/payments:ref:refs/heads/main', repository: 'acme/payments' });
    assert.ok(token.length < 1023);
    const ended = h.endedSession((ev) => ofType(ev, 'auth.decided')[0]?.data.via === 'password');
    const result = await ssh.ssh(['web@127.0.0.1', 'true'], { token, options: ['-o', 'PreferredAuthentications=password'] });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(ofType(await ended, 'auth.decided')[0]!.data.outcome, 'granted');
  });

  it('shows a password client why it was refused, by sending it on to keyboard-interactive', async () => {
    const token = await expired(h.issuer);
    const ended = h.endedSession((ev) => ofType(ev, 'auth.decided')[0]?.data.via === 'password' && ofType(ev, 'auth.decided')[0]?.data.outcome === 'rejected');
    const result = await ssh.ssh(['web@127.0.0.1', 'true'], { token, options: ['-o', 'PreferredAuthentications=password,keyboard-interactive'] });
    assert.equal(result.code, 255);
    assert.match(result.stderr, /TG_AUTH/);
    assert.match(result.stderr, /Trailgate refused the login/);
    assert.ok(!result.stderr.includes(token));
    const events = await ended;
    assert.equal(ofType(events, 'auth.decided').length, 1, 'one decision per connection');
  });

  it('refuses an unknown target only after the token is verified', async () => {
    const { stderr, events } = await attempt(await h.token(), 'no-such-host');
    assert.match(stderr, /no SSH target named 'no-such-host'.*TG_TARGET_UNKNOWN/);
    assert.equal(ofType(events, 'auth.decided')[0]!.data.outcome, 'granted');
    assert.equal(ofType(events, 'session.ended')[0]!.data.reason, 'policy-denied');
  });

  it('refuses a job no rule grants the target, naming the command that explains why', async () => {
    const restricted = await GatewayHarness.start({ ssh: true, rules: [{ name: 'payments-only', issuers: ['dev'], repository: 'acme/payments', targets: ['web'], rights: ['exec'] }] });
    try {
      const token = await restricted.issuer.mint({ repository: 'acme/unknown', claims: { sub: 'repo:acme/unknown:ref:refs/heads/main' } });
      const client = restricted.openssh();
      const ended = restricted.endedSession();
      const result = await client.ssh(['web@127.0.0.1', 'true'], { token });
      assert.equal(result.code, 255);
      assert.match(result.stderr, /no policy rule grants acme\/unknown access to target 'web'.*TG_POLICY_NO_RULE/);
      const events = await ended;
      const policy = ofType(events, 'policy.decided')[0]!;
      assert.equal(policy.data.outcome, 'denied');
      assert.match(policy.data.notMatched[0]!.reason, /repository 'acme\/unknown'/);
    } finally {
      await restricted.stop();
    }
  });

  it('refuses a target whose host key is not the pinned one, and records why', async () => {
    const { code, stderr, events } = await attempt(await h.token(), 'web-impostor');
    assert.equal(code, 255);
    assert.match(stderr, /host key SHA256:\S+ is not the pinned one.*TG_TARGET_HOST_KEY/);
    const ended = ofType(events, 'session.ended')[0]!;
    assert.equal(ended.data.reason, 'target-unavailable');
    assert.match(ended.data.detail!, /^TG_TARGET_HOST_KEY: /);
    assert.equal(ofType(events, 'target.connected').length, 0);
  });

  it('accepts a host key pinned by its SHA256 fingerprint', async () => {
    const result = await ssh.ssh(['web-fingerprint@127.0.0.1', 'echo pinned'], { token: await h.token() });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.toString(), 'pinned\n');
  });

  it('refuses when the target cannot be reached', async () => {
    const { stderr, events } = await attempt(await h.token(), 'web-down');
    assert.match(stderr, /could not connect to target 'web-down'.*TG_TARGET_UNREACHABLE/);
    assert.equal(ofType(events, 'session.ended')[0]!.data.reason, 'target-unavailable');
  });

  it('offers no public-key login: jobs are known by their token alone', async () => {
    const result = await ssh.ssh(['web@127.0.0.1', 'true'], { token: '', options: ['-o', 'PreferredAuthentications=publickey', '-o', 'PubkeyAuthentication=yes'] });
    assert.equal(result.code, 255);
    assert.match(result.stderr, /Permission denied \(keyboard-interactive,password\)/);
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 3 });
