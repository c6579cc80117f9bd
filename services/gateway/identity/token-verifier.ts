import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import type { FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters, JWTPayload, JWTVerifyOptions, ProtectedHeaderParameters } from 'jose';
import type { JobIdentity } from '../../../events/identity.js';
import type { IssuerConfig, TrailgateConfig } from '../../config/schema.js';
import { ciContextFromClaims, scalarClaims } from './claims.js';
import { IdentityError, shown, shownList } from './errors.js';

/** What the verifier reads from `identity`; its timeouts come as options. */
export type IdentitySettings = Pick<TrailgateConfig['identity'], 'issuers' | 'clockSkewSeconds' | 'jwksCacheMaxAgeSeconds'>;

/** An issuer whose keys are known in memory, such as the built-in dev issuer. */
export interface StaticIssuer {
  config: IssuerConfig;
  jwks: JSONWebKeySet;
}

export interface TokenVerifierOptions {
  extraIssuers?: readonly StaticIssuer[];
  /** Least time between JWKS refetches caused by an unknown kid; stops forged kids from hammering the issuer. */
  jwksCooldownMs?: number;
  /** Time allowed for one discovery or JWKS request. */
  fetchTimeoutMs?: number;
}

type CryptoKeyOf = Awaited<ReturnType<ReturnType<typeof createLocalJWKSet>>>;
type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKeyOf>;

interface Issuer {
  config: IssuerConfig;
  algorithms: string[];
  keys: KeyResolver;
}

/** Token context carried into error messages; all of it is safe to show (no signature). */
interface Attempt {
  issuer: Issuer;
  header: ProtectedHeaderParameters;
  payload: JWTPayload;
}

/** Only asymmetric algorithms: HMAC would let anyone holding the public key forge tokens. */
const ASYMMETRIC = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** CI tokens are a few KiB; anything far larger is not one and is not worth parsing. */
const MAX_TOKEN_CHARS = 64 * 1024;

export class TokenVerifier {
  private readonly issuers = new Map<string, Issuer>();
  private readonly clockSkewSeconds: number;
  private readonly cooldownMs: number;

  constructor(settings: IdentitySettings, options: TokenVerifierOptions = {}) {
    this.clockSkewSeconds = settings.clockSkewSeconds;
    this.cooldownMs = options.jwksCooldownMs ?? 30_000;
    const remote: RemoteOptions = {
      cooldownMs: this.cooldownMs,
      timeoutMs: options.fetchTimeoutMs ?? 5_000,
      cacheMaxAgeMs: settings.jwksCacheMaxAgeSeconds * 1000,
    };
    for (const config of settings.issuers) {
      this.add(config, config.jwksFile ? staticKeys(config, readJwksFile(config)) : remoteKeys(config, remote));
    }
    for (const extra of options.extraIssuers ?? []) this.add(extra.config, staticKeys(extra.config, extra.jwks));
  }

  /** Verifies a CI OIDC token and returns the job identity it proves; throws IdentityError otherwise. */
  async verify(token: string | undefined): Promise<JobIdentity> {
    const jwt = token?.trim();
    if (!jwt) throw new IdentityError('TG_AUTH_NO_TOKEN', 'no token was presented; pass the CI OIDC token as the password');
    if (jwt.length > MAX_TOKEN_CHARS || !COMPACT_JWS.test(jwt)) {
      throw new IdentityError('TG_AUTH_MALFORMED', 'the password is not a JWT (three base64url parts joined by dots); pass the CI OIDC token itself');
    }
    const { header, payload } = decodeUntrusted(jwt);
    const alg = header.alg;
    if (typeof alg !== 'string' || alg === '') throw new IdentityError('TG_AUTH_MALFORMED', 'the token header has no "alg"');
    if (alg === 'none') throw new IdentityError('TG_AUTH_ALGORITHM', 'unsigned tokens (alg "none") are never accepted');
    if (/^HS\d+$/.test(alg)) {
      throw new IdentityError('TG_AUTH_ALGORITHM', `HMAC-signed tokens (alg "${shown(alg)}") are never accepted; CI issuers sign with asymmetric keys`);
    }
    const issuer = this.issuerFor(payload.iss);
    if (!issuer.algorithms.includes(alg)) {
      throw new IdentityError(
        'TG_AUTH_ALGORITHM',
        `token algorithm "${shown(alg)}" is not allowed for issuer ${issuer.config.name} (allowed: ${issuer.algorithms.join(', ')}); add it to the issuer's algorithms only if the issuer really signs with it`,
      );
    }
    const attempt: Attempt = { issuer, header, payload };
    const options: JWTVerifyOptions = {
      issuer: issuer.config.issuer,
      audience: issuer.config.audience,
      algorithms: issuer.algorithms,
      clockTolerance: this.clockSkewSeconds,
      requiredClaims: ['exp', 'iat', 'sub'],
    };
    let verified: JWTPayload;
    try {
      verified = (await jwtVerify(jwt, issuer.keys, options)).payload;
    } catch (err) {
      verified = await this.retryAmongCandidates(jwt, options, attempt, err);
    }
    this.checkIssuedAt(verified);
    return this.identity(issuer, verified);
  }

  /** jose checks `iat` only against a maximum age; a token issued later than now (plus the skew) comes from a wrong clock or a forger. */
  private checkIssuedAt(payload: JWTPayload): void {
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat === 'number' && payload.iat > now + this.clockSkewSeconds) {
      throw new IdentityError(
        'TG_AUTH_ISSUED_IN_FUTURE',
        `token was issued at ${isoTime(payload.iat)}, later than now (allowed clock skew ${this.clockSkewSeconds} s); check the clocks of the gateway host and the CI runner`,
      );
    }
  }

  private add(config: IssuerConfig, keys: KeyResolver): void {
    if (this.issuers.has(config.issuer)) throw new Error(`issuer ${config.issuer} is configured twice; keep one entry per iss value`);
    const algorithms = config.algorithms.filter((a) => ASYMMETRIC.has(a));
    this.issuers.set(config.issuer, { config, algorithms, keys });
  }

  private issuerFor(iss: unknown): Issuer {
    if (typeof iss !== 'string') throw new IdentityError('TG_AUTH_CLAIMS', 'the token has no "iss" claim, so its issuer cannot be known');
    const issuer = this.issuers.get(iss);
    if (issuer) return issuer;
    const known = [...this.issuers.keys()];
    throw new IdentityError(
      'TG_AUTH_UNKNOWN_ISSUER',
      known.length === 0
        ? `token issuer '${shown(iss)}' is not accepted: no issuers are configured; add it under identity.issuers`
        : `token issuer '${shown(iss)}' is not one of the configured issuers ${shownList(known)}; add it under identity.issuers or use a token from a configured CI system`,
    );
  }

  /** A key set may hold several keys that fit a token without kid; try each before giving up. */
  private async retryAmongCandidates(jwt: string, options: JWTVerifyOptions, attempt: Attempt, err: unknown): Promise<JWTPayload> {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw this.explain(err, attempt);
    let last: unknown = err;
    for await (const key of err) {
      try {
        return (await jwtVerify(jwt, key, options)).payload;
      } catch (next) {
        last = next;
        if (!(next instanceof errors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw this.explain(last, attempt);
  }

  private identity(issuer: Issuer, payload: JWTPayload): JobIdentity {
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new IdentityError('TG_AUTH_CLAIMS', 'the token "sub" claim is empty or not a string');
    const expires = new Date((payload.exp ?? NaN) * 1000);
    if (Number.isNaN(expires.getTime())) throw new IdentityError('TG_AUTH_CLAIMS', 'the token "exp" claim is not a usable time');
    const identity: JobIdentity = {
      issuer: issuer.config.issuer,
      issuerName: issuer.config.name,
      profile: issuer.config.profile,
      subject: payload.sub,
      expiresAt: expires.toISOString(),
      ci: ciContextFromClaims(issuer.config.profile, payload),
      claims: scalarClaims(payload),
    };
    if (typeof payload.jti === 'string' && payload.jti !== '') identity.tokenId = payload.jti;
    return identity;
  }

  /** Turns a jose failure into an IdentityError whose message names the cause and the fix. */
  private explain(err: unknown, { issuer, header, payload }: Attempt): IdentityError {
    if (err instanceof IdentityError) return err;
    const name = issuer.config.name;
    const skew = `allowed clock skew ${this.clockSkewSeconds} s`;
    const code = err instanceof errors.JOSEError ? err.code : undefined;
    switch (code) {
      case 'ERR_JWT_EXPIRED':
        return new IdentityError(
          'TG_AUTH_EXPIRED',
          `token expired at ${isoTime(payload.exp)} (${skew}); CI tokens live minutes, so request a fresh one right before connecting`,
        );
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
        const { claim, reason } = err as errors.JWTClaimValidationFailed;
        if (reason === 'missing') return new IdentityError('TG_AUTH_CLAIMS', `the token has no "${claim}" claim, which is required`);
        if (reason === 'invalid') return new IdentityError('TG_AUTH_CLAIMS', `the token "${claim}" claim has the wrong type`);
        if (claim === 'nbf') {
          return new IdentityError(
            'TG_AUTH_NOT_YET_VALID',
            `token is not valid before ${isoTime(payload.nbf)} (${skew}); check the clocks of the gateway host and the CI runner`,
          );
        }
        if (claim === 'aud') return new IdentityError('TG_AUTH_AUDIENCE', audienceMessage(issuer.config, payload.aud));
        if (claim === 'iss') return new IdentityError('TG_AUTH_UNKNOWN_ISSUER', `token issuer '${shown(payload.iss)}' does not match issuer ${name}`);
        return new IdentityError('TG_AUTH_CLAIMS', `the token "${claim}" claim failed validation`);
      }
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return new IdentityError(
          'TG_AUTH_SIGNATURE',
          `token signature does not verify with issuer ${name}'s key${kidText(header)}; the token was altered or signed by another key`,
        );
      case 'ERR_JWKS_NO_MATCHING_KEY':
        return new IdentityError('TG_AUTH_UNKNOWN_KEY', `issuer ${name} has no signing key${kidText(header)}`);
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
      case 'ERR_JOSE_NOT_SUPPORTED':
        return new IdentityError('TG_AUTH_ALGORITHM', `token algorithm "${shown(header.alg)}" cannot be used with issuer ${name}'s keys`);
      case 'ERR_JWS_INVALID':
      case 'ERR_JWT_INVALID':
        return new IdentityError('TG_AUTH_MALFORMED', `the token is not a well-formed signed JWT: ${(err as Error).message}`);
      default:
        return new IdentityError('TG_AUTH_SIGNATURE', `could not verify the token with issuer ${name}'s key${kidText(header)}: ${reasonOf(err)}`);
    }
  }
}

interface RemoteOptions {
  cooldownMs: number;
  timeoutMs: number;
  cacheMaxAgeMs: number;
}

function decodeUntrusted(jwt: string): { header: ProtectedHeaderParameters; payload: JWTPayload } {
  try {
    return { header: decodeProtectedHeader(jwt), payload: decodeJwt(jwt) };
  } catch {
    throw new IdentityError('TG_AUTH_MALFORMED', 'the token header or payload is not base64url-encoded JSON; pass the CI OIDC token itself');
  }
}

function readJwksFile(config: IssuerConfig): JSONWebKeySet {
  const file = config.jwksFile as string;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as JSONWebKeySet;
  } catch (err) {
    throw new Error(`cannot read the JWKS file ${file} of issuer ${config.name}: ${reasonOf(err)}`, { cause: err });
  }
}

function staticKeys(config: IssuerConfig, jwks: JSONWebKeySet): KeyResolver {
  const local = createLocalJWKSet(jwks);
  const source = config.jwksFile ? `the keys in ${config.jwksFile}` : 'its built-in keys';
  return async (header, token) => {
    try {
      return await local(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      throw new IdentityError('TG_AUTH_UNKNOWN_KEY', `issuer ${config.name} has no signing key${kidText(header)} among ${source}`);
    }
  };
}

/** Keys fetched from jwksUri or the discovery document, both only when first needed. */
function remoteKeys(config: IssuerConfig, options: RemoteOptions): KeyResolver {
  let remote: Promise<{ url: string; keys: KeyResolver }> | undefined;
  const open = async () => {
    const url = config.jwksUri ?? (await discoverJwksUri(config, options.timeoutMs));
    const keys = createRemoteJWKSet(new URL(url), {
      cooldownDuration: options.cooldownMs,
      cacheMaxAge: options.cacheMaxAgeMs,
      timeoutDuration: options.timeoutMs,
    });
    return { url, keys };
  };
  return async (header, token) => {
    // A failed discovery is forgotten so the next connection tries again.
    remote ??= open().catch((err: unknown) => {
      remote = undefined;
      throw err;
    });
    const { url, keys } = await remote;
    try {
      return await keys(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) {
        const retry = `retry after ${Math.ceil(options.cooldownMs / 1000)} s if the issuer rotated its keys just now`;
        throw new IdentityError('TG_AUTH_UNKNOWN_KEY', `issuer ${config.name} publishes no signing key${kidText(header)} at ${url}; ${retry}`);
      }
      if (err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported) throw err;
      throw new IdentityError(
        'TG_AUTH_JWKS_UNAVAILABLE',
        `could not fetch the signing keys of issuer ${config.name}: ${reasonOf(err, options.timeoutMs)}; check network access to ${url} or configure jwksFile`,
        { cause: err },
      );
    }
  };
}

/** OpenID discovery: the document must name the same issuer, as the spec requires. */
async function discoverJwksUri(config: IssuerConfig, timeoutMs: number): Promise<string> {
  const url = `${config.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const unavailable = (why: string, cause?: unknown) =>
    new IdentityError(
      'TG_AUTH_JWKS_UNAVAILABLE',
      `could not fetch the signing keys of issuer ${config.name}: discovery document ${url}: ${why}; check network access to ${url}, or set jwksUri or jwksFile`,
      { cause },
    );
  let doc: unknown;
  try {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (response.status !== 200) throw new Error(`HTTP status ${response.status}`);
    doc = await response.json();
  } catch (err) {
    throw unavailable(reasonOf(err, timeoutMs), err);
  }
  const fields = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
  if (fields['issuer'] !== config.issuer) throw unavailable(`it names issuer '${shown(fields['issuer'])}', not '${config.issuer}'`);
  const jwksUri = fields['jwks_uri'];
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) throw unavailable('it has no valid jwks_uri');
  return jwksUri;
}

function audienceMessage(config: IssuerConfig, aud: unknown): string {
  const expected = typeof config.audience === 'string' ? [config.audience] : config.audience;
  const got = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
  const want = expected[0] ?? '';
  const how =
    config.profile === 'github'
      ? ` (core.getIDToken('${want}'), or &audience=${want} on ACTIONS_ID_TOKEN_REQUEST_URL)`
      : config.profile === 'gitlab'
        ? ` (id_tokens: <NAME>: aud: ${want} in .gitlab-ci.yml)`
        : '';
  return `token audience ${shownList(got)} does not include any of ${shownList(expected)}; request the token with audience '${want}'${how}`;
}

function kidText(header: JWSHeaderParameters): string {
  return header.kid === undefined ? ' (the token names no kid)' : ` with kid '${shown(header.kid)}'`;
}

function isoTime(seconds: unknown): string {
  const date = new Date(typeof seconds === 'number' ? seconds * 1000 : NaN);
  return Number.isNaN(date.getTime()) ? `'${shown(seconds)}'` : date.toISOString();
}

/** A short reason for a failed fetch or key import; fetch hides the socket error in `cause`. */
function reasonOf(err: unknown, timeoutMs?: number): string {
  if (err instanceof errors.JWKSTimeout || (err instanceof Error && err.name === 'TimeoutError')) {
    return timeoutMs === undefined ? 'timed out' : `no answer within ${timeoutMs} ms`;
  }
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { message?: unknown; code?: unknown } | undefined;
  const detail = cause?.message || cause?.code;
  return typeof detail === 'string' && detail !== '' ? `${err.message} (${detail})` : err.message;
}
