/**
 * One per-statement step of the Postgres relay, run N times over `pgbench -S` statements with a new literal each
 * time, for bench/statement-cost.sh to count instructions (callgrind). Steps:
 *   none            building the statement text, bytes and parameters only (what every step below also does)
 *   parse           classifyStatement per text: what a literal the exact-text cache has not seen costs
 *   shape           ClassificationCache.classify: one parse per statement shape (literal-shape.ts)
 *   trail-simple    the trail scan of a simple-protocol Query: command.started text and the message bytes
 *   trail-prepared  the trail scan of a prepared Execute: command.started parameters and the Bind bytes
 * Usage: node statement-cost.mjs STEP N [cpu]; with `cpu` the step runs N times more after those N (warm) and the
 * process's CPU time per statement of that second pass is printed (microseconds), for machines where callgrind is
 * too slow (valgrind runs the parser's WebAssembly at a crawl).
 */
import { serialize } from 'pg-protocol';
import { ClassificationCache } from '../services/gateway/policy/classification-cache.js';
import { classifyStatement, loadClassifier } from '../services/gateway/policy/statement-classifier.js';
import { recordedClientMessage } from '../services/gateway/postgres/recorded-client-bytes.js';
import { DEFAULT_TRAIL, redactedCommand } from '../services/masking/detectors/trail-redactor.js';

const [step = 'none', nArg = '0', how] = process.argv.slice(2);
const n = Number(nArg);
await loadClassifier();
const cache = new ClassificationCache();
const aid = (i: number) => String(((i * 7919) % 100000) + 1);
const text = (i: number) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid(i)};`;
const PREPARED = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;';
let sink = 0;
function run(from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const sql = text(i);
    const query = serialize.query(sql);
    const bind = serialize.bind({ statement: 'P0_1', values: [aid(i)] });
    switch (step) {
      case 'none':
        sink += query.length + bind.length;
        break;
      case 'parse':
        sink += classifyStatement(sql).classes.length;
        break;
      case 'shape':
        sink += cache.classify(sql).classes.length;
        break;
      case 'trail-simple':
        sink += redactedCommand({ protocol: 'simple', text: sql }, DEFAULT_TRAIL).text.length;
        sink += recordedClientMessage({ type: 0x51, body: query.subarray(5), raw: query }, DEFAULT_TRAIL).length;
        break;
      case 'trail-prepared':
        sink += redactedCommand({ protocol: 'extended', text: PREPARED, parameters: [aid(i)] }, DEFAULT_TRAIL).text.length;
        sink += recordedClientMessage({ type: 0x42, body: bind.subarray(5), raw: bind }, DEFAULT_TRAIL).length;
        break;
      default:
        throw new Error(`unknown step ${step}`);
    }
  }
}

run(0, n);
if (how === 'cpu') {
  const before = process.cpuUsage();
  run(n, 2 * n);
  const used = process.cpuUsage(before);
  console.log(((used.user + used.system) / n).toFixed(2));
}
if (sink < 0) console.log(sink);
