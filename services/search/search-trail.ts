import { SEARCH_RESOURCES } from '../../connectors/search/config.js';
import { trailQuery, trailRow, type TrailFilters, type TrailRow } from '../../connectors/search/query.js';
import { SearchServiceError, type SearchService } from '../../connectors/search/service.js';

export interface TrailPage {
  total: number;
  rows: TrailRow[];
}

/**
 * Searches the audit trail in the search cluster: what `trailgate search` prints and what
 * GET /api/search answers. Reads every namespace's data stream unless told one pattern.
 */
export async function searchTrail(service: SearchService, filters: TrailFilters, index: string = SEARCH_RESOURCES.indexPattern): Promise<TrailPage> {
  try {
    const result = await service.search(index, trailQuery(filters));
    return { total: result.total, rows: result.hits.map(trailRow) };
  } catch (err) {
    // Nothing indexed yet under that name.
    if (err instanceof SearchServiceError && err.status === 404) return { total: 0, rows: [] };
    throw err;
  }
}
