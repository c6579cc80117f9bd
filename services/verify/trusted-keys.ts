import { calculateJwkThumbprint, compactVerify, createLocalJWKSet, errors, type JWK } from 'jose';
import type { Failure } from './verdict.js';

export type SignatureCheck = { ok: true; payload: Record<string, unknown>; kid: string } | { ok: false; kind: 'bad-signature' | 'unknown-key'; message: string };

/** The keys verify trusts, and where they came from. */
export class TrustedKeys {
  private readonly keySet: ReturnType<typeof createLocalJWKSet>;
  private readonly kids: Set<string>;

  constructor(
    readonly keys: JWK[],
    readonly origin: string,
  ) {
    this.keySet = createLocalJWKSet({ keys });
    this.kids = new Set(keys.map((k) => k.kid ?? ''));
  }

  async check(jws: string, typ: string): Promise<SignatureCheck> {
    let kid = '?';
    try {
      const header = JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString('utf8')) as { kid?: string; typ?: string };
      kid = header.kid ?? '?';
      if (!this.kids.has(kid)) return { ok: false, kind: 'unknown-key', message: `signed with key ${kid}, which the trusted key set (${this.origin}) does not hold` };
      if (header.typ !== typ) return { ok: false, kind: 'bad-signature', message: `signature of type ${header.typ ?? 'none'} where ${typ} belongs` };
      const { payload } = await compactVerify(jws, this.keySet, { algorithms: ['EdDSA'] });
      return { ok: true, payload: JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>, kid };
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) return { ok: false, kind: 'unknown-key', message: `signed with key ${kid}, which the trusted key set (${this.origin}) does not hold` };
      return { ok: false, kind: 'bad-signature', message: `signature by key ${kid} does not verify with the trusted key (${(err as Error).message})` };
    }
  }
}

/**
 * A key's id is its thumbprint, so a key replaced under its id shows; and a key the log's own
 * store publishes differently from the trusted copy shows too.
 */
export async function checkPublishedKeys(published: JWK[], trusted: TrustedKeys | null): Promise<Failure[]> {
  const failures: Failure[] = [];
  for (const key of published) {
    const thumbprint = await calculateJwkThumbprint(key, 'sha256').catch(() => null);
    if (thumbprint !== key.kid) {
      failures.push({ kind: 'key-replaced', seq: null, message: `published key ${key.kid ?? '(no kid)'} does not have that id's key material (thumbprint ${thumbprint ?? 'unreadable'}): the key was replaced` });
      continue;
    }
    const pinned = trusted?.keys.find((k) => k.kid === key.kid);
    if (pinned && pinned.x !== key.x) failures.push({ kind: 'key-replaced', seq: null, message: `published key ${key.kid} differs from the trusted copy (${trusted?.origin ?? ''})` });
  }
  return failures;
}
