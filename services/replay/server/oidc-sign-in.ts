import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { REPLAY_ROLES, type ReplayOidc, type ReplayRole } from '../../config/replay-schema.js';
import { resolveSecret } from '../../config/secrets.js';
import type { Principal } from './principals.js';

interface PendingSignIn {
  verifier: string;
  state: string;
  nonce: string;
  next: string;
  expires: number;
}

const PENDING_MS = 10 * 60 * 1000;

/**
 * Sign-in for people through the organisation's OpenID provider: authorization code flow with PKCE,
 * state and nonce; roles come from a claim (groups) mapped in configuration.
 */
export class OidcSignIn {
  private readonly pending = new Map<string, PendingSignIn>();

  private constructor(
    private readonly config: oidc.Configuration,
    private readonly settings: ReplayOidc,
    private readonly redirectUri: string,
  ) {}

  static async discover(settings: ReplayOidc, redirectUri: string): Promise<OidcSignIn> {
    const issuer = new URL(settings.issuer);
    const secret = resolveSecret(settings.clientSecret, 'replay.oidc.clientSecret');
    // Plain HTTP only toward a provider on this machine (a development or test stand-in).
    const loopback = issuer.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
    try {
      const config = await oidc.discovery(issuer, settings.clientId, secret, secret === undefined ? oidc.None() : oidc.ClientSecretPost(secret), loopback ? { execute: [oidc.allowInsecureRequests] } : undefined);
      return new OidcSignIn(config, settings, redirectUri);
    } catch (err) {
      throw Object.assign(new Error(`TG_REPLAY_OIDC_DISCOVERY: cannot read the OpenID configuration of ${settings.issuer} (${(err as Error).message}); check replay.oidc.issuer`), { code: 'TG_REPLAY_OIDC_DISCOVERY' });
    }
  }

  /** Starts a sign-in: returns the provider URL to send the browser to and the id of this attempt. */
  async start(next: string): Promise<{ attempt: string; url: string }> {
    this.sweep();
    const verifier = oidc.randomPKCECodeVerifier();
    const pending: PendingSignIn = { verifier, state: oidc.randomState(), nonce: oidc.randomNonce(), next, expires: Date.now() + PENDING_MS };
    const attempt = randomBytes(24).toString('base64url');
    this.pending.set(attempt, pending);
    const url = oidc.buildAuthorizationUrl(this.config, {
      redirect_uri: this.redirectUri,
      scope: this.settings.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    return { attempt, url: url.href };
  }

  /** Completes a sign-in from the callback URL; every check failing throws. */
  async finish(attempt: string | undefined, callbackUrl: URL): Promise<{ principal: Principal; next: string }> {
    const pending = attempt ? this.pending.get(attempt) : undefined;
    if (attempt) this.pending.delete(attempt);
    if (!pending || pending.expires < Date.now()) throw Object.assign(new Error('this sign-in attempt is unknown or expired; start again'), { code: 'TG_REPLAY_OIDC_STATE' });
    const tokens = await oidc.authorizationCodeGrant(this.config, callbackUrl, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true });
    const claims = tokens.claims();
    if (!claims) throw Object.assign(new Error('the provider returned no ID token'), { code: 'TG_REPLAY_OIDC_NO_ID_TOKEN' });
    const name = String(claims[this.settings.nameClaim] ?? claims.sub);
    return { principal: { name, roles: this.rolesOf(claims[this.settings.rolesClaim]), via: 'oidc' }, next: pending.next };
  }

  private rolesOf(value: unknown): ReplayRole[] {
    const groups = new Set((Array.isArray(value) ? value : typeof value === 'string' ? [value] : []).map(String));
    return REPLAY_ROLES.filter((role) => (this.settings.roles[role] ?? []).some((g) => groups.has(g)));
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) if (p.expires < now) this.pending.delete(id);
  }
}
