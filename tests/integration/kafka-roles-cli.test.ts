/**
 * The roles as separate processes of the built CLI against a real Kafka: `trailgate gateway` records a
 * psql-driven session, `trailgate forwarder` forwards it, `trailgate consumers` shows the forwarder
 * caught up, and a role without a configured sink stops with a clear error.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { DevIssuer } from '../../services/dev/dev-issuer.js';
import { eventually, kafkaLog } from '../support/kafka-env.js';
import { postgresService } from '../support/test-env.js';
import { startRole } from '../support/trailgate-up.js';

const exec = promisify(execFile);
const cli = resolve(import.meta.dirname, '../../bin/trailgate.js');

async function stopRole(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe('roles as processes on Kafka', () => {
  it('runs gateway and forwarder as separate processes; `consumers` reports the forwarder caught up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-roles-'));
    const children: ChildProcess[] = [];
    try {
      const issuer = await DevIssuer.openOrCreate(dir);
      writeFileSync(join(dir, 'jwks.json'), JSON.stringify(issuer.jwks()));
      const pgs = postgresService();
      const out = join(dir, 'forwarded.ndjson');
      const config = join(dir, 'trailgate.json');
      writeFileSync(
        config,
        JSON.stringify({
          dataDir: dir,
          instance: 'gw-cli',
          identity: { issuers: [{ ...issuer.issuerConfig(), jwksFile: join(dir, 'jwks.json') }] },
          postgres: { listen: { host: '127.0.0.1', port: 0 } },
          targets: { app: { host: pgs.host, port: pgs.port, database: pgs.database, user: pgs.appUser, password: { env: 'TG_PG_APP_PASSWORD' } } },
          policy: { rules: [{ name: 'tests', issuers: ['dev'], subject: '**', targets: ['app'], rights: ['all'] }] },
          log: kafkaLog(),
          consumers: { batchSize: 100, forwarder: { kind: 'ndjson', file: out, streams: ['events', 'bytes'] } },
        }),
      );
      const gw = await startRole(['--config', config, 'gateway'], /postgres\s+127\.0\.0\.1:(\d+)/);
      children.push(gw.child);
      const fw = await startRole(['--config', config, 'forwarder', '--metrics-port', '0'], /metrics\s+(http:\S+)/);
      children.push(fw.child);

      const client = new pg.Client({ host: '127.0.0.1', port: Number(gw.match[1]), database: 'app', user: 'ci', password: await issuer.mint() });
      await client.connect();
      await client.query("select 'through the gateway process' as via");
      await client.end();

      const lines = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; stream: string; data: unknown }) : []);
      // Events and byte chunks are separate topics, read side by side: either may arrive first.
      await eventually(() => {
        const now = lines();
        return now.some((r) => r.type === 'session.ended') && now.some((r) => r.stream === 'bytes');
      }, 'the forwarder to write the ended session and its byte chunks');
      const records = lines();
      assert.ok(records.some((r) => r.type === 'command.started' && JSON.stringify(r.data).includes('through the gateway process')));

      const metrics = await (await fetch(fw.match[1]!)).text();
      assert.match(metrics, /^trailgate_consumer_records_total\{consumer="forwarder"\} \d+$/m);
      await eventually(async () => {
        const { stdout } = await exec(process.execPath, [cli, '--config', config, 'consumers', '--json']);
        const row = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { consumer: string; lag: string }).find((r) => r.consumer === 'forwarder');
        // Lag on Kafka counts the transaction markers after the last record: at most one per partition.
        return row !== undefined && Number(row.lag) <= 2 * 3;
      }, 'the forwarder to show as caught up');
    } finally {
      for (const c of children) await stopRole(c);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops a consumer role without a sink with TG_SINK_NOT_CONFIGURED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-roles-'));
    try {
      const config = join(dir, 'trailgate.json');
      writeFileSync(config, JSON.stringify({ dataDir: dir, log: kafkaLog() }));
      for (const role of ['indexer', 'forwarder']) {
        const err = await exec(process.execPath, [cli, '--config', config, role]).then(
          () => null,
          (e: { code: number; stderr: string }) => e,
        );
        assert.ok(err, `${role} must not start without a sink`);
        assert.equal(err.code, 1);
        assert.match(err.stderr, new RegExp(`no sink is configured for the ${role}`));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
