import { trailFilters } from '../../connectors/search/query.js';
import type { TrailgateConfig } from '../config/schema.js';
import { searchConnection, searchService } from '../indexer/search-connection.js';
import { searchTrail } from '../search/search-trail.js';
import { cliConfig } from './cli-config.js';
import { printTable } from './table.js';

export interface SearchOptions {
  repo?: string;
  run?: string;
  actor?: string;
  target?: string;
  session?: string;
  since?: string;
  until?: string;
  commands?: boolean;
  limit: string;
  json?: boolean;
}

export function configuredSearch(config: TrailgateConfig): NonNullable<TrailgateConfig['search']> {
  if (!config.search) {
    throw Object.assign(new Error('no search cluster configured; add a `search:` section (product, url) to trailgate.yaml'), { code: 'TG_SEARCH_NOT_CONFIGURED' });
  }
  return config.search;
}

export async function runSearch(configFile: string | undefined, words: string[], o: SearchOptions): Promise<void> {
  const service = searchService(searchConnection(configuredSearch(cliConfig(configFile))));
  const filters = trailFilters({ ...o, text: words.join(' ') }, Number(o.limit));
  try {
    const page = await searchTrail(service, filters);
    if (o.json) {
      for (const r of page.rows) process.stdout.write(`${JSON.stringify(r)}\n`);
      return;
    }
    printTable(
      ['TIME', 'ACTION', 'OUTCOME', 'REPOSITORY', 'RUN', 'ACTOR', 'TARGET', 'SESSION', 'DETAIL'],
      page.rows.map((r) => [r.time, r.action, r.outcome ?? '-', r.repository ?? '-', r.run ?? '-', r.actor ?? '-', r.target ?? '-', `${r.sessionId}:${r.seq}`, r.detail ?? '']),
    );
    if (page.total > page.rows.length) console.log(`(${page.rows.length} of ${page.total}; --limit shows more)`);
  } finally {
    await service.close();
  }
}
