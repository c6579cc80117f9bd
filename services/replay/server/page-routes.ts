import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EventRecord } from '../../../events/index.js';
import { hasTerminal } from '../cast.js';
import type { SessionFilter } from '../record-source.js';
import { buildTranscript } from '../transcript.js';
import { ReplayError, type ReplayContext } from './app.js';
import type { SafeHtml } from './html.js';
import { messagePage, sessionPage, sessionsPage } from './pages.js';
import { canViewSessions, type Principal } from './principals.js';
import { sessionFilterQuery, sessionIdParams } from './schemas.js';
import { sessionRecords, visibleSession, visibleSessions } from './session-access.js';

function send(reply: FastifyReply, page: SafeHtml, code = 200): FastifyReply {
  return reply.code(code).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page.value);
}

/** The signed-in viewer, or a reply already sent (sign-in redirect or a 403 page that shows nothing). */
function viewer(req: FastifyRequest, reply: FastifyReply): Principal | null {
  if (!req.principal) {
    void reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
    return null;
  }
  if (!canViewSessions(req.principal)) {
    send(reply, messagePage('Not allowed', 'You are signed in, but no role of yours allows viewing sessions.', req.principal), 403);
    return null;
  }
  return req.principal;
}

/** Server-rendered pages; the only script they load is the player and /assets/replay.js. */
export function registerPageRoutes(app: FastifyInstance, ctx: ReplayContext): void {
  // The filter form sends every field, empty ones too.
  const orEmpty = (schema: object) => ({ anyOf: [{ type: 'string', maxLength: 0 }, schema] });
  const p = sessionFilterQuery.properties;
  const pageQuery = { ...sessionFilterQuery, properties: { ...p, protocol: orEmpty(p.protocol), from: orEmpty(p.from), to: orEmpty(p.to) } };
  app.get<{ Querystring: SessionFilter }>('/', { schema: { hide: true, querystring: pageQuery } }, async (req, reply) => {
    const who = viewer(req, reply);
    if (!who) return reply;
    const filter = Object.fromEntries(Object.entries(req.query).filter(([, v]) => v !== '' && v !== undefined)) as SessionFilter;
    return send(reply, sessionsPage(who, filter, await visibleSessions(ctx, who, filter)));
  });

  app.get<{ Params: { id: string } }>('/sessions/:id', { schema: { hide: true, params: sessionIdParams } }, async (req, reply) => {
    const who = viewer(req, reply);
    if (!who) return reply;
    let session;
    try {
      session = await visibleSession(ctx, who, req.params.id);
    } catch (err) {
      if (err instanceof ReplayError) return send(reply, messagePage(err.statusCode === 403 ? 'Not allowed' : 'Not found', err.statusCode === 403 ? 'You may not view this session.' : 'There is no such session.', who), err.statusCode);
      throw err;
    }
    // Events only: a long terminal session's bytes are read once, by the player's cast request.
    const events = (await sessionRecords(ctx, session.sessionId, 'events')) as EventRecord[];
    let castUrl: string | null = null;
    let castProblem: string | null = null;
    if (session.context.protocol === 'postgres') {
      if (events.some((e) => e.type === 'command.started')) castUrl = `/api/sessions/${encodeURIComponent(session.sessionId)}/transcript?format=cast`;
    } else if (hasTerminal(events) || hasTerminal(await sessionRecords(ctx, session.sessionId, 'bytes'))) {
      castUrl = `/api/sessions/${encodeURIComponent(session.sessionId)}/cast`;
    } else {
      castProblem = 'This session has no terminal output to replay.';
    }
    return send(
      reply,
      sessionPage(who, {
        session,
        verdict: await ctx.integrity.verify(session.sessionId),
        events,
        transcript: session.context.protocol === 'postgres' ? buildTranscript(session.sessionId, events) : null,
        castUrl,
        castProblem,
      }),
    );
  });
}
