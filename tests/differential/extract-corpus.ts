// Builds a corpus file from directories of psql scripts (PostgreSQL's regression SQL): one JSON line per
// statement that our parser accepts, in script order, deduplicated across everything given.
// Usage: node --import tsx tests/differential/extract-corpus.ts OUT.jsonl LABEL=DIR [LABEL=DIR ...]
// Each script contributes its first PER_SOURCE statements (env, default 25): later ones lean on what these set up.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModule, parseSync } from 'libpg-query';
import { splitSql } from './split-sql.js';

/** Statements longer than this are mostly data loads; they make the corpus big and teach nothing new. */
const MAX_LENGTH = 1200;
const PER_SOURCE = Number(process.env.PER_SOURCE ?? 25);
/** psql variables (`:'file'`, `:var`) are interpolated by psql, not the server. */
const PSQL_VARIABLE = /(^|[^:]):['"A-Za-z_{]/;

function parses(sql: string): boolean {
  try {
    return ((parseSync(sql) as { stmts?: unknown[] }).stmts ?? []).length > 0;
  } catch {
    return false;
  }
}

/** Pieces that do not parse alone (BEGIN ATOMIC bodies split at their `;`) are joined with the next ones. */
function statements(script: string): string[] {
  const pieces = splitSql(script);
  const out: string[] = [];
  for (let i = 0; i < pieces.length; i++) {
    if (parses(pieces[i]!)) {
      out.push(pieces[i]!);
      continue;
    }
    let joined = pieces[i]!;
    for (let j = i + 1; j < Math.min(pieces.length, i + 40); j++) {
      joined += `;\n${pieces[j]}`;
      if (/\bend$/i.test(pieces[j]!.trim()) && parses(joined)) {
        out.push(joined);
        i = j;
        break;
      }
    }
  }
  return out;
}

async function main(): Promise<void> {
  const [outFile, ...sources] = process.argv.slice(2);
  if (!outFile || sources.length === 0) throw new Error('usage: extract-corpus.ts OUT.jsonl LABEL=DIR ...');
  await loadModule();
  const seen = new Set<string>();
  const lines: string[] = [];
  const counts: Record<string, number> = {};
  for (const source of sources) {
    const [label, dir] = source.split('=') as [string, string];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
      const name = `${label}/${file.replace(/\.sql$/, '')}`;
      let taken = 0;
      for (const sql of statements(readFileSync(join(dir, file), 'utf8'))) {
        if (taken >= PER_SOURCE) break;
        if (sql.length > MAX_LENGTH || PSQL_VARIABLE.test(sql.replace(/'[^']*'/g, "''"))) continue;
        const key = sql.replace(/\s+/g, ' ').toLowerCase();
        if (seen.has(key)) continue;
        seen.add(key);
        taken++;
        lines.push(JSON.stringify({ source: name, sql }));
        counts[label] = (counts[label] ?? 0) + 1;
      }
    }
  }
  writeFileSync(outFile, `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.length} statements ${JSON.stringify(counts)}\n`);
}

await main();
