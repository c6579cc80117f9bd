/**
 * docker-compose.yml as Docker Compose itself loads it: compose-go (the loader of `docker compose`,
 * built from its Go module by tests/services/go-tools.sh) reads the file and prints the normalized
 * project; every service must have its image, health check, volumes and dependencies, and the
 * configuration files the stack mounts must load in trailgate's own config loader.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../../services/config/load.js';
import { requiredEnv } from '../support/test-env.js';

const exec = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | null;
  entrypoint?: string[] | null;
  restart?: string;
  profiles?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  volumes?: { type: string; source: string; target: string; read_only?: boolean }[];
  depends_on?: Record<string, { condition: string }>;
  configs?: { source: string; target: string }[];
  environment?: Record<string, string>;
  ports?: { target: number; published: string; host_ip?: string }[];
}

interface ComposeProject {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
  configs: Record<string, { file: string }>;
  secrets?: Record<string, { file: string }>;
}

async function load(file: string): Promise<ComposeProject> {
  const { stdout } = await exec(requiredEnv('COMPOSE_CHECK_BIN'), [file], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as ComposeProject;
}

const LONG_RUNNING = ['postgres', 'kafka', 'opensearch', 'opensearch-dashboards', 'gateway-1', 'gateway-2', 'indexer', 'forwarder', 'replay'];
const ONE_SHOT = ['dashboards-init', 'issuer-init', 'secrets-init', 'token'];

describe('docker-compose.yml', () => {
  it('loads in compose-go with the whole stack: every service its image, health check, volumes and dependencies', async () => {
    const project = await load(join(repo, 'docker-compose.yml'));
    assert.deepEqual(Object.keys(project.services).sort(), [...LONG_RUNNING, ...ONE_SHOT].sort());
    for (const name of LONG_RUNNING) {
      const s = project.services[name]!;
      assert.ok(s.image, `${name} has an image`);
      assert.ok(s.healthcheck?.test?.length && !s.healthcheck.disable, `${name} has a health check`);
      const named = (s.volumes ?? []).filter((v) => v.type === 'volume');
      assert.ok(named.length > 0, `${name} keeps its data in a named volume`);
      for (const v of named) assert.ok(v.source in project.volumes, `${name}: volume ${v.source} is declared`);
      assert.equal(s.restart, 'unless-stopped', `${name} restarts`);
    }
    for (const name of ONE_SHOT) assert.equal(project.services[name]!.restart, 'no', `${name} runs once`);
    for (const [name, s] of Object.entries(project.services)) {
      for (const dep of Object.keys(s.depends_on ?? {})) assert.ok(dep in project.services, `${name} depends on ${dep}, which exists`);
      for (const p of s.ports ?? []) assert.equal(p.host_ip, '127.0.0.1', `${name} publishes port ${p.target} on loopback only`);
    }
    // Trailgate's own services run the one image, each with its role.
    const roles = Object.fromEntries(['gateway-1', 'gateway-2', 'indexer', 'forwarder', 'replay'].map((n) => [n, project.services[n]!.command?.at(-1)]));
    assert.deepEqual(roles, { 'gateway-1': 'gateway', 'gateway-2': 'gateway', indexer: 'indexer', forwarder: 'forwarder', replay: 'replay' });
    assert.equal(new Set(Object.keys(roles).map((n) => project.services[n]!.image)).size, 1);
    for (const n of Object.keys(roles)) assert.ok(project.services[n]!.build, `${n} can be built from the Dockerfile`);

    const gw = project.services['gateway-1']!;
    assert.deepEqual(gw.depends_on, {
      'issuer-init': { condition: 'service_completed_successfully', required: true },
      kafka: { condition: 'service_healthy', required: true },
      postgres: { condition: 'service_healthy', required: true },
      'secrets-init': { condition: 'service_completed_successfully', required: true },
    });
    assert.notEqual(project.services['gateway-1']!.volumes![0]!.source, project.services['gateway-2']!.volumes![0]!.source, 'each gateway its own volume');
    assert.deepEqual(project.services['indexer']!.depends_on?.opensearch?.condition, 'service_healthy');
    assert.deepEqual(project.services['dashboards-init']!.depends_on?.['opensearch-dashboards']?.condition, 'service_healthy');
    assert.ok(project.services['dashboards-init']!.command!.some((a) => a.includes('/api/saved_objects/_import')));
    // Secrets are generated at the first start into their own volume, read only by the services that need them.
    assert.equal(project.secrets, undefined, 'no secret file in the repository');
    const readers = Object.entries(project.services).filter(([, s]) => s.volumes?.some((v) => v.source === 'secrets')).map(([n]) => n);
    assert.deepEqual(readers.sort(), ['gateway-1', 'gateway-2', 'postgres', 'replay', 'secrets-init']);
    for (const n of readers.filter((n) => n !== 'secrets-init')) {
      const s = project.services[n]!;
      assert.ok(s.volumes!.find((v) => v.source === 'secrets')!.read_only, `${n} mounts the secrets read-only`);
      assert.equal(s.depends_on?.['secrets-init']?.condition, 'service_completed_successfully', `${n} starts after secrets-init`);
    }
  });

  it('generates random secrets once, readable by the database user, and keeps them on the next start', async () => {
    const project = await load(join(repo, 'docker-compose.yml'));
    const init = project.services['secrets-init']!;
    assert.deepEqual(init.entrypoint, ['node', '-e']);
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-secrets-'));
    try {
      const run = () => exec(process.execPath, ['-e', init.command![0]!], { env: { ...process.env, TG_SECRETS_DIR: dir } });
      await run();
      const names = ['orders_db_password', 'replay_admin_token'];
      const first = names.map((n) => readFileSync(join(dir, n), 'utf8'));
      for (const value of first) assert.match(value, /^[0-9a-f]{48}\n$/, '24 random bytes, hex');
      assert.notEqual(first[0], first[1]);
      for (const n of names) assert.equal(statSync(join(dir, n)).mode & 0o777, 0o444, `${n}: readable by postgres, written by none`);
      await run();
      assert.deepEqual(names.map((n) => readFileSync(join(dir, n), 'utf8')), first, 'a restart keeps the secrets');
      // The files the stack reads are the ones it generates.
      const config = readFileSync(join(repo, 'deploy/compose/trailgate.yaml'), 'utf8');
      for (const n of names) assert.ok(config.includes(`{ file: /run/secrets/${n} }`), `trailgate.yaml reads ${n}`);
      assert.equal(project.services['postgres']!.environment?.POSTGRES_PASSWORD_FILE, '/run/secrets/orders_db_password');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mounts configuration files that trailgate itself loads', async () => {
    const project = await load(join(repo, 'docker-compose.yml'));
    const byTarget = new Map<string, string>();
    for (const s of Object.values(project.services)) for (const c of s.configs ?? []) byTarget.set(c.target, project.configs[c.source]!.file);
    assert.deepEqual([...byTarget.keys()].sort(), ['/etc/trailgate/issuer.yaml', '/etc/trailgate/trailgate.yaml']);
    const config = loadConfig(byTarget.get('/etc/trailgate/trailgate.yaml'));
    assert.equal(config.log.kind, 'kafka');
    assert.deepEqual(config.log.kafka?.brokers, ['kafka:9092']);
    assert.equal(config.search?.url, 'http://opensearch:9200');
    assert.equal(config.postgres.listen.host, '0.0.0.0');
    assert.equal(config.metrics?.port, 9464);
    assert.equal(config.dataDir, '/var/lib/trailgate', 'the data directory is the image\'s volume');
    // Each role's command names the file where Compose mounts it.
    for (const n of ['gateway-1', 'gateway-2', 'indexer', 'forwarder', 'replay']) {
      const cmd = project.services[n]!.command!;
      assert.equal(cmd[cmd.indexOf('--config') + 1], '/etc/trailgate/trailgate.yaml');
    }
    // The healthcheck asks the metrics port the config opens.
    assert.match(project.services['gateway-1']!.healthcheck!.test!.join(' '), new RegExp(`127\\.0\\.0\\.1:${config.metrics!.port}/readyz`));
    const issuer = loadConfig(byTarget.get('/etc/trailgate/issuer.yaml'));
    assert.equal(issuer.dataDir, '/var/lib/trailgate');
    assert.match(readFileSync(join(repo, 'deploy/compose/postgres-init.sql'), 'utf8'), /create table deployments/);
  });

  it('is refused by the loader when it is broken (the check can fail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-compose-'));
    try {
      const broken = join(dir, 'docker-compose.yml');
      writeFileSync(broken, 'services:\n  gateway:\n    image: trailgate\n    depends_on: [kafka]\n');
      await assert.rejects(load(broken), (err: Error & { stderr?: string }) => {
        assert.match(err.stderr ?? '', /kafka/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
