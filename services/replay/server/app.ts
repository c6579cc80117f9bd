import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ReplayConfig } from '../../config/replay-schema.js';
import { UNCHECKED, type IntegrityChecker } from '../integrity.js';
import type { ReplaySource } from '../record-source.js';
import { registerApiRoutes } from './api-routes.js';
import { registerApprovalRoutes, type ReplayApprovals } from './approval-routes.js';
import { loadAssets } from './assets.js';
import { registerAuthRoutes } from './auth-routes.js';
import { registerPageRoutes } from './page-routes.js';
import { SignIns, StaticTokens, canViewSessions, type Principal } from './principals.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface ReplayServerOptions {
  source: ReplaySource;
  config: ReplayConfig;
  integrity?: IntegrityChecker;
  /** Sign-ins and refusals, one line each; never carries a token. */
  log?: (line: string) => void;
  /** Serves the approver's queue and the approvals API when set. */
  approvals?: ReplayApprovals;
}

/** What every route module gets: where records come from and who is asking. */
export interface ReplayContext {
  source: ReplaySource;
  integrity: IntegrityChecker;
  config: ReplayConfig;
  tokens: StaticTokens;
  signIns: SignIns;
  log: (line: string) => void;
  /** Base URL people reach the server at; known once it listens. */
  baseUrl: () => string;
  secureCookies: boolean;
}

export const SIGN_IN_COOKIE = 'tg_replay';

/** The Content-Security-Policy of every response: scripts only from this server, nothing inline. */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'none'"],
  // The player's terminal emulator is WebAssembly compiled in the page; no JavaScript eval is allowed.
  scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  objectSrc: ["'none'"],
};

export class ReplayError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function buildReplayServer(o: ReplayServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, trustProxy: false, bodyLimit: 64 * 1024 });
  let listening = '';
  app.addHook('onListen', async () => {
    const addr = app.server.address();
    if (addr && typeof addr === 'object') listening = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  });
  const ctx: ReplayContext = {
    source: o.source,
    integrity: o.integrity ?? UNCHECKED,
    config: o.config,
    tokens: new StaticTokens(o.config.users),
    signIns: new SignIns(o.config.sessionMinutes * 60_000),
    log: o.log ?? (() => undefined),
    baseUrl: () => (o.config.publicUrl ?? listening).replace(/\/$/, ''),
    secureCookies: o.config.publicUrl?.startsWith('https:') ?? false,
  };

  await app.register(helmet, { contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES }, crossOriginEmbedderPolicy: false });
  await app.register(cookie);
  await app.register(formbody);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Trailgate replay API', version: '1', description: 'Recorded sessions: listing and search, records, asciicast, SQL transcripts and integrity verdicts. Authenticate with `Authorization: Bearer <token>` (a static token from replay.users) or the sign-in cookie of the web UI.' },
      components: {
        securitySchemes: {
          bearerToken: { type: 'http', scheme: 'bearer', description: 'a token of replay.users' },
          signInCookie: { type: 'apiKey', in: 'cookie', name: SIGN_IN_COOKIE },
        },
      },
    },
  });

  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req) => {
    const auth = req.headers.authorization;
    req.principal = auth?.startsWith('Bearer ') ? ctx.tokens.authenticate(auth.slice(7).trim()) : ctx.signIns.get(req.cookies[SIGN_IN_COOKIE]);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, _req, reply) => {
    if (err instanceof ReplayError) return reply.code(err.statusCode).send({ code: err.code, message: err.message });
    if (err.validation) return reply.code(400).send({ code: 'TG_REPLAY_BAD_REQUEST', message: err.message });
    if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ code: err.code ?? 'TG_REPLAY_BAD_REQUEST', message: err.message });
    ctx.log(`replay: internal error: ${err.message}`);
    return reply.code(500).send({ code: 'TG_REPLAY_INTERNAL', message: 'internal error; the server log has the cause' });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ code: 'TG_REPLAY_NOT_FOUND', message: 'no such page' }));

  const assets = loadAssets();
  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (req, reply) => {
    const asset = assets.get(req.params.file);
    if (!asset) throw new ReplayError(404, 'TG_REPLAY_NOT_FOUND', 'no such asset');
    return reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(asset.body);
  });

  app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => reply.code(204).send());

  registerAuthRoutes(app, ctx);
  registerApiRoutes(app, ctx);
  registerPageRoutes(app, ctx);
  if (o.approvals) registerApprovalRoutes(app, ctx, o.approvals);
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

/** For API routes: 401 without a sign-in, 403 without a role that may view sessions. */
export function requireViewer(req: FastifyRequest): Principal {
  if (!req.principal) throw new ReplayError(401, 'TG_REPLAY_UNAUTHENTICATED', 'sign in first: send Authorization: Bearer <token> or use the sign-in page');
  if (!canViewSessions(req.principal)) throw new ReplayError(403, 'TG_REPLAY_FORBIDDEN', `${req.principal.name} has no role that may view sessions`);
  return req.principal;
}

export function setSignInCookie(reply: FastifyReply, ctx: ReplayContext, id: string): void {
  reply.setCookie(SIGN_IN_COOKIE, id, { path: '/', httpOnly: true, sameSite: 'strict', secure: ctx.secureCookies, maxAge: ctx.config.sessionMinutes * 60 });
}
