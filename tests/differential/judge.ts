// Whether what a statement did fits the rights the gateway said it needs. A statement that needs
// `function` or `code` may do anything: the database (read-only default, the role) holds that code, not the gateway.
import { settingClasses } from '../../services/gateway/policy/function-safety.js';
import type { StatementClass } from '../../services/gateway/policy/statement-classifier.js';
import type { Snapshot } from './observer.js';

/** Settings PostgreSQL changes by itself or that the role change below already reports. */
const DERIVED_SETTINGS = new Set(['is_superuser', 'role', 'session_authorization', 'transaction_read_only', 'transaction_isolation', 'transaction_deferrable']);

export interface Effects {
  rows: string[];
  calls: string[];
  sequences: string[];
  settings: { name: string; value: string }[];
  role?: string;
  catalog: string[];
}

export function effects(before: Snapshot, after: Snapshot, catalog: string[]): Effects {
  const grew = (a: Record<string, number>, b: Record<string, number>) => Object.keys(b).filter((k) => b[k]! > (a[k] ?? 0));
  return {
    rows: grew(before.rows, after.rows).map((k) => `relation ${k}: ${after.rows[k]! - (before.rows[k] ?? 0)} tuples`),
    calls: grew(before.calls, after.calls).map((k) => `function ${k}: ${after.calls[k]! - (before.calls[k] ?? 0)} calls`),
    sequences: Object.keys(after.sequences).filter((k) => k in before.sequences && after.sequences[k] !== before.sequences[k]).map((k) => `sequence ${k}`),
    settings: [...new Set([...Object.keys(before.settings), ...Object.keys(after.settings)])]
      .filter((k) => after.settings[k] !== before.settings[k] && !DERIVED_SETTINGS.has(k))
      .map((name) => ({ name, value: after.settings[name] ?? 'DEFAULT' })),
    ...(after.role !== before.role ? { role: `${before.role} -> ${after.role}` } : {}),
    catalog,
  };
}

/** What the statement did beyond `needs`; empty when it stayed within them. */
export function excess(needs: readonly StatementClass[], e: Effects): string[] {
  const has = (c: StatementClass) => needs.includes(c);
  if (has('function') || has('code')) return [];
  const out: string[] = [];
  if (e.rows.length && !has('write')) out.push(`wrote rows without 'write': ${e.rows.join(', ')}`);
  if (e.sequences.length && !has('write')) out.push(`advanced sequences without 'write': ${e.sequences.join(', ')}`);
  if (e.calls.length) out.push(`ran user functions without 'function': ${e.calls.join(', ')}`);
  if (e.catalog.length && !has('ddl') && !has('admin')) out.push(`changed the catalog without 'ddl': ${e.catalog.join('; ')}`);
  if (e.role && !has('admin')) out.push(`changed the role without 'admin': ${e.role}`);
  for (const s of e.settings) {
    const required = settingClasses(s.name, s.value);
    // SET TRANSACTION ... is 'transaction'; any other setting change is at least 'session'.
    const missing = required.filter((c) => !has(c) && !(c === 'session' && has('transaction') && s.name.startsWith('transaction_')));
    if (missing.length) out.push(`set ${s.name} = ${JSON.stringify(s.value)} without ${missing.map((m) => `'${m}'`).join(' and ')}`);
  }
  return out;
}
