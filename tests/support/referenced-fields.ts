/** The index fields that analyst content (saved objects, detection rules, monitors) refers to. */

const FIELD = /[A-Za-z_@][\w.@]*/.source;

function withoutQuotedStrings(s: string): string {
  return s.replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

/** Fields in a KQL query: every `field:` and `field <op>` outside quoted values. */
export function kqlFields(query: string): string[] {
  const q = withoutQuotedStrings(query);
  const out = new Set<string>();
  for (const m of q.matchAll(new RegExp(`(?:^|[\\s(])(${FIELD})\\s*(?::|<=|>=|<|>)`, 'g'))) {
    if (!['and', 'or', 'not'].includes(m[1]!.toLowerCase())) out.add(m[1]!);
  }
  return [...out];
}

/** Fields in an EQL query: `sequence by` keys and the left side of comparisons. */
export function eqlFields(query: string): string[] {
  const q = withoutQuotedStrings(query);
  const out = new Set<string>();
  for (const m of q.matchAll(/\bby\s+([\w.@]+(?:\s*,\s*[\w.@]+)*)/g)) for (const f of m[1]!.split(',')) out.add(f.trim());
  for (const m of q.matchAll(new RegExp(`(${FIELD})\\s*(?:==|!=|:|<=|>=|<|>|\\bin\\b|\\blike~?\\b)`, 'g'))) out.add(m[1]!);
  return [...out].filter((f) => !['maxspan', 'with', 'sequence', 'any', 'where'].includes(f));
}

const LEAF_QUERIES = new Set(['term', 'terms', 'match', 'match_phrase', 'match_phrase_prefix', 'wildcard', 'prefix', 'regexp', 'fuzzy', 'range']);
const QUERY_OPTIONS = new Set(['boost', 'case_insensitive', '_name', 'size']);

/** Fields in query DSL and aggregations: leaf queries' keys, and every `field` value. */
export function dslFields(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const n of node) dslFields(n, out);
    return out;
  }
  if (!node || typeof node !== 'object') return out;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === 'field' && typeof v === 'string') out.add(v);
    else if (k === 'sort' && Array.isArray(v)) {
      for (const s of v) if (s && typeof s === 'object') for (const f of Object.keys(s)) out.add(f);
    } else if (LEAF_QUERIES.has(k) && v && typeof v === 'object' && !('field' in (v as object))) {
      for (const f of Object.keys(v as object)) if (!QUERY_OPTIONS.has(f)) out.add(f);
    } else dslFields(v, out);
  }
  return out;
}

interface SavedObject {
  type: string;
  attributes: { columns?: string[]; sort?: [string, string][]; timeFieldName?: string; kibanaSavedObjectMeta?: { searchSourceJSON?: string } };
}

/** Fields of a data view, a saved search or a dashboard: columns, sort, time field, query and filters. */
export function savedObjectFields(o: SavedObject): string[] {
  const out = new Set<string>();
  for (const c of o.attributes.columns ?? []) out.add(c);
  for (const [f] of o.attributes.sort ?? []) out.add(f);
  if (o.attributes.timeFieldName) out.add(o.attributes.timeFieldName);
  const source = o.attributes.kibanaSavedObjectMeta?.searchSourceJSON;
  if (source) {
    const s = JSON.parse(source) as { query?: { query?: string; language?: string }; filter?: unknown[] };
    if (s.query?.query && s.query.language === 'kuery') for (const f of kqlFields(s.query.query)) out.add(f);
    for (const f of dslFields(s.filter ?? [])) out.add(f);
  }
  return [...out];
}

interface Rule {
  type: string;
  language?: string;
  query?: string;
  threshold?: { field: string | string[]; cardinality?: { field: string }[] };
  new_terms_fields?: string[];
  required_fields?: { name: string }[];
  timestamp_override?: string;
}

/** Fields of a Kibana detection rule: its query, threshold and new-terms fields, and required fields. */
export function ruleFields(r: Rule): string[] {
  const out = new Set<string>();
  if (r.query) for (const f of r.language === 'eql' ? eqlFields(r.query) : kqlFields(r.query)) out.add(f);
  for (const f of [r.threshold?.field ?? []].flat()) out.add(f);
  for (const c of r.threshold?.cardinality ?? []) out.add(c.field);
  for (const f of r.new_terms_fields ?? []) out.add(f);
  for (const f of r.required_fields ?? []) out.add(f.name);
  if (r.timestamp_override) out.add(r.timestamp_override);
  return [...out];
}

/** Fields of an OpenSearch alerting monitor: those of its search inputs. */
export function monitorFields(m: { inputs: { search: { query: unknown } }[] }): string[] {
  return [...dslFields(m.inputs.map((i) => i.search.query))];
}
