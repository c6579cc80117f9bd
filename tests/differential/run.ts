// Runs the differential check from the command line (bench/differential.sh) and prints its report as JSON.
// Usage: node --import tsx tests/differential/run.ts [PER_SOURCE]   (TG_PG_* from tests/services/postgres.sh)
import { loadClassifier } from '../../services/gateway/policy/statement-classifier.js';
import { fullCorpus } from './corpus.js';
import { runCorpus } from './runner.js';
import { createScratchDatabase, dropScratchDatabase, type Server } from './scratch-database.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: start tests/services/postgres.sh and load its postgres.env`);
  return v;
};

await loadClassifier();
const server: Server = { host: env('TG_PG_HOST'), port: Number(env('TG_PG_PORT')), user: env('TG_PG_SUPERUSER'), password: env('TG_PG_SUPERPASSWORD') };
const perSource = process.argv[2] ? Number(process.argv[2]) : Infinity;
const corpus = fullCorpus(perSource);
const connection = await createScratchDatabase(server);
try {
  const report = await runCorpus(connection, corpus, {
    statementTimeoutMs: Number(process.env.DIFFERENTIAL_TIMEOUT_MS ?? 2000),
    progress: (n) => process.stderr.write(`${n} / ${corpus.length}\n`),
  });
  process.stdout.write(`${JSON.stringify({ statements: corpus.length, ...report }, null, 2)}\n`);
} finally {
  await dropScratchDatabase(server);
}
