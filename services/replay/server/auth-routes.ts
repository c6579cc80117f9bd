import type { FastifyInstance } from 'fastify';
import { setSignInCookie, SIGN_IN_COOKIE, type ReplayContext } from './app.js';
import { localHref } from './html.js';
import { OidcSignIn } from './oidc-sign-in.js';
import { loginPage, messagePage, redirectPage } from './pages.js';

const ATTEMPT_COOKIE = 'tg_oidc';

/** Sign-in with a static token (form or API bearer) and, for people, through OpenID Connect. */
export function registerAuthRoutes(app: FastifyInstance, ctx: ReplayContext): void {
  let oidc: Promise<OidcSignIn> | null = null;
  const provider = () => {
    // Discovered on first use, so the server starts while the provider is down; a failure is retried.
    oidc ??= OidcSignIn.discover(ctx.config.oidc!, `${ctx.baseUrl()}/auth/oidc/callback`).catch((err: Error) => {
      oidc = null;
      throw err;
    });
    return oidc;
  };
  const hidden = { hide: true };

  app.get<{ Querystring: { next?: string; error?: string } }>('/login', { schema: { ...hidden, querystring: { type: 'object', properties: { next: { type: 'string', maxLength: 2000 }, error: { type: 'string', maxLength: 100 } } } } }, async (req, reply) => {
    return reply.type('text/html; charset=utf-8').send(loginPage({ next: localHref(req.query.next ?? '/'), error: req.query.error, oidc: Boolean(ctx.config.oidc), tokens: ctx.tokens.size > 0 }).value);
  });

  app.post<{ Body: { token?: string; next?: string } }>(
    '/login',
    { schema: { ...hidden, body: { type: 'object', properties: { token: { type: 'string', maxLength: 4096 }, next: { type: 'string', maxLength: 2000 } } } } },
    async (req, reply) => {
      const next = localHref(req.body.next ?? '/');
      const principal = ctx.tokens.authenticate((req.body.token ?? '').trim());
      if (!principal) {
        ctx.log(`replay: token sign-in refused from ${req.ip}`);
        return reply.code(401).type('text/html; charset=utf-8').send(loginPage({ next, error: 'That token is not valid here.', oidc: Boolean(ctx.config.oidc), tokens: true }).value);
      }
      ctx.log(`replay: ${principal.name} signed in with a token from ${req.ip}`);
      setSignInCookie(reply, ctx, ctx.signIns.create(principal));
      return reply.redirect(next, 303);
    },
  );

  app.post('/logout', { schema: hidden }, async (req, reply) => {
    ctx.signIns.end(req.cookies[SIGN_IN_COOKIE]);
    reply.clearCookie(SIGN_IN_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });

  app.get<{ Querystring: { next?: string } }>('/auth/oidc/login', { schema: { ...hidden, querystring: { type: 'object', properties: { next: { type: 'string', maxLength: 2000 } } } } }, async (req, reply) => {
    if (!ctx.config.oidc) return reply.code(404).type('text/html; charset=utf-8').send(messagePage('Not configured', 'Single sign-on is not configured on this server.').value);
    const { attempt, url } = await (await provider()).start(localHref(req.query.next ?? '/'));
    // Lax: the provider sends the browser back with a cross-site navigation.
    reply.setCookie(ATTEMPT_COOKIE, attempt, { path: '/auth/oidc', httpOnly: true, sameSite: 'lax', secure: ctx.secureCookies, maxAge: 600 });
    return reply.redirect(url, 302);
  });

  app.get('/auth/oidc/callback', { schema: hidden }, async (req, reply) => {
    if (!ctx.config.oidc) return reply.code(404).send({ code: 'TG_REPLAY_NOT_FOUND', message: 'single sign-on is not configured' });
    reply.clearCookie(ATTEMPT_COOKIE, { path: '/auth/oidc' });
    try {
      const { principal, next } = await (await provider()).finish(req.cookies[ATTEMPT_COOKIE], new URL(req.url, ctx.baseUrl()));
      ctx.log(`replay: ${principal.name} signed in through OIDC (roles: ${principal.roles.join(', ') || 'none'})`);
      setSignInCookie(reply, ctx, ctx.signIns.create(principal));
      // A page of our own moves on, so that the same-site sign-in cookie is sent with the next request.
      return reply.type('text/html; charset=utf-8').send(redirectPage(next).value);
    } catch (err) {
      ctx.log(`replay: OIDC sign-in failed: ${(err as Error).message}`);
      return reply.code(401).type('text/html; charset=utf-8').send(messagePage('Sign-in failed', `The identity provider's answer was not accepted (${(err as { code?: string }).code ?? 'error'}). Start again from the sign-in page.`).value);
    }
  });
}
