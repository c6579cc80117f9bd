// Runs the differential check from the command line (bench/differential.sh): the whole corpus, or the first
// PER_SOURCE statements of each script. Prints the report as JSON, or as Markdown with --markdown.
// Usage: node --import tsx tests/differential/run.ts [--markdown] [PER_SOURCE]   (TG_PG_* from tests/services/postgres.sh)
import { loadClassifier } from '../../services/gateway/policy/statement-classifier.js';
import { fullCorpus } from './corpus.js';
import { runCorpus, type Report } from './runner.js';
import { createScratchDatabase, dropScratchDatabase, type Server } from './scratch-database.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: start tests/services/postgres.sh and load its postgres.env`);
  return v;
};

function markdown(statements: number, r: Report): string {
  const rows = (o: Record<string, number>) => Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, v]) => `| ${k} | ${v} |`);
  return [
    `- Statements in the corpus: ${statements}; judged: ${r.judged} (of which PostgreSQL refused ${r.refused} with an error); skipped: ${statements - r.judged}`,
    `- Run time: ${r.seconds.toFixed(1)} s (${((r.seconds * 1000) / Math.max(1, r.judged)).toFixed(1)} ms per judged statement)`,
    `- Under-classified (did more than the rights they were judged to need): **${r.findings.length}**`,
    '',
    '| class needed | statements |',
    '|---|---|',
    ...rows(r.byClass),
    '',
    '| skipped because | statements |',
    '|---|---|',
    ...rows(r.skipped),
    '',
    ...(r.findings.length ? ['Under-classified statements:', '', ...r.findings.map((f) => `- \`${f.source}\`: \`${f.sql.replace(/\s+/g, ' ').slice(0, 160)}\` needs ${f.needs.join(', ') || 'nothing'}; ${f.excess.join('; ')}`)] : []),
  ].join('\n');
}

const args = process.argv.slice(2);
const asMarkdown = args.includes('--markdown');
const perArg = args.find((a) => /^\d+$/.test(a));
await loadClassifier();
const server: Server = { host: env('TG_PG_HOST'), port: Number(env('TG_PG_PORT')), user: env('TG_PG_SUPERUSER'), password: env('TG_PG_SUPERPASSWORD') };
const corpus = fullCorpus(perArg ? Number(perArg) : Infinity);
const connection = await createScratchDatabase(server);
try {
  const report = await runCorpus(connection, corpus, {
    statementTimeoutMs: Number(process.env.DIFFERENTIAL_TIMEOUT_MS ?? 2000),
    progress: (n) => process.stderr.write(`${n} / ${corpus.length}\n`),
  });
  process.stdout.write(asMarkdown ? `${markdown(corpus.length, report)}\n` : `${JSON.stringify({ statements: corpus.length, ...report }, null, 2)}\n`);
  process.exitCode = report.findings.length ? 1 : 0;
} finally {
  await dropScratchDatabase(server);
}
