// Which rule masks a result column, by the table OID and attribute number RowDescription gives it: built from
// the target's catalogue (origin-query.ts) once per session and again after anything that may change it.
import type { CompiledRule } from './strategies.js';
import type { TargetMasking } from './target-masking.js';
import { viewColumnOrigins } from './view-origins.js';

/** A masked column: the rule and the column it was traced to; `unattributed` for a view column without one source. */
export type ColumnMask = { label: string; rule: CompiledRule } | { label: string; rule?: undefined; unattributed: true };

const key = (oid: number, attnum: number): number => oid * 2048 + attnum;

export class ColumnOrigins {
  private readonly masks = new Map<number, ColumnMask>();
  private readonly labels = new Map<number, string>();
  /** Names (`rel` and `schema.rel`) of relations with a masked column, and the names of those columns. */
  readonly relations = new Set<string>();
  readonly columns = new Set<string>();

  constructor(
    masking: TargetMasking,
    rows: readonly (readonly (string | null)[])[],
  ) {
    const views: { oid: number; schema: string; name: string; action: string }[] = [];
    for (const [kind, oid, attnum, schema, rel, col] of rows) {
      if (!oid || !schema || !rel || !col) continue;
      if (kind === 'v') {
        views.push({ oid: Number(oid), schema, name: rel, action: col });
        continue;
      }
      const k = key(Number(oid), Number(attnum));
      this.labels.set(k, `${schema}.${rel}.${col}`);
      const rule = masking.ruleFor(schema, rel, col);
      if (rule) this.add(k, { label: `${schema}.${rel}.${col}`, rule }, schema, rel, col);
    }
    // A view over a view is resolved once the inner one is: repeat while something new is found.
    const parsed = views.map((v) => ({ ...v, origins: viewColumnOrigins(v.action) }));
    for (let changed = true, round = 0; changed && round < 32; round++) {
      changed = false;
      for (const v of parsed) {
        for (const o of v.origins) {
          const k = key(v.oid, o.resno);
          if (this.masks.get(k)?.rule) continue;
          const source = o.table ? this.masks.get(key(o.table, o.column)) : undefined;
          if (source?.rule) {
            this.add(k, { label: source.label, rule: source.rule }, v.schema, v.name, o.name);
            changed = true;
          } else if (!o.table && !this.masks.has(k)) {
            // An expression over what the view reads: the view reads masked columns, so nothing vouches for it.
            this.add(k, { label: `${v.schema}.${v.name}.${o.name}`, unattributed: true }, v.schema, v.name, o.name);
          }
        }
      }
    }
  }

  private add(k: number, mask: ColumnMask, schema: string, rel: string, col: string): void {
    this.masks.set(k, mask);
    this.relations.add(rel);
    this.relations.add(`${schema}.${rel}`);
    this.columns.add(col);
  }

  /** The mask of a result column, or undefined when its origin is known and unmasked (or unknown: oid 0). */
  maskOf(tableOid: number, attnum: number): ColumnMask | undefined {
    return tableOid === 0 ? undefined : this.masks.get(key(tableOid, attnum));
  }

  /** `schema.table.column` of a column of a relation the rules name (for `masking explain`). */
  labelOf(tableOid: number, attnum: number): string | undefined {
    return this.labels.get(key(tableOid, attnum)) ?? this.masks.get(key(tableOid, attnum))?.label;
  }

  get empty(): boolean {
    return this.masks.size === 0;
  }
}
