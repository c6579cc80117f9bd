/**
 * Approvals on Kafka: two gateways share the `<prefix>.approvals` topic with a reviewer in a third
 * process; the reviewer's decision releases the statement held by the gateway that holds it, and only that one.
 * A planned statement set is decided by the reviewer's process too, and the gateway applies it unheld.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { GatewayHarness } from '../support/gateway-harness.js';
import { kafkaBrokers, kafkaLog } from '../support/kafka-env.js';
import { approvalIdIn, WatchedProcess } from '../support/approvals.js';
import { CLI } from '../support/trailgate-up.js';

const log = kafkaLog();
const approvals = { pollMillis: 50, listen: { host: '127.0.0.1', port: 0 }, rules: [{ name: 'ddl', targets: ['app-held'], classes: ['ddl'], quorum: 1, heartbeatSeconds: 5, timeoutSeconds: 120 }] };
let a: GatewayHarness;
let b: GatewayHarness;
let bDir: string;
let admin: pg.Client;

before(async () => {
  a = await GatewayHarness.start({ instance: 'gw-a', log, targetVariants: { 'app-held': {} }, approvals });
  // gw-b trusts the same development issuer as gw-a (a copy of its keys), so one job's token works on both.
  bDir = mkdtempSync(join(tmpdir(), 'trailgate-test-'));
  cpSync(join(a.dataDir, 'dev-issuer'), join(bDir, 'dev-issuer'), { recursive: true });
  b = await GatewayHarness.start({ instance: 'gw-b', log, targetVariants: { 'app-held': {} }, approvals, dataDir: bDir });
  admin = await a.directSuperuser();
  await admin.query('drop table if exists apr_kafka_a, apr_kafka_b, apr_kafka_plan');
});

after(async () => {
  await admin?.query('drop table if exists apr_kafka_a, apr_kafka_b, apr_kafka_plan').catch(() => undefined);
  await admin?.end();
  await Promise.all([a?.stop(), b?.stop()]);
  if (bDir) rmSync(bDir, { recursive: true, force: true });
});

function reviewerProcess(id: string, name: string): Promise<{ status: number; code: string }> {
  const script = join(import.meta.dirname, '../support/approval-reviewer-process.ts');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', script, kafkaBrokers().join(','), log.kafka.topicPrefix, id, name, 'approve'], { timeout: 60_000 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(JSON.parse(out) as { status: number; code: string }),
    );
  });
}

async function hold(h: GatewayHarness, sql: string): Promise<{ id: string; done: Promise<unknown>; client: pg.Client }> {
  const client = await h.client({ target: 'app-held' });
  let noticed!: (id: string) => void;
  const firstNotice = new Promise<string>((r) => (noticed = r));
  client.on('notice', (n) => /required by rule/.test(n.message ?? '') && noticed(approvalIdIn(n.message!)));
  const done = client.query(sql);
  return { id: await firstNotice, done, client };
}

async function exists(table: string): Promise<boolean> {
  return (await admin.query('select to_regclass($1)::text as t', [table])).rows[0].t !== null;
}

describe('approvals on Kafka', () => {
  it("releases the statement a gateway holds when a reviewer in another process approves it", async () => {
    const [onA, onB] = await Promise.all([hold(a, 'create table apr_kafka_a (id int)'), hold(b, 'create table apr_kafka_b (id int)')]);
    assert.deepEqual(await reviewerProcess(onA.id, 'alice'), { status: 200, code: 'TG_APPROVAL_REVIEWED' });
    await onA.done;
    assert.equal(await exists('apr_kafka_a'), true);
    assert.equal(await exists('apr_kafka_b'), false, "the other gateway's statement still waits");
    assert.equal(b.gateway.approvals!.desk.heldCount, 1);
    assert.deepEqual(await reviewerProcess(onB.id, 'bob'), { status: 200, code: 'TG_APPROVAL_REVIEWED' });
    await onB.done;
    assert.equal(await exists('apr_kafka_b'), true);
    // Decided approvals reach the reviewers too: a late approval is refused.
    assert.equal((await reviewerProcess(onA.id, 'bob')).status, 409);
    await Promise.all([onA.client.end(), onB.client.end()]);
  });

  it('decides a planned statement set in the reviewer process; another gateway then applies it unheld', async () => {
    const token = await a.token();
    const file = join(a.dataDir, 'plan.sql');
    writeFileSync(file, 'create table apr_kafka_plan (id int);\n');
    const cli = (args: string[]) =>
      new WatchedProcess(
        spawn(process.execPath, [CLI, 'approvals', ...args, '--gateway', `https://127.0.0.1:${a.gateway.approvals!.jobApi!.address.port}`, '--ca-file', join(a.dataDir, 'tls', 'gateway.crt')], {
          env: { ...process.env, TRAILGATE_TOKEN: token },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
    const request = cli(['request', '--target', 'app-held', '--file', file]);
    assert.equal(await request.exited, 0, request.lines.join('\n'));
    const id = request.stdout.trim();
    assert.deepEqual(await reviewerProcess(id, 'alice'), { status: 200, code: 'TG_APPROVAL_REVIEWED' });
    const wait = cli(['wait', id]);
    assert.equal(await wait.exited, 0, wait.lines.join('\n'));
    // Applied through the other gateway: the decision reached it through the topic.
    const client = await b.client({ token, target: 'app-held' });
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(n.message ?? ''));
    await client.query('create table apr_kafka_plan (id int)');
    assert.deepEqual(notices, [], 'nothing held');
    assert.equal(await exists('apr_kafka_plan'), true);
    await client.end();
  });
});
