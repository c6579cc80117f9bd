/**
 * `trailgate up` with a search cluster configured: the one-machine setup also runs the indexer, so a
 * statement run through the gateway becomes searchable in the real OpenSearch node.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { testNamespace } from '../support/search-env.js';
import { CLI, stopProcess, upDev } from '../support/trailgate-up.js';

const exec = promisify(execFile);
const cli = CLI;
let dir: string;
let config: string;
let gateway: ChildProcess;
let out = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trailgate-up-indexer-'));
  config = join(dir, 'trailgate.yaml');
  const url = process.env.TG_OPENSEARCH_URL;
  assert.ok(url, 'TG_OPENSEARCH_URL is set by tests/services/opensearch.sh');
  writeFileSync(config, JSON.stringify({ dataDir: join(dir, 'data'), postgres: { listen: { host: '127.0.0.1', port: 0 } }, search: { product: 'opensearch', url, namespace: testNamespace('up'), replicas: 0 } }));
  ({ child: gateway, out } = await upDev(config, dir));
});

after(async () => {
  await stopProcess(gateway);
  rmSync(dir, { recursive: true, force: true });
});

async function trailgate(...args: string[]): Promise<string> {
  return (await exec(process.execPath, [cli, '--config', config, ...args], { cwd: dir })).stdout;
}

describe('trailgate up with a search cluster', () => {
  it('indexes what the gateway records, searchable by repository and command text', async () => {
    assert.match(out, /indexer\s+opensearch http:\/\/127\.0\.0\.1:\d+ \(data stream logs-trailgate\.audit-t_up_/);
    const port = Number(/postgres\s+127\.0\.0\.1:(\d+)/.exec(out)![1]);
    const repository = `acme/${testNamespace('repo')}`;
    const token = (await trailgate('token', '--repository', repository)).trim();
    await exec('psql', ['-X', '-At', `host=127.0.0.1 port=${port} dbname=demo user=ci sslmode=require`, '-c', 'select service from deployments'], { env: { ...process.env, PGPASSWORD: token } });
    // Indexing is asynchronous (a consumer on the log, then the index refresh): wait, boundedly.
    let rows: { action: string; detail: string }[] = [];
    for (let attempt = 0; attempt < 60 && rows.length === 0; attempt++) {
      if (attempt) await delay(500);
      const found = (await trailgate('search', '--repo', repository, '--json', 'deployments')).trim();
      rows = found ? found.split('\n').map((l) => JSON.parse(l) as { action: string; detail: string }) : [];
    }
    assert.equal(rows.length, 1, 'the statement is found once');
    assert.equal(rows[0]!.action, 'command.started');
    assert.equal(rows[0]!.detail, 'select service from deployments');
  });
});
