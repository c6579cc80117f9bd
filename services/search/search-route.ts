import type { FastifyInstance, FastifyPluginOptions } from 'fastify';
import { MAX_TRAIL_LIMIT, TrailQueryError, trailFilters } from '../../connectors/search/query.js';
import { SearchServiceError, type SearchService } from '../../connectors/search/service.js';
import { searchTrail } from './search-trail.js';

export interface SearchRouteOptions extends FastifyPluginOptions {
  service: SearchService;
  /** Data stream or pattern to search; default every Trailgate audit data stream. */
  index?: string;
}

interface SearchQuery {
  repo?: string;
  run?: string;
  actor?: string;
  target?: string;
  session?: string;
  since?: string;
  until?: string;
  q?: string;
  commands?: boolean;
  limit?: number;
}

const text = { type: 'string', minLength: 1, maxLength: 1024 } as const;

const querystring = {
  type: 'object',
  additionalProperties: false,
  properties: {
    repo: { ...text, description: 'repository, e.g. acme/payments' },
    run: { ...text, pattern: '^[^/]+(/[^/]+)?$', description: 'run id, or id/attempt' },
    actor: text,
    target: text,
    session: text,
    since: { ...text, description: 'ISO 8601 time or an age: 15m, 2h, 7d' },
    until: text,
    q: { ...text, description: 'words or a fragment of the command text' },
    commands: { type: 'boolean', description: 'only commands' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_TRAIL_LIMIT, default: 50 },
  },
} as const;

const row = {
  type: 'object',
  properties: {
    time: { type: 'string' },
    sessionId: { type: 'string' },
    seq: { type: 'integer' },
    action: { type: 'string' },
    outcome: { type: 'string' },
    repository: { type: 'string' },
    run: { type: 'string' },
    actor: { type: 'string' },
    target: { type: 'string' },
    client: { type: 'string' },
    detail: { type: 'string' },
  },
} as const;

const error = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } as const;

/**
 * GET /search: the audit trail in the search cluster, by repository, run, actor, target, time and
 * command text. Register it under the API prefix: `app.register(searchRoutes, { prefix: '/api', service })`.
 * Errors: 400 TG_SEARCH_USAGE (a filter it cannot read), 503 TG_SEARCH_UNAVAILABLE (cluster down or throttling).
 */
export async function searchRoutes(app: FastifyInstance, opts: SearchRouteOptions): Promise<void> {
  app.get<{ Querystring: SearchQuery }>(
    '/search',
    { schema: { querystring, response: { 200: { type: 'object', properties: { total: { type: 'integer' }, rows: { type: 'array', items: row } } }, 400: error, 503: error } } },
    async (request, reply) => {
      const q = request.query;
      const filters = trailFilters({ ...q, text: q.q }, q.limit ?? 50);
      try {
        return await searchTrail(opts.service, filters, opts.index);
      } catch (err) {
        if (err instanceof TrailQueryError) return reply.code(400).send({ code: err.code, message: err.message });
        if (err instanceof SearchServiceError && err.retryable) {
          return reply.code(503).send({ code: 'TG_SEARCH_UNAVAILABLE', message: 'the search cluster cannot answer now; try again shortly' });
        }
        throw err;
      }
    },
  );
}
