import type { SearchHit } from './service.js';

/** What an analyst narrows the trail by; every filter is optional and they all must hold. */
export interface TrailFilters {
  repository?: string;
  /** A run id, or `id/attempt`. */
  run?: string;
  actor?: string;
  target?: string;
  session?: string;
  /** ISO 8601 time, or an age such as 15m, 2h, 7d. */
  since?: string;
  until?: string;
  /** Words or a fragment of the command text (SQL), matched without regard to case. */
  text?: string;
  /** Only commands (command.started), the default when text is given. */
  commandsOnly?: boolean;
  limit?: number;
}

/** The filters as the CLI and the HTTP route take them, by their short names; unset ones are left out. */
export interface TrailFilterInput {
  repo?: string | undefined;
  run?: string | undefined;
  actor?: string | undefined;
  target?: string | undefined;
  session?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  text?: string | undefined;
  commands?: boolean | undefined;
}

export function trailFilters(i: TrailFilterInput, limit: number): TrailFilters {
  return {
    ...(i.repo ? { repository: i.repo } : {}),
    ...(i.run ? { run: i.run } : {}),
    ...(i.actor ? { actor: i.actor } : {}),
    ...(i.target ? { target: i.target } : {}),
    ...(i.session ? { session: i.session } : {}),
    ...(i.since ? { since: i.since } : {}),
    ...(i.until ? { until: i.until } : {}),
    ...(i.text ? { text: i.text } : {}),
    ...(i.commands ? { commandsOnly: true } : {}),
    limit,
  };
}

export interface TrailRow {
  time: string;
  sessionId: string;
  seq: number;
  action: string;
  outcome?: string;
  repository?: string;
  run?: string;
  actor?: string;
  target?: string;
  client?: string;
  /** The command text, or the reason of a decision or an end. */
  detail?: string;
}

export class TrailQueryError extends Error {
  readonly code = 'TG_SEARCH_USAGE';
}

export const MAX_TRAIL_LIMIT = 1000;

/** The query DSL both products answer the same for these filters, newest first. */
export function trailQuery(f: TrailFilters): Record<string, unknown> {
  const filter: Record<string, unknown>[] = [];
  const must: Record<string, unknown>[] = [];
  if (f.repository) filter.push({ term: { 'vcs.repository.name': f.repository } });
  if (f.run) {
    const [id, attempt] = f.run.split('/');
    filter.push({ term: { 'cicd.pipeline.run.id': id } });
    if (attempt) filter.push({ term: { 'trailgate.ci.run_attempt': attempt } });
  }
  if (f.actor) filter.push({ term: { 'user.name': f.actor } });
  if (f.target) filter.push({ term: { 'trailgate.target.name': f.target } });
  if (f.session) filter.push({ term: { 'trailgate.session.id': f.session } });
  if (f.since || f.until) {
    filter.push({ range: { '@timestamp': { ...(f.since ? { gte: timeBound(f.since, 'since') } : {}), ...(f.until ? { lte: timeBound(f.until, 'until') } : {}) } } });
  }
  if (f.text) {
    must.push({
      bool: {
        should: [
          { match: { 'trailgate.command.text.text': { query: f.text, operator: 'and' } } },
          { wildcard: { 'trailgate.command.text': { value: `*${escapeWildcard(f.text)}*`, case_insensitive: true } } },
        ],
        minimum_should_match: 1,
      },
    });
  }
  if (f.commandsOnly || f.text) filter.push({ term: { 'event.action': 'command.started' } });
  const limit = f.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TRAIL_LIMIT) throw new TrailQueryError(`limit must be a whole number from 1 to ${MAX_TRAIL_LIMIT}`);
  return {
    size: limit,
    track_total_hits: true,
    sort: [{ '@timestamp': { order: 'desc' } }, { 'event.sequence': { order: 'desc' } }],
    query: { bool: { filter, must } },
  };
}

/** An age (15m, 2h, 7d, 2w) becomes date math; anything else must be a date. */
function timeBound(value: string, name: string): string {
  if (/^\d+[smhdw]$/.test(value)) return `now-${value}`;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new TrailQueryError(`--${name} '${value}' is neither an ISO 8601 time nor an age such as 15m, 2h or 7d`);
  return new Date(t).toISOString();
}

function escapeWildcard(s: string): string {
  return s.replace(/[\\*?]/g, (c) => `\\${c}`);
}

/** A hit as a row of the trail: who, where, what. */
export function trailRow(hit: SearchHit): TrailRow {
  const s = (hit._source ?? {}) as {
    '@timestamp'?: string;
    event?: { action?: string; outcome?: string; reason?: string; sequence?: number };
    vcs?: { repository?: { name?: string } };
    cicd?: { pipeline?: { run?: { id?: string } } };
    user?: { name?: string };
    client?: { address?: string };
    trailgate?: { session?: { id?: string }; target?: { name?: string }; ci?: { run_attempt?: string }; command?: { text?: string } };
  };
  const runId = s.cicd?.pipeline?.run?.id;
  const row: TrailRow = {
    time: s['@timestamp'] ?? '',
    sessionId: s.trailgate?.session?.id ?? '',
    seq: s.event?.sequence ?? 0,
    action: s.event?.action ?? '',
    outcome: s.event?.outcome,
    repository: s.vcs?.repository?.name,
    run: runId ? `${runId}/${s.trailgate?.ci?.run_attempt ?? '1'}` : undefined,
    actor: s.user?.name,
    target: s.trailgate?.target?.name,
    client: s.client?.address,
    detail: s.trailgate?.command?.text ?? s.event?.reason,
  };
  for (const k of Object.keys(row) as (keyof TrailRow)[]) if (row[k] === undefined) delete row[k];
  return row;
}
