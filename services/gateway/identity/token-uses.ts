import { createHash } from 'node:crypto';
import type { JobIdentity, TokenReusedData } from '../../../events/index.js';
import { IdentityError } from './errors.js';

export type TokenReusePolicy = TokenReusedData['policy'];

/** The first session a token opened; what every gateway knows about it, never the token itself. */
export interface TokenUse {
  /** The jti, or `sha256:<hex>` of the token when the issuer sets none. */
  tokenId: string;
  /** Client address of the first session. */
  client: string;
  /** The issuer's `iss`. */
  issuer: string;
  /** Expiry, seconds since the epoch: the entry is kept until then (plus the clock skew). */
  exp: number;
  sessionId: string;
  instance: string;
  /** When the first session opened, ISO 8601. */
  at: string;
}

/**
 * Where first uses are kept and shared: the embedded log's SQLite file, or a Kafka topic that every
 * gateway reads. `claim` stores `use` unless the token already has a first use, and resolves with
 * the one that holds.
 */
export interface TokenUseStore {
  claim(key: string, use: TokenUse): Promise<TokenUse>;
  /** Drops entries that expired before `nowSeconds`. */
  prune(nowSeconds: number): void;
  close(): Promise<void>;
}

export interface TokenUsesOptions {
  store: TokenUseStore;
  instance: string;
  /** The `tokenReuse` of an issuer, by its configured name. */
  policyOf: (issuerName: string) => TokenReusePolicy;
  clockSkewSeconds: number;
  /** First uses held in memory at most; older ones are still found in the store. */
  maxEntries?: number;
}

/** A refused reuse: the error for the client and the record for the session. */
export class TokenReusedError extends IdentityError {
  constructor(
    message: string,
    readonly reuse: TokenReusedData,
  ) {
    super('TG_AUTH_TOKEN_REUSED', message);
  }
}

/** The key of a token's first use: issuer and token id together, digested, so keys have one shape. */
export function tokenUseKey(issuer: string, tokenId: string): string {
  return createHash('sha256').update(`${issuer}\u0000${tokenId}`).digest('hex');
}

/** IPv4 clients may show up as IPv4-mapped IPv6 addresses; the same client is the same address either way. */
function addressOf(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Replay protection for CI tokens: the first session a token opens is kept until the token expires,
 * and every later session with it is checked against the issuer's `tokenReuse` and recorded.
 */
export class TokenUses {
  private readonly recent = new Map<string, TokenUse>();
  /** Claims in flight, so that two sessions of one token on this gateway wait for one answer. */
  private readonly pending = new Map<string, Promise<TokenUse>>();
  private readonly maxEntries: number;
  private lastPrune = 0;

  constructor(private readonly o: TokenUsesOptions) {
    this.maxEntries = o.maxEntries ?? 100_000;
  }

  /**
   * Checks a verified token for a new session. Resolves with nothing for a first use, with the reuse
   * to record when the issuer allows it; throws TokenReusedError when it does not.
   */
  async admit(identity: JobIdentity, token: string, client: string, sessionId: string): Promise<TokenReusedData | undefined> {
    const tokenId = identity.tokenId ?? `sha256:${createHash('sha256').update(token.trim()).digest('hex')}`;
    const key = tokenUseKey(identity.issuer, tokenId);
    const exp = Math.floor(new Date(identity.expiresAt).getTime() / 1000) + this.o.clockSkewSeconds;
    const mine: TokenUse = { tokenId, client: addressOf(client), issuer: identity.issuer, exp, sessionId, instance: this.o.instance, at: new Date().toISOString() };
    this.pruneNow();
    const first = await this.firstUse(key, mine);
    if (first.sessionId === sessionId) return undefined;
    const policy = this.o.policyOf(identity.issuerName);
    const sameClient = first.client === mine.client;
    const allowed = policy === 'any' || (policy === 'same-client' && sameClient);
    const reuse: TokenReusedData = {
      tokenId,
      policy,
      outcome: allowed ? 'allowed' : 'refused',
      ...(allowed ? {} : { code: 'TG_AUTH_TOKEN_REUSED' }),
      sameClient,
      first: { sessionId: first.sessionId, client: first.client, instance: first.instance, at: first.at },
    };
    if (allowed) return reuse;
    const why =
      policy === 'single-session'
        ? `this token already opened session ${first.sessionId} at ${first.at}, and issuer ${identity.issuerName} allows one session per token`
        : `this token already opened session ${first.sessionId} at ${first.at} from another client address, and issuer ${identity.issuerName} allows later sessions only from that address`;
    throw new TokenReusedError(`${why}; request a fresh token for this connection`, reuse);
  }

  private async firstUse(key: string, mine: TokenUse): Promise<TokenUse> {
    const known = this.recent.get(key);
    if (known) return known;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const claim = this.o.store.claim(key, mine).finally(() => this.pending.delete(key));
    this.pending.set(key, claim);
    const first = await claim;
    this.remember(key, first);
    return first;
  }

  /** Learns a first use from elsewhere (another gateway, through the shared log). */
  remember(key: string, use: TokenUse): void {
    if (this.recent.has(key)) return;
    if (this.recent.size >= this.maxEntries) {
      this.pruneNow(true);
      // Still full of live tokens: the oldest leave memory; the store still answers for them.
      for (const k of this.recent.keys()) {
        if (this.recent.size < this.maxEntries) break;
        this.recent.delete(k);
      }
    }
    this.recent.set(key, use);
  }

  private pruneNow(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    const seconds = Math.floor(now / 1000);
    for (const [k, use] of this.recent) if (use.exp < seconds) this.recent.delete(k);
    this.o.store.prune(seconds);
  }

  get size(): number {
    return this.recent.size;
  }

  close(): Promise<void> {
    return this.o.store.close();
  }
}
