// What the policy remembers about one session between statements: what it prepared under which name, and
// what the target's catalogue holds that can turn a statement into user code.
import { CATALOGUE_QUERY } from './catalogue-query.js';
import type { PreparedQuery, StatementClass } from './statement-classifier.js';
import { TargetCatalogue } from './target-catalogue.js';

/** Runs a query on the session's own backend between the client's statements; null when it cannot now. */
export type CatalogueReader = (sql: string) => Promise<(string | null)[][] | null>;

/** Classes after which the catalogue may differ: schema changes, and code that can make them. */
const CHANGES_CATALOGUE: readonly StatementClass[] = ['ddl', 'admin', 'code', 'function'];

export class SessionPolicy {
  readonly catalogue = new TargetCatalogue();
  /** SQL PREPARE and named extended-protocol statements share PostgreSQL's one namespace. */
  readonly prepared = new Map<string, PreparedQuery>();
  private reader: CatalogueReader | null = null;
  /** A rollback can bring back what this session dropped, so after a change every transaction end counts. */
  private changedCatalogue = false;
  private reading: Promise<boolean> | null = null;

  constructor(
    /** The policy consults the catalogue only for sessions without the `function` right. */
    readonly judgesCode: boolean,
    /**
     * A read-only session that may run code: code can turn the read-only default off, and a statement after a
     * COMMIT in the same string would run read-write before the gateway hears of it, so such strings need 'write'.
     */
    readonly readOnlyRunningCode = false,
  ) {}

  attach(reader: CatalogueReader): void {
    this.reader = reader;
  }

  /** Reads the catalogue again; false when it could not be read (the caller then assumes the worst). */
  refresh(): Promise<boolean> {
    this.reading ??= (async () => {
      try {
        const rows = this.reader ? await this.reader(CATALOGUE_QUERY) : null;
        if (!rows) return false;
        this.catalogue.load(rows);
        return true;
      } catch {
        return false;
      } finally {
        this.reading = null;
      }
    })();
    return this.reading;
  }

  /** Called for each statement the gate lets through, with the classes it needed. */
  forwarded(needs: readonly StatementClass[]): void {
    if (needs.some((c) => CHANGES_CATALOGUE.includes(c))) {
      this.changedCatalogue = true;
      this.catalogue.invalidate();
    } else if (this.changedCatalogue && needs.includes('transaction')) this.catalogue.invalidate();
  }
}
