/**
 * Microsoft's Kusto language service (npm @kusto/language-service-next, Kusto.Language compiled to
 * JavaScript): parses and analyzes KQL against a database built from declared table schemas.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');

// The bridge defines its types on the global object; only what these tests use is typed here.
interface List<T> {
  Count: number;
  getItem(i: number): T;
}
interface KustoApi {
  Symbols: {
    TableSymbol: { $ctor7: new (name: string, schema: string, description: string | null) => unknown };
    DatabaseSymbol: { $ctor2: new (name: string, alt: string | null, members: unknown[]) => unknown };
    ClusterSymbol: { ctor: new (name: string, dbs: unknown[]) => unknown };
  };
  GlobalState: { Default: { WithCluster(c: unknown): { WithDatabase(d: unknown): unknown } } };
  KustoCode: {
    ParseAndAnalyze(text: string, globals: unknown): {
      GetDiagnostics(): List<{ Code: string; Severity: string; Message: string; Start: number }>;
      ResultType: { Columns?: List<{ Name: string; Type: { Name: string } }> } | null;
    };
  };
}
const K = (globalThis as unknown as { Kusto: { Language: KustoApi } }).Kusto.Language;

export interface TableSchema {
  name: string;
  columns: { name: string; type: string }[];
}

/** DCR and Log Analytics column types in KQL's names. */
function kqlType(type: string): string {
  const t = type.toLowerCase();
  return t === 'boolean' ? 'bool' : t === 'double' ? 'real' : t;
}

export class KustoDatabase {
  private readonly globals: unknown;
  constructor(tables: TableSchema[]) {
    const symbols = tables.map((t) => new K.Symbols.TableSymbol.$ctor7(t.name, `(${t.columns.map((c) => `['${c.name}']:${kqlType(c.type)}`).join(', ')})`, null));
    const db = new K.Symbols.DatabaseSymbol.$ctor2('workspace', null, symbols);
    this.globals = K.GlobalState.Default.WithCluster(new K.Symbols.ClusterSymbol.ctor('sentinel', [db])).WithDatabase(db);
  }

  /** Errors of the query (warnings and suggestions left out), and the columns of its result. */
  analyze(query: string): { errors: string[]; columns: { name: string; type: string }[] } {
    const code = K.KustoCode.ParseAndAnalyze(query, this.globals);
    const d = code.GetDiagnostics();
    const errors: string[] = [];
    for (let i = 0; i < d.Count; i++) {
      const x = d.getItem(i);
      if (String(x.Severity) === 'Error') errors.push(`${x.Code} at ${x.Start}: ${x.Message}`);
    }
    const columns: { name: string; type: string }[] = [];
    const cols = code.ResultType?.Columns;
    for (let i = 0; cols && i < cols.Count; i++) columns.push({ name: cols.getItem(i).Name, type: cols.getItem(i).Type.Name });
    return { errors, columns };
  }
}
