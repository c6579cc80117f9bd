import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SessionContext } from '../../../events/index.js';
import type { ReplayRole, ReplayUser } from '../../config/replay-schema.js';
import { resolveSecret } from '../../config/secrets.js';
import { compileGlob, type GlobMatcher } from '../../gateway/policy/glob.js';

/** Someone signed in to the replay UI. */
export interface Principal {
  name: string;
  roles: ReplayRole[];
  /** Repositories whose sessions they may see; undefined: all. */
  repositories?: string[];
  via: 'token' | 'oidc';
}

export function canViewSessions(p: Principal): boolean {
  return p.roles.length > 0;
}

/** Whether a person may see one session: a role, and the session's repository within their scope. */
export function canViewSession(p: Principal, context: SessionContext): boolean {
  if (!canViewSessions(p)) return false;
  if (!p.repositories || p.roles.includes('admin')) return true;
  const repo = context.identity?.ci.repository;
  return repo !== undefined && p.repositories.some((g) => matcher(g)(repo));
}

const matchers = new Map<string, GlobMatcher>();
function matcher(glob: string): GlobMatcher {
  let m = matchers.get(glob);
  if (!m) matchers.set(glob, (m = compileGlob(glob)));
  return m;
}

export function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Static tokens from configuration, held only as SHA-256 digests. */
export class StaticTokens {
  private readonly users: { digest: Buffer; user: ReplayUser }[];

  constructor(users: readonly ReplayUser[]) {
    this.users = users.map((user, i) => ({
      user,
      digest: user.tokenSha256 ? Buffer.from(user.tokenSha256, 'hex') : sha256(resolveSecret(user.token, `replay.users.${i}.token`) ?? ''),
    }));
  }

  get size(): number {
    return this.users.length;
  }

  /** The user a token belongs to; every digest is compared, in constant time each. */
  authenticate(token: string): Principal | null {
    if (!token) return null;
    const digest = sha256(token);
    let found: ReplayUser | null = null;
    for (const u of this.users) if (timingSafeEqual(u.digest, digest)) found ??= u.user;
    if (!found) return null;
    return { name: found.name, roles: [...found.roles], ...(found.repositories ? { repositories: [...found.repositories] } : {}), via: 'token' };
  }
}

/** Signed-in browsers: an opaque random id in a cookie, the principal here, for a limited time. */
export class SignIns {
  private readonly live = new Map<string, { principal: Principal; expires: number }>();

  constructor(private readonly ttlMs: number) {}

  create(principal: Principal): string {
    this.sweep();
    const id = randomBytes(32).toString('base64url');
    this.live.set(id, { principal, expires: Date.now() + this.ttlMs });
    return id;
  }

  get(id: string | undefined): Principal | null {
    if (!id) return null;
    const s = this.live.get(id);
    if (!s) return null;
    if (s.expires < Date.now()) {
      this.live.delete(id);
      return null;
    }
    return s.principal;
  }

  end(id: string | undefined): void {
    if (id) this.live.delete(id);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.live) if (s.expires < now) this.live.delete(id);
  }
}
