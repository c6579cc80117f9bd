/** JSON schemas of the REST API; the OpenAPI document at /api/openapi.json is generated from them. */
const anyObject = { type: 'object', additionalProperties: true } as const;

export const errorSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string', description: 'TG_... code to search for' }, message: { type: 'string' } },
} as const;

export const sessionIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[0-9A-Za-z][0-9A-Za-z_.:-]{0,127}$', description: 'session id' } },
} as const;

export const sessionFilterQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    repository: { type: 'string', maxLength: 300, description: 'repository, `*` matches any run of characters' },
    run: { type: 'string', maxLength: 100, description: 'CI run id, optionally `id/attempt`' },
    actor: { type: 'string', maxLength: 200 },
    target: { type: 'string', maxLength: 200 },
    protocol: { type: 'string', enum: ['postgres', 'ssh', 'kubernetes'] },
    from: { type: 'string', format: 'date-time', description: 'sessions started at or after' },
    to: { type: 'string', format: 'date-time', description: 'sessions started at or before' },
    q: { type: 'string', maxLength: 500, description: 'text searched in command text' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
} as const;

export const sessionListingSchema = {
  type: 'object',
  required: ['sessionId', 'context', 'startedAt', 'endedAt', 'endReason', 'commands', 'records'],
  properties: {
    sessionId: { type: 'string' },
    context: { ...anyObject, description: 'SessionContext: protocol, target, identity (job claims), client' },
    startedAt: { type: 'string' },
    endedAt: { type: ['string', 'null'] },
    endReason: { type: ['string', 'null'] },
    commands: { type: 'integer' },
    records: { type: 'integer' },
  },
} as const;

export const verdictSchema = {
  type: 'object',
  required: ['status', 'summary'],
  properties: {
    status: { type: 'string', enum: ['ok', 'failed', 'truncated', 'unavailable'] },
    summary: { type: 'string' },
    failedSeq: { type: 'integer' },
    code: { type: 'string' },
  },
} as const;

export const principalSchema = {
  type: 'object',
  required: ['name', 'roles', 'via'],
  properties: {
    name: { type: 'string' },
    roles: { type: 'array', items: { type: 'string', enum: ['viewer', 'approver', 'admin'] } },
    repositories: { type: 'array', items: { type: 'string' } },
    via: { type: 'string', enum: ['token', 'oidc'] },
  },
} as const;

export const eventRecordSchema = {
  type: 'object',
  required: ['seq', 'ts', 'type', 'data'],
  properties: { seq: { type: 'integer' }, ts: { type: 'string' }, type: { type: 'string' }, data: { description: 'event data, as catalogued in events/catalogue.ts' } },
  additionalProperties: true,
} as const;

export const transcriptSchema = {
  ...anyObject,
  required: ['session', 'entries'],
  properties: {
    session: { type: 'string' },
    target: { type: ['string', 'null'] },
    identity: { type: ['object', 'null'], additionalProperties: true },
    startedAt: { type: ['string', 'null'] },
    endedAt: { type: ['string', 'null'] },
    endReason: { type: ['string', 'null'] },
    firstSeq: { type: ['integer', 'null'] },
    lastSeq: { type: ['integer', 'null'] },
    entries: { type: 'array', items: { ...anyObject, description: 'statement, parameters, decision, completion (outcome, rows, duration, error), masking, notes' } },
  },
} as const;

export const secured: { [scheme: string]: string[] }[] = [{ bearerToken: [] }, { signInCookie: [] }];

export const denied = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema };
