/**
 * What approvals cost sessions that need none, and what holding costs: `pgbench -S` through one gateway
 * to a target with no approval rule and to a target whose rule (DDL) the SELECTs never hit, alternated
 * in the same run; then 1,000 holds open at once in the desk (heap and RSS measured).
 * Run by bench/approvals.sh, which starts PostgreSQL and writes the result file.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ApprovalDesk } from '../services/approvals/approval-desk.js';
import { ApprovalsConfig } from '../services/approvals/config.js';
import { SqliteApprovalStore } from '../services/approvals/sqlite-approval-store.js';
import { GatewayHarness } from '../tests/support/gateway-harness.js';

const run = promisify(execFile);
const SECS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const h = await GatewayHarness.start({
  instance: 'bench-gw',
  devIssuer: { tokenReuse: 'any' },
  targetVariants: { 'no-rule': {}, 'rule-not-hit': {} },
  approvals: { rules: [{ name: 'ddl', targets: ['rule-not-hit'], classes: ['ddl'], quorum: 2 }] },
});
const lines: string[] = [];
try {
  const pgEnv = { ...process.env, PGPASSWORD: h.pg.appPassword };
  await run('pgbench', ['-i', '-s', '1', '-q', '-h', h.pg.host, '-p', String(h.pg.port), '-U', h.pg.appUser, h.pg.database], { env: pgEnv });
  const tps: Record<string, number[]> = { 'no-rule': [], 'rule-not-hit': [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const target of Object.keys(tps)) {
      const token = await h.token();
      const { stdout } = await run('pgbench', ['-n', '-S', '-c', '4', '-j', '2', '-T', String(SECS), '-h', '127.0.0.1', '-p', String(h.port), '-U', 'ci', target], { env: { ...process.env, PGPASSWORD: token, PGSSLMODE: 'disable' } });
      const m = /tps = ([0-9.]+)/.exec(stdout);
      tps[target]!.push(Number(m?.[1] ?? 0));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  lines.push('| target | rounds (tps) | median tps |', '|---|---|---|');
  for (const [t, xs] of Object.entries(tps)) lines.push(`| ${t} | ${xs.map((x) => x.toFixed(0)).join(', ')} | ${median(xs).toFixed(0)} |`);
  const diff = (median(tps['rule-not-hit']!) / median(tps['no-rule']!) - 1) * 100;
  lines.push('', `Rule configured but not hit vs no rule: ${diff >= 0 ? '+' : ''}${diff.toFixed(1)}% median tps (pgbench -S, 4 clients, ${SECS} s x ${ROUNDS} rounds, alternated, strict recording).`);

  // 1,000 holds at once in the desk: what the approvals themselves keep (not the sessions' sockets).
  const store = new SqliteApprovalStore(`${h.dataDir}/trailgate.db`);
  const config = ApprovalsConfig.parse({ pollMillis: 200, rules: [{ name: 'r', targets: ['*'], classes: ['ddl'], heartbeatSeconds: 15, timeoutSeconds: 600 }] });
  const desk = new ApprovalDesk(store, config, 'bench');
  const identity = { issuer: 'i', issuerName: 'dev', profile: 'github' as const, subject: 's', expiresAt: new Date().toISOString(), ci: { repository: 'acme/app', runId: '1', runAttempt: '1', actor: 'octocat' } };
  global.gc?.();
  const before = process.memoryUsage();
  const holds = [];
  for (let i = 0; i < 1000; i++) {
    holds.push(desk.hold({ rule: config.rules[0]!, target: 'app', kind: 'statement', text: `alter table t${i} add column c int`, identity, sessionId: `s${i}`, record: () => undefined, notice: () => undefined }));
  }
  await new Promise((r) => setTimeout(r, 500));
  global.gc?.();
  const during = process.memoryUsage();
  for (const hold of holds) hold.abandon('bench');
  await desk.close();
  await store.close();
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
  lines.push('', `1,000 holds open at once (desk and store only, each with its heartbeat and expiry timers): heap +${mib(during.heapUsed - before.heapUsed)} MiB, RSS +${mib(during.rss - before.rss)} MiB.`);
} finally {
  await h.stop();
}
console.log(lines.join('\n'));
