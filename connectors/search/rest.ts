import type { LifecycleInstall, SearchResult, SearchService } from './service.js';
import { SearchServiceError, toServiceError, type BulkItemResult } from './service.js';
import type { Product } from './templates.js';

/** The one call each client adapter provides: a JSON request that resolves with the response body. */
export type RestCall = (method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: Record<string, unknown>, querystring?: Record<string, string>) => Promise<unknown>;

/**
 * The REST calls both products answer alike (templates, data streams, search, mappings), written
 * once over an adapter's RestCall. Only bulk and the lifecycle API differ per product.
 */
export class RestSearchService implements SearchService {
  constructor(
    readonly product: Product,
    private readonly call: RestCall,
    private readonly sendBulk: (ndjson: string) => Promise<BulkItemResult[]>,
    private readonly closeClient: () => Promise<void>,
  ) {}

  bulk(ndjson: string): Promise<BulkItemResult[]> {
    return this.sendBulk(ndjson);
  }

  async putComponentTemplate(name: string, body: Record<string, unknown>): Promise<void> {
    await this.request('PUT', `/_component_template/${encodeURIComponent(name)}`, body);
  }

  async putIndexTemplate(name: string, body: Record<string, unknown>): Promise<void> {
    await this.request('PUT', `/_index_template/${encodeURIComponent(name)}`, body);
  }

  async putLifecyclePolicy(name: string, lifecycle: { ilm: Record<string, unknown>; ism: Record<string, unknown> }): Promise<LifecycleInstall> {
    const id = encodeURIComponent(name);
    try {
      if (this.product === 'elasticsearch') {
        await this.request('PUT', `/_ilm/policy/${id}`, { policy: lifecycle.ilm });
        return 'installed';
      }
      // ISM refuses to overwrite a policy unless told which version it replaces.
      const existing = (await this.request('GET', `/_plugins/_ism/policies/${id}`).catch((err: SearchServiceError) => {
        if (err.status === 404) return null;
        throw err;
      })) as { _seq_no?: number; _primary_term?: number } | null;
      const qs = existing?._seq_no !== undefined ? { if_seq_no: String(existing._seq_no), if_primary_term: String(existing._primary_term) } : undefined;
      await this.request('PUT', `/_plugins/_ism/policies/${id}`, lifecycle.ism, qs);
      return 'installed';
    } catch (err) {
      // A cluster without the lifecycle plugin answers "no handler found" (400) or 404 for its path.
      if (err instanceof SearchServiceError && (err.status === 400 || err.status === 404) && /no handler|not found|unknown/i.test(err.message)) return 'unavailable';
      throw err;
    }
  }

  async ensureDataStream(name: string): Promise<void> {
    try {
      await this.request('PUT', `/_data_stream/${encodeURIComponent(name)}`);
    } catch (err) {
      if (err instanceof SearchServiceError && err.status === 400 && /already_exists|already exists/.test(err.message)) return;
      throw err;
    }
  }

  async backingIndices(dataStream: string): Promise<string[]> {
    const res = (await this.request('GET', `/_data_stream/${encodeURIComponent(dataStream)}`)) as { data_streams?: { name: string; indices: { index_name: string }[] }[] };
    return res.data_streams?.find((d) => d.name === dataStream)?.indices.map((i) => i.index_name) ?? [];
  }

  async existingIds(indices: string[], ids: string[]): Promise<Set<string>> {
    if (indices.length === 0 || ids.length === 0) return new Set();
    const docs = indices.flatMap((index) => ids.map((id) => ({ _index: index, _id: id })));
    const res = (await this.request('POST', '/_mget', { docs }, { _source: 'false' })) as { docs: { _id: string; found?: boolean }[] };
    return new Set(res.docs.filter((d) => d.found).map((d) => d._id));
  }

  async search(index: string, body: Record<string, unknown>): Promise<SearchResult> {
    const res = (await this.request('POST', `/${encodeURIComponent(index)}/_search`, body)) as {
      hits: { total?: { value: number } | number; hits: SearchResult['hits'] };
      aggregations?: Record<string, unknown>;
    };
    const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? res.hits.hits.length);
    return { total, hits: res.hits.hits, ...(res.aggregations ? { aggregations: res.aggregations } : {}) };
  }

  async mapping(index: string): Promise<Record<string, unknown>> {
    const res = (await this.request('GET', `/${encodeURIComponent(index)}/_mapping`)) as Record<string, { mappings: { properties?: Record<string, unknown> } }>;
    const newest = Object.keys(res).sort().at(-1);
    if (!newest) throw new SearchServiceError('TG_SEARCH_NO_INDEX', `no index behind ${index}`, 404, false);
    return res[newest]!.mappings.properties ?? {};
  }

  async refresh(index: string): Promise<void> {
    await this.request('POST', `/${encodeURIComponent(index)}/_refresh`);
  }

  close(): Promise<void> {
    return this.closeClient();
  }

  private async request(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: Record<string, unknown>, qs?: Record<string, string>): Promise<unknown> {
    try {
      return await this.call(method, path, body, qs);
    } catch (err) {
      throw toServiceError(err, `${method} ${path}`);
    }
  }
}

/**
 * What the sink reads of a bulk answer (`filter_path`): each item's status, error and failure store,
 * and a failed request's own error. The rest (index, id, version, shards per item) is most of the
 * answer's bytes, for the cluster to write and for us to parse.
 */
export const BULK_ANSWER_FILTER = 'errors,error,status,items.*.status,items.*.error,items.*.failure_store';

/** Reads the per-item results of a bulk answer (each item is `{ create: {...} }`). */
export function bulkItems(body: { items?: Record<string, BulkItemResult>[] }): BulkItemResult[] {
  return (body.items ?? []).map((item) => Object.values(item)[0]!);
}
