/** Dotted paths of every field a mapping defines: leaves and their multi-fields (`a.b`, `a.b.text`). */
export function fieldsOfMapping(mapping: Record<string, unknown>, prefix = ''): Set<string> {
  const out = new Set<string>();
  const properties = (mapping.properties ?? mapping) as Record<string, Record<string, unknown>>;
  for (const [name, def] of Object.entries(properties)) {
    if (!def || typeof def !== 'object') continue;
    const path = prefix ? `${prefix}.${name}` : name;
    if (def.properties) {
      for (const f of fieldsOfMapping(def.properties as Record<string, unknown>, path)) out.add(f);
      continue;
    }
    out.add(path);
    for (const sub of Object.keys((def.fields ?? {}) as Record<string, unknown>)) out.add(`${path}.${sub}`);
  }
  return out;
}

/** Dotted paths of every value in a document (arrays of values count as their field). */
export function fieldsOfDocument(doc: Record<string, unknown>, prefix = ''): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(doc)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const items = Array.isArray(v) ? v : [v];
    for (const item of items) {
      if (item !== null && typeof item === 'object') for (const f of fieldsOfDocument(item as Record<string, unknown>, path)) out.add(f);
      else out.add(path);
    }
  }
  return out;
}
