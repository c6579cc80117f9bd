import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApprovalState } from '../../approvals/approval.js';
import type { ApprovalStore } from '../../approvals/approval-store.js';
import { submitReview } from '../../approvals/reviewing.js';
import { ReplayError, type ReplayContext } from './app.js';
import { approvalPage, approvalsPage } from './approval-pages.js';
import { messagePage } from './pages.js';
import type { Principal } from './principals.js';
import { denied, secured } from './schemas.js';

/** Where the replay server finds approvals, and who each of its users is in CI (self-approval). */
export interface ReplayApprovals {
  store: ApprovalStore;
  people: Record<string, string[]>;
}

const APPROVAL_ROLES = new Set(['approver', 'admin']);

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^apr_[A-Za-z0-9]{1,64}$' } } } as const;
const reviewBody = { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } } as const;
const anyObject = { type: 'object', additionalProperties: true } as const;
const reviewAnswer = { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, approval: anyObject, review: anyObject } } as const;

function approverOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new ReplayError(401, 'TG_REPLAY_UNAUTHENTICATED', 'sign in first: send Authorization: Bearer <token> or use the sign-in page');
  if (!req.principal.roles.some((r) => APPROVAL_ROLES.has(r))) throw new ReplayError(403, 'TG_REPLAY_FORBIDDEN', `${req.principal.name} has neither the approver nor the admin role`);
  return req.principal;
}

/** The approvals API (/api/approvals...) and the approver's pages (/approvals...). */
export function registerApprovalRoutes(app: FastifyInstance, ctx: ReplayContext, approvals: ReplayApprovals): void {
  const { store, people } = approvals;

  app.get<{ Querystring: { state?: ApprovalState; limit?: number } }>(
    '/api/approvals',
    {
      schema: {
        summary: 'Approvals, newest first (held statements and commands)',
        tags: ['approvals'],
        security: secured,
        querystring: { type: 'object', additionalProperties: false, properties: { state: { type: 'string', enum: ['pending', 'approved', 'rejected', 'expired', 'withdrawn', 'abandoned', 'refused'] }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } },
        response: { 200: { type: 'object', required: ['approvals'], properties: { approvals: { type: 'array', items: anyObject } } }, ...denied },
      },
    },
    async (req) => {
      approverOf(req);
      return { approvals: await store.list({ ...(req.query.state ? { state: req.query.state } : {}), limit: req.query.limit ?? 100 }) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/approvals/:id',
    { schema: { summary: 'One approval and its reviews', tags: ['approvals'], security: secured, params: idParams, response: { 200: { type: 'object', required: ['approval', 'reviews'], properties: { approval: anyObject, reviews: { type: 'array', items: anyObject } } }, ...denied } } },
    async (req) => {
      approverOf(req);
      const approval = await store.get(req.params.id);
      if (!approval) throw new ReplayError(404, 'TG_APPROVAL_UNKNOWN', `no approval ${req.params.id}`);
      return { approval, reviews: await store.reviews(approval.id) };
    },
  );

  for (const verdict of ['approve', 'reject'] as const) {
    app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
      `/api/approvals/:id/${verdict}`,
      {
        schema: {
          summary: verdict === 'approve' ? 'Approve a held statement or command' : 'Reject a held statement or command (the client gets 42501 with the reason)',
          tags: ['approvals'],
          security: secured,
          params: idParams,
          body: reviewBody,
          response: { 200: reviewAnswer, 403: reviewAnswer, 404: reviewAnswer, 409: reviewAnswer, 401: denied[401] },
        },
      },
      async (req, reply) => {
        const who = approverOf(req);
        const answer = await submitReview(store, people, req.params.id, who, verdict, req.body?.reason);
        ctx.log(`replay: ${who.name} ${verdict} ${req.params.id}: ${answer.code}`);
        return reply.code(answer.status).send(answer);
      },
    );
  }

  const page = (reply: FastifyReply, body: { value: string }, code = 200) => reply.code(code).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body.value);
  const pageApprover = (req: FastifyRequest, reply: FastifyReply): Principal | null => {
    if (!req.principal) {
      void reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
      return null;
    }
    if (!req.principal.roles.some((r) => APPROVAL_ROLES.has(r))) {
      page(reply, messagePage('Not allowed', 'You are signed in, but you have neither the approver nor the admin role.', req.principal), 403);
      return null;
    }
    return req.principal;
  };

  app.get('/approvals', { schema: { hide: true } }, async (req, reply) => {
    const who = pageApprover(req, reply);
    if (!who) return reply;
    return page(reply, approvalsPage(who, await store.list({ limit: 200 })));
  });

  app.get<{ Params: { id: string } }>('/approvals/:id', { schema: { hide: true, params: idParams } }, async (req, reply) => {
    const who = pageApprover(req, reply);
    if (!who) return reply;
    const approval = await store.get(req.params.id);
    if (!approval) return page(reply, messagePage('Not found', 'There is no such approval.', who), 404);
    return page(reply, approvalPage(who, approval, await store.reviews(approval.id)));
  });

  app.post<{ Params: { id: string }; Body: { verdict?: string; reason?: string } }>(
    '/approvals/:id/review',
    { schema: { hide: true, params: idParams, body: { type: 'object', properties: { verdict: { type: 'string', enum: ['approve', 'reject'] }, reason: { type: 'string', maxLength: 500 } }, required: ['verdict'] } } },
    async (req, reply) => {
      const who = pageApprover(req, reply);
      if (!who) return reply;
      const verdict = req.body.verdict === 'reject' ? 'reject' : 'approve';
      const answer = await submitReview(store, people, req.params.id, who, verdict, req.body.reason || undefined);
      ctx.log(`replay: ${who.name} ${verdict} ${req.params.id}: ${answer.code}`);
      const approval = (await store.get(req.params.id)) ?? answer.approval;
      if (!approval) return page(reply, messagePage('Not found', 'There is no such approval.', who), 404);
      return page(reply, approvalPage(who, approval, await store.reviews(approval.id), answer.message), answer.status);
    },
  );
}
