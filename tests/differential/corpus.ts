// The statements the differential check runs: PostgreSQL's regression SQL (corpus/postgres-regress.jsonl),
// our own classifier seeds (tests/fuzz/corpus/statement-classifier), and generated ones (generated.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATED } from './generated.js';
import type { CorpusEntry } from './runner.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/** PostgreSQL's regression statements; `perSource` keeps the first N of each script (what the rest builds on). */
export function regressionCorpus(perSource = Infinity): CorpusEntry[] {
  const taken = new Map<string, number>();
  return readFileSync(join(here, 'corpus', 'postgres-regress.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as CorpusEntry)
    .filter((e) => {
      const n = taken.get(e.source) ?? 0;
      taken.set(e.source, n + 1);
      return n < perSource;
    });
}

export function ourCorpus(): CorpusEntry[] {
  const dir = join(here, '..', 'fuzz', 'corpus', 'statement-classifier');
  return readdirSync(dir)
    .sort()
    .map((f) => ({ source: `ours/${f.replace(/\.seed$/, '')}`, sql: readFileSync(join(dir, f), 'utf8') }));
}

export function fullCorpus(perSource = Infinity): CorpusEntry[] {
  return [...GENERATED, ...ourCorpus(), ...regressionCorpus(perSource)];
}
