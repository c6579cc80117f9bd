// In-process cost of masking rows: the ResultMasker alone, fed 1,000,000 DataRows of pgbench_accounts' shape
// (aid int4, bid int4, abalance int4, filler char(84)), two columns masked (filler partial, abalance redact).
// Prints one JSON line. Run by bench/masking-rows.sh (the on-the-wire numbers come from there).
import { ColumnOrigins } from '../services/masking/column-origins.js';
import { SessionMasking } from '../services/masking/session-masking.js';
import { TargetMasking } from '../services/masking/target-masking.js';
import { ResultMasker } from '../services/gateway/postgres/result-masker.js';
import { Be } from '../services/gateway/postgres/protocol.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const TABLE = 16400;
const policy = new TargetMasking('bench', {
  rules: [
    { match: 'public.pgbench_accounts.filler', strategy: 'partial', keepLast: 4 },
    { match: 'public.pgbench_accounts.abalance', strategy: 'redact', keepLast: 4 },
  ],
  unattributed: 'scan',
  detectors: [],
  exemptRules: [],
}, null);
const cols = ['aid', 'bid', 'abalance', 'filler'];
const session = new SessionMasking(policy, []);
session.origins = new ColumnOrigins(policy, cols.map((c, i) => ['c', String(TABLE), String(i + 1), 'public', 'pgbench_accounts', c]));
const tracker = { message: () => undefined, streamed: () => undefined, failCurrent: () => undefined };
const masker = new ResultMasker(tracker, session);

function rowDescription(): Buffer {
  const parts: Buffer[] = [Buffer.from([0, cols.length])];
  cols.forEach((c, i) => {
    const f = Buffer.alloc(18);
    f.writeUInt32BE(TABLE, 0);
    f.writeInt16BE(i + 1, 4);
    f.writeUInt32BE(c === 'filler' ? 1042 : 23, 6);
    f.writeInt16BE(c === 'filler' ? -1 : 4, 10);
    f.writeInt32BE(-1, 12);
    parts.push(Buffer.from(`${c}\0`), f);
  });
  return Buffer.concat(parts);
}

function dataRow(aid: number): Buffer {
  const values = [String(aid), String(1 + Math.floor(aid / 100000)), String(aid % 5000), 'x'.repeat(84)];
  const parts: Buffer[] = [Buffer.from([0, values.length])];
  for (const v of values) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(Buffer.byteLength(v), 0);
    parts.push(len, Buffer.from(v));
  }
  return Buffer.concat(parts);
}

const rows = Array.from({ length: 1024 }, (_, i) => dataRow(i + 1));
masker.query('select aid, bid, abalance, filler from pgbench_accounts');
masker.message(Be.RowDescription, rowDescription());
let bytesOut = 0;
// Warm-up: let the JIT settle before measuring.
for (let i = 0; i < 100_000; i++) masker.message(Be.DataRow, rows[i & 1023]!);
masker.takeCounts();
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let i = 0; i < ROWS; i++) bytesOut += masker.message(Be.DataRow, rows[i & 1023]!)?.length ?? 0;
const wallNs = Number(process.hrtime.bigint() - t0);
const cpu = process.cpuUsage(cpu0);
const cpuUs = cpu.user + cpu.system;
const cells = Object.values(masker.takeCounts()?.cells ?? {}).reduce((a, b) => a + b, 0);
console.log(JSON.stringify({ rows: ROWS, maskedCells: cells, wallMs: wallNs / 1e6, cpuMs: cpuUs / 1000, nsPerRow: wallNs / ROWS, cellsPerCpuSecond: Math.round(cells / (cpuUs / 1e6)), bytesOut }));
