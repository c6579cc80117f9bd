/** Hostile tokens for tests: each one must be refused by the verifier. */
import { randomUUID } from 'node:crypto';
import { SignJWT, exportSPKI, generateKeyPair, importJWK } from 'jose';
import type { JWK } from 'jose';
import { DEV_AUDIENCE, DEV_ISSUER, type DevIssuer } from '../../services/dev/dev-issuer.js';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** Claims a dev token would carry, for forgeries that need plausible content. */
export function plausibleClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = now();
  return { iss: DEV_ISSUER, aud: DEV_AUDIENCE, sub: 'repo:acme/payments:ref:refs/heads/main', repository: 'acme/payments', iat, exp: iat + 600, ...extra };
}

/** `alg: none`, empty signature. */
export function unsignedToken(claims = plausibleClaims()): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
}

/** The classic key-confusion forgery: HS256 with the issuer's public key (PEM or JWK JSON) as the HMAC secret. */
export async function hs256WithPublicKey(publicJwk: JWK, as: 'pem' | 'jwk', claims = plausibleClaims()): Promise<string> {
  const secret = as === 'pem' ? await exportSPKI((await importJWK(publicJwk, 'RS256', { extractable: true })) as CryptoKey) : JSON.stringify(publicJwk);
  const header = { alg: 'HS256', typ: 'JWT', ...(publicJwk.kid ? { kid: publicJwk.kid } : {}) };
  return new SignJWT(claims).setProtectedHeader(header).sign(new TextEncoder().encode(secret));
}

/** Properly signed, but by a key the issuer never published. */
export async function signedByOtherKey(kid: string | undefined, claims = plausibleClaims()): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(kid ? { kid } : {}) }).sign(privateKey);
}

/** Signed by a stranger under the issuer's kid: the signature cannot verify. */
export const sameKidOtherKey = (dev: DevIssuer, claims?: Record<string, unknown>) => signedByOtherKey(dev.kid, claims);

/** Signed by a stranger under a kid nobody published. */
export const unknownKid = (claims?: Record<string, unknown>) => signedByOtherKey(`unknown-${randomUUID()}`, claims);

/** A genuine token whose payload was edited afterwards; the original signature is kept. */
export function tamperedPayload(token: string, changes: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${header}.${b64url({ ...claims, ...changes })}.${signature}`;
}

/** Strings that are not JWTs at all, or only look like one. */
export const GARBAGE_TOKENS: readonly string[] = [
  'hunter2',
  'a.b',
  'a.b.c.d',
  '...',
  'not base64!.eyJ9.sig',
  `${b64url({ alg: 'RS256' })}.bm90IGpzb24.c2ln`,
  `bm90IGpzb24.${b64url({ iss: DEV_ISSUER })}.c2ln`,
  `${b64url(['array'])}.${b64url({ iss: DEV_ISSUER })}.c2ln`,
];

/** Signed by the dev issuer, with claims that make them unacceptable. */
export const expired = (dev: DevIssuer) => dev.mint({ claims: { iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 } });
export const notYetValid = (dev: DevIssuer) => dev.mint({ claims: { nbf: now() + 3600, exp: now() + 7200 } });
/** Inside its validity window (nbf in the past), but issued an hour from now. */
export const issuedInFuture = (dev: DevIssuer) => dev.mint({ claims: { iat: now() + 3600, nbf: now() - 60, exp: now() + 7200 } });
export const wrongAudience = (dev: DevIssuer) => dev.mint({ audience: 'https://github.com/acme' });
export const wrongIssuer = (dev: DevIssuer) => dev.mint({ claims: { iss: 'https://token.actions.githubusercontent.com' } });
