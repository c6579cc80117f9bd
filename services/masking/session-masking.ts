// What one session keeps for masking: the target's rules, the column origins read from its catalogue (refreshed
// after DDL and when old), and whether a claim rule exempts the session.
import { ColumnOrigins } from './column-origins.js';
import { originQuery } from './origin-query.js';
import type { TargetMasking } from './target-masking.js';

/** Origins older than this are read again before the next statement: other sessions change the catalogue too. */
export const ORIGINS_MAX_AGE_MS = 10_000;

export type OriginReader = (sql: string) => Promise<(string | null)[][] | null>;

export class SessionMasking {
  origins: ColumnOrigins | null = null;
  private loadedAt = -Infinity;
  private changed = true;
  private reader: OriginReader | null = null;
  private reading: Promise<boolean> | null = null;
  private readonly query: string;
  private namePattern: RegExp | null = null;

  constructor(
    readonly policy: TargetMasking,
    /** Claim rules that exempt this session; non-empty: the session sees raw data and says so. */
    readonly exemptBy: readonly string[],
  ) {
    this.query = originQuery(policy.relations);
  }

  get exempt(): boolean {
    return this.exemptBy.length > 0;
  }

  attach(reader: OriginReader): void {
    this.reader = reader;
  }

  get stale(): boolean {
    return this.changed || Date.now() - this.loadedAt > ORIGINS_MAX_AGE_MS;
  }

  /** Something this session ran may have changed tables or views. */
  invalidate(): void {
    this.changed = true;
  }

  /** Reads the origins again on the session's backend; false when it cannot now (an older copy then still applies). */
  refresh(): Promise<boolean> {
    this.reading ??= (async () => {
      try {
        const rows = this.reader ? await this.reader(this.query) : null;
        if (!rows) return false;
        this.origins = new ColumnOrigins(this.policy, rows);
        const names = [...this.origins.relations].filter((n) => !n.includes('.')).map(escapeRegExp);
        this.namePattern = names.length ? new RegExp(`(^|[^a-z0-9_$])(${names.join('|')})($|[^a-z0-9_$])`, 'i') : null;
        this.loadedAt = Date.now();
        this.changed = false;
        return true;
      } catch {
        return false;
      } finally {
        this.reading = null;
      }
    })();
    return this.reading;
  }

  /** Statement texts whose computed output columns the gate found over no column (bypass-check.ts `vetted`). */
  private readonly vettedTexts = new Set<string>();

  vet(text: string): void {
    if (this.vettedTexts.size >= 256) this.vettedTexts.delete(this.vettedTexts.values().next().value!);
    this.vettedTexts.add(text);
  }

  /** Whether an untraceable result column of this statement may be a masked value: it names masked relations, unvetted. */
  suspect(text: string): boolean {
    return this.names(text) && !this.vettedTexts.has(text);
  }

  /** Whether the statement text names a relation with masked columns (a cheap test before any parsing). */
  names(text: string): boolean {
    return this.namePattern !== null && this.namePattern.test(text);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
