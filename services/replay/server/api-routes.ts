import type { FastifyInstance } from 'fastify';
import type { EventRecord } from '../../../events/index.js';
import { CastError, buildCast, castText } from '../cast.js';
import type { SessionFilter } from '../record-source.js';
import { buildTranscript, transcriptText } from '../transcript.js';
import { transcriptCast } from '../transcript-cast.js';
import { ReplayError, requireViewer, type ReplayContext } from './app.js';
import { denied, eventRecordSchema, principalSchema, secured, sessionFilterQuery, sessionIdParams, sessionListingSchema, transcriptSchema, verdictSchema } from './schemas.js';
import { sessionRecords, visibleSession, visibleSessions } from './session-access.js';

type IdParams = { Params: { id: string } };

/** The REST API: every route has schemas, answers JSON errors with TG_ codes, and checks rights. */
export function registerApiRoutes(app: FastifyInstance, ctx: ReplayContext): void {
  app.get('/api/me', { schema: { summary: 'Who is signed in', tags: ['auth'], security: secured, response: { 200: principalSchema, 401: denied[401] } } }, async (req) => {
    if (!req.principal) throw new ReplayError(401, 'TG_REPLAY_UNAUTHENTICATED', 'sign in first');
    return req.principal;
  });

  app.get<{ Querystring: SessionFilter }>(
    '/api/sessions',
    {
      schema: {
        summary: 'Sessions, newest first, filtered and searched',
        tags: ['sessions'],
        security: secured,
        querystring: sessionFilterQuery,
        response: { 200: { type: 'object', required: ['sessions'], properties: { sessions: { type: 'array', items: sessionListingSchema } } }, ...denied },
      },
    },
    async (req) => ({ sessions: await visibleSessions(ctx, requireViewer(req), req.query) }),
  );

  app.get<IdParams>(
    '/api/sessions/:id',
    { schema: { summary: 'One session with its integrity verdict', tags: ['sessions'], security: secured, params: sessionIdParams, response: { 200: { type: 'object', required: ['session', 'verdict'], properties: { session: sessionListingSchema, verdict: verdictSchema } }, ...denied } } },
    async (req) => {
      const session = await visibleSession(ctx, requireViewer(req), req.params.id);
      return { session, verdict: await ctx.integrity.verify(session.sessionId) };
    },
  );

  app.get<IdParams>(
    '/api/sessions/:id/events',
    { schema: { summary: 'Event records of a session in sequence order (no bytes)', tags: ['sessions'], security: secured, params: sessionIdParams, response: { 200: { type: 'object', required: ['events'], properties: { events: { type: 'array', items: eventRecordSchema } } }, ...denied } } },
    async (req) => {
      const session = await visibleSession(ctx, requireViewer(req), req.params.id);
      const events = (await sessionRecords(ctx, session.sessionId, 'events')) as EventRecord[];
      return { events: events.map((e) => ({ seq: e.seq, ts: e.ts, type: e.type, data: e.data })) };
    },
  );

  app.get<IdParams>(
    '/api/sessions/:id/verdict',
    { schema: { summary: 'Integrity verdict of a session', tags: ['sessions'], security: secured, params: sessionIdParams, response: { 200: verdictSchema, ...denied } } },
    async (req) => ctx.integrity.verify((await visibleSession(ctx, requireViewer(req), req.params.id)).sessionId),
  );

  app.get<IdParams & { Querystring: { version?: 2 | 3; channel?: number; input?: boolean } }>(
    '/api/sessions/:id/cast',
    {
      schema: {
        summary: 'The terminal of an SSH session as an asciicast (NDJSON text)',
        tags: ['replay'],
        security: secured,
        params: sessionIdParams,
        querystring: { type: 'object', additionalProperties: false, properties: { version: { type: 'integer', enum: [2, 3], default: 2 }, channel: { type: 'integer', minimum: 0 }, input: { type: 'boolean', default: false } } },
        // The cast is asciicast; errors are JSON like every other route (a global `produces` would say otherwise).
        response: { 200: { description: 'asciicast v2 or v3', content: { 'application/x-asciicast': { schema: { type: 'string' } } } }, ...denied },
      },
    },
    async (req, reply) => {
      const session = await visibleSession(ctx, requireViewer(req), req.params.id);
      try {
        const cast = buildCast(session.sessionId, await sessionRecords(ctx, session.sessionId), { version: req.query.version ?? 2, ...(req.query.channel !== undefined ? { channel: req.query.channel } : {}), input: req.query.input ?? false });
        return reply.type('application/x-asciicast; charset=utf-8').send(castText(cast));
      } catch (err) {
        if (err instanceof CastError) throw new ReplayError(404, err.code, err.message);
        throw err;
      }
    },
  );

  app.get<IdParams & { Querystring: { format?: 'json' | 'text' | 'cast' } }>(
    '/api/sessions/:id/transcript',
    {
      schema: {
        summary: 'The statements of a Postgres session: parameters, timing, decision, outcome, rows, error, masking',
        tags: ['replay'],
        security: secured,
        params: sessionIdParams,
        querystring: { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['json', 'text', 'cast'], default: 'json', description: 'json, readable text, or an asciicast for the player' } } },
        response: {
          200: {
            description: 'the transcript in the format asked for',
            content: { 'application/json': { schema: transcriptSchema }, 'text/plain': { schema: { type: 'string' } }, 'application/x-asciicast': { schema: { type: 'string' } } },
          },
          ...denied,
        },
      },
    },
    async (req, reply) => {
      const session = await visibleSession(ctx, requireViewer(req), req.params.id);
      const transcript = buildTranscript(session.sessionId, await sessionRecords(ctx, session.sessionId, 'events'));
      if (req.query.format === 'text') return reply.type('text/plain; charset=utf-8').send(transcriptText(transcript));
      if (req.query.format === 'cast') return reply.type('application/x-asciicast; charset=utf-8').send(castText(transcriptCast(transcript)));
      return transcript;
    },
  );
}
