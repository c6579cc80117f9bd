import type { AuditRecord } from '../../../events/index.js';
import type { SessionFilter, SessionListing } from '../record-source.js';
import { ReplayError, type ReplayContext } from './app.js';
import { canViewSession, type Principal } from './principals.js';

/** A session the principal may see, or a 404/403 error that says which. */
export async function visibleSession(ctx: ReplayContext, who: Principal, id: string): Promise<SessionListing> {
  const session = await ctx.source.session(id);
  if (!session) throw new ReplayError(404, 'TG_REPLAY_SESSION_NOT_FOUND', `no session ${id}`);
  if (!canViewSession(who, session.context)) {
    ctx.log(`replay: ${who.name} refused session ${id} (outside their repositories)`);
    throw new ReplayError(403, 'TG_REPLAY_FORBIDDEN', `${who.name} may not view this session`);
  }
  return session;
}

/** Sessions matching the filter that the principal may see. */
export async function visibleSessions(ctx: ReplayContext, who: Principal, filter: SessionFilter): Promise<SessionListing[]> {
  const limit = filter.limit ?? 100;
  // A scoped viewer's sessions can be a small part of the log: read wider, then keep theirs.
  const found = await ctx.source.findSessions({ ...filter, limit: who.repositories ? limit * 10 : limit });
  return found.filter((s) => canViewSession(who, s.context)).slice(0, limit);
}

export async function sessionRecords(ctx: ReplayContext, id: string, stream?: AuditRecord['stream']): Promise<AuditRecord[]> {
  return ctx.source.records(id, stream);
}
