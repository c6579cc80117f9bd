// What one session's target holds that can turn a statement into user code, read from the target's own
// catalogue (catalogue-query.ts) once per session and again after anything that may have changed it.
import type { CatalogueRowKind } from './catalogue-query.js';
import type { CodeReferences } from './statement-classifier.js';

/** A catalogue older than this is read again before it judges a statement: other sessions change it too. */
export const CATALOGUE_MAX_AGE_MS = 10_000;

/** Names bound to user code: `name` (any schema, for unqualified use) and `schema.name`. */
interface NameSet {
  names: Set<string>;
  qualified: Set<string>;
}

const nameSet = (): NameSet => ({ names: new Set(), qualified: new Set() });

export class TargetCatalogue {
  private functions = new Set<string>();
  /** User functions callable with one argument, hence in attribute notation. */
  private attributes = new Set<string>();
  private operators = new Set<string>();
  private types = nameSet();
  private reads = nameSet();
  private writes = nameSet();
  private loadedAt = -Infinity;
  private changed = true;

  /** Whether the catalogue must be read before it can judge; true until the first load. */
  get stale(): boolean {
    return this.changed || Date.now() - this.loadedAt > CATALOGUE_MAX_AGE_MS;
  }

  /**
   * Whether it can judge now: loaded, and nothing this session ran since may have changed it. An old copy still
   * judges when it cannot be read again at the moment (mid-batch): other sessions' changes are seen late, not never.
   */
  get usable(): boolean {
    return this.loadedAt > -Infinity && !this.changed;
  }

  /** Something this session ran may have changed the catalogue (DDL, code, a rollback of either). */
  invalidate(): void {
    this.changed = true;
  }

  /** Replaces what is known with the rows of CATALOGUE_QUERY: [kind, schema, name]. */
  load(rows: readonly (readonly (string | null)[])[]): void {
    const functions = new Set<string>();
    const attributes = new Set<string>();
    const operators = new Set<string>();
    const sets: Record<'type' | 'read' | 'write', NameSet> = { type: nameSet(), read: nameSet(), write: nameSet() };
    for (const [kind, schema, name] of rows) {
      if (!name || !schema) continue;
      switch (kind as CatalogueRowKind) {
        case 'function':
          functions.add(name);
          break;
        case 'attribute':
          attributes.add(name);
          break;
        case 'operator':
          operators.add(name);
          break;
        case 'type':
        case 'read':
        case 'write': {
          const set = sets[kind as 'type' | 'read' | 'write'];
          set.names.add(name);
          set.qualified.add(`${schema}.${name}`);
          // A session's temporary objects live in pg_temp_N, which statements call pg_temp.
          if (/^pg_temp_\d+$/.test(schema)) set.qualified.add(`pg_temp.${name}`);
          break;
        }
      }
    }
    this.functions = functions;
    this.attributes = attributes;
    this.operators = operators;
    this.types = sets.type;
    this.reads = sets.read;
    this.writes = sets.write;
    this.loadedAt = Date.now();
    this.changed = false;
  }

  /**
   * The names in `refs` that the target binds, or may bind, to user code: a user function of that name in any
   * schema, a user operator symbol, a domain whose CHECK runs a function, a view over user code, a table whose
   * triggers, rules, defaults, constraints, policies or column types run user code when it is written.
   */
  userCode(refs: CodeReferences): string[] {
    const hits: string[] = [];
    for (const f of refs.functions) if (this.functions.has(f)) hits.push(`function ${f}`);
    for (const f of refs.fields) if (this.attributes.has(f)) hits.push(`function ${f} (attribute notation)`);
    for (const o of refs.operators) if (this.operators.has(o)) hits.push(`operator ${o}`);
    for (const t of refs.types) if (has(this.types, t)) hits.push(`type ${t}`);
    for (const r of refs.reads) if (has(this.reads, r)) hits.push(`relation ${r}`);
    for (const w of refs.writes) if (has(this.writes, w) && !hits.includes(`relation ${w}`)) hits.push(`relation ${w}`);
    return hits;
  }
}

function has(set: NameSet, name: string): boolean {
  return name.includes('.') ? set.qualified.has(name) : set.names.has(name);
}

/** Whether a statement names anything at all the catalogue could bind to user code. */
export function hasReferences(refs: CodeReferences): boolean {
  return refs.functions.length + refs.fields.length + refs.operators.length + refs.types.length + refs.reads.length + refs.writes.length > 0;
}
