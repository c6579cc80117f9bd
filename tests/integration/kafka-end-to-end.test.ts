/**
 * The distributed deployment end to end, every role its own `trailgate` process on a real broker:
 * two gateways (each its own instance and data directory), the indexer, the forwarder and two replay
 * stores. psql and ssh sessions through both gateways replay from either store to the same final
 * screen and the same transcript, `verify --all` holds on each store, and a replay store killed
 * mid-batch or a broker killed and restarted loses nothing.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import type { JWK } from 'jose';
import pg from 'pg';
import { DevIssuer } from '../../services/dev/dev-issuer.js';
import { eventually, kafkaLog, killBroker, restartBroker } from '../support/kafka-env.js';
import { OpenSsh } from '../support/openssh.js';
import { openSearchTarget } from '../support/search-env.js';
import { screenOfCast } from '../support/terminal-screen.js';
import { postgresService, sshService } from '../support/test-env.js';
import { CLI, startRole as startCliRole, stopProcess } from '../support/trailgate-up.js';

const exec = promisify(execFile);
const log = kafkaLog();
const root = mkdtempSync(join(tmpdir(), 'trailgate-e2e-'));
const children = new Set<ChildProcess>();
const viewerToken = randomBytes(16).toString('hex');
let issuer: DevIssuer;

interface Gw {
  instance: string;
  config: string;
  dir: string;
  child: ChildProcess;
  pgPort: number;
  ssh: OpenSsh;
}
interface Store {
  name: string;
  config: string;
  file: string;
  child: ChildProcess;
  url: string;
}
const gateways: Gw[] = [];
const stores: Store[] = [];
let forwarded: string;

/** Spawns a role of the built CLI on a configuration; every child is stopped after the suite. */
function startRole(config: string, args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return startCliRole(['--config', config, ...args], ready, (child) => {
    children.add(child);
    child.once('exit', () => children.delete(child));
  });
}

function writeConfig(dir: string, config: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'trailgate.json');
  writeFileSync(file, JSON.stringify({ dataDir: dir, log, ...config }));
  return file;
}

async function startGateway(instance: string): Promise<Gw> {
  const dir = join(root, instance);
  const pgs = postgresService();
  const sshd = sshService();
  const config = writeConfig(dir, {
    instance,
    identity: { issuers: [{ ...issuer.issuerConfig(), jwksFile: join(root, 'issuer-jwks.json') }] },
    postgres: { listen: { host: '127.0.0.1', port: 0 } },
    ssh: { listen: { host: '127.0.0.1', port: 0 } },
    targets: {
      app: { host: pgs.host, port: pgs.port, database: pgs.database, user: pgs.appUser, password: { env: 'TG_PG_APP_PASSWORD' } },
      web: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user, privateKey: { file: sshd.keyFile }, hostKey: readFileSync(sshd.hostKeyFile, 'utf8') },
    },
    policy: { rules: [{ name: 'e2e', issuers: ['dev'], subject: '**', targets: ['*'], rights: ['all'] }] },
    integrity: { summarySeconds: 2, checkpointEvery: 50 },
  });
  const { child, match } = await startRole(config, ['gateway'], /postgres\s+127\.0\.0\.1:(\d+)\s+ssh\s+127\.0\.0\.1:(\d+)/);
  const knownHosts = join(dir, 'known_hosts');
  const hostKey = readFileSync(join(dir, 'ssh', 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  writeFileSync(knownHosts, `[127.0.0.1]:${match[2]} ${hostKey}\n`);
  return { instance, config, dir, child, pgPort: Number(match[1]), ssh: new OpenSsh(Number(match[2]), knownHosts) };
}

async function startStore(name: string): Promise<Store> {
  const dir = join(root, name);
  const config = writeConfig(dir, {
    consumers: { batchSize: 20 },
    replay: { consumer: name, listen: { host: '127.0.0.1', port: 0 }, users: [{ name: 'analyst', roles: ['viewer'], tokenSha256: createHash('sha256').update(viewerToken).digest('hex') }] },
    // The gateways' public keys, kept apart from them; the interval a signed summary may take to arrive.
    integrity: { trustedJwksFile: join(root, 'gateways-jwks.json'), summarySeconds: 3600 },
  });
  const { child, match } = await startRole(config, ['replay'], /replay\s+(http:\/\/\S+)/);
  return { name, config, file: join(dir, 'replay-store.db'), child, url: match[1]! };
}

function cli(config: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return exec(process.execPath, [CLI, '--config', config, ...args], { maxBuffer: 64 << 20 }).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );
}

interface StoredSession {
  id: string;
  instance: string;
  protocol: string;
  sealed: boolean;
  endReason: string | null;
  records: number;
}

/** What a store holds right now, read from its file the way the read commands open it. */
function storeSessions(file: string): StoredSession[] {
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare('SELECT s.session_id AS id, s.instance, s.protocol, s.sealed, s.end_reason AS endReason, (SELECT COUNT(*) FROM records r WHERE r.session_id = s.session_id) AS records FROM sessions s ORDER BY s.session_id')
      .all()
      .map((r) => ({ ...(r as StoredSession), sealed: (r as { sealed: number }).sealed === 1 }));
  } finally {
    db.close();
  }
}

/**
 * Waits until every store holds `n` sessions, each with its signed end, and every store the same
 * records (events and bytes come on separate topics: a signed end can arrive before the last bytes).
 * Whether those are all the records is for `verify --all` to say.
 */
async function storesSettle(n: number, what: string): Promise<StoredSession[]> {
  await eventually(() => {
    const lists = stores.map((s) => storeSessions(s.file));
    return lists.every((list) => list.length === n && list.every((x) => x.sealed) && JSON.stringify(list) === JSON.stringify(lists[0]));
  }, `every store to hold the same ${n} sealed sessions (${what})`, 180_000);
  return storeSessions(stores[0]!.file);
}

async function psql(gw: Gw, statements: string[]): Promise<string> {
  const args = [`host=127.0.0.1 port=${gw.pgPort} dbname=app user=ci sslmode=disable`, '-X', '-v', 'ON_ERROR_STOP=1', ...statements.flatMap((s) => ['-c', s])];
  const { stdout } = await exec('psql', args, { env: { ...process.env, PGPASSWORD: await issuer.mint() } });
  return stdout;
}

async function shell(gw: Gw, marker: string): Promise<void> {
  const term = gw.ssh.terminal(['web@127.0.0.1'], await issuer.mint(), { rows: 24, cols: 80 });
  term.type("export PS1='e2e''$ '\r");
  let at = await term.waitFor('e2e$ ', 0, 30_000);
  term.type(`echo ${marker}-$((40+2)) && printf '%s\\n' 'line two'\r`);
  at = await term.waitFor(`${marker}-42`, at, 30_000);
  await term.waitFor('e2e$ ', at, 30_000);
  term.type('exit 0\r');
  assert.equal((await term.exited).code, 0);
}

before(async () => {
  issuer = await DevIssuer.openOrCreate(root);
  writeFileSync(join(root, 'issuer-jwks.json'), JSON.stringify(issuer.jwks()));
  gateways.push(await startGateway('gw-a'), await startGateway('gw-b'));
  const keys = gateways.flatMap((g) => (JSON.parse(readFileSync(join(g.dir, 'keys', 'jwks.json'), 'utf8')) as { keys: JWK[] }).keys);
  writeFileSync(join(root, 'gateways-jwks.json'), JSON.stringify({ keys }));
  forwarded = join(root, 'forwarded.ndjson');
  const fwConfig = writeConfig(join(root, 'forwarder'), { consumers: { forwarder: { kind: 'ndjson', file: forwarded, streams: ['events', 'bytes'] } } });
  await startRole(fwConfig, ['forwarder'], /trailgate forwarder is up/);
  const search = openSearchTarget().connection;
  const idxConfig = writeConfig(join(root, 'indexer'), { search: { product: 'opensearch', url: search.url, namespace: `e2e${randomBytes(3).toString('hex')}` } });
  await startRole(idxConfig, ['indexer'], /trailgate indexer is up/);
  stores.push(await startStore('replay-a'), await startStore('replay-b'));
});

after(async () => {
  for (const c of [...children]) await stopProcess(c).catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

describe('Kafka end to end, every role its own process', () => {
  let sessions: StoredSession[] = [];

  it('psql and ssh sessions through both gateways replay from either store to the same screen and transcript; verify --all holds on each', async () => {
    for (const gw of gateways) {
      const out = await psql(gw, [`select 'through ${gw.instance}' as via`, 'create temp table t (id int)', 'insert into t select generate_series(1, 10)', 'select count(*) from t']);
      assert.match(out, new RegExp(`through ${gw.instance}`));
      await shell(gw, `shell-${gw.instance}`);
    }
    sessions = await storesSettle(4, 'two psql and two ssh sessions');
    assert.deepEqual(sessions.map((s) => `${s.instance}/${s.protocol}`).sort(), ['gw-a/postgres', 'gw-a/ssh', 'gw-b/postgres', 'gw-b/ssh']);

    for (const s of sessions) {
      if (s.protocol === 'postgres') {
        const [a, b] = await Promise.all(stores.map((st) => cli(st.config, ['transcript', s.id])));
        assert.equal(a!.code, 0, a!.err);
        assert.equal(a!.out, b!.out, 'the same transcript from either store');
        assert.match(a!.out, new RegExp(`select 'through ${s.instance}' as via`));
        assert.match(a!.out, /insert into t select generate_series\(1, 10\)/);
      } else {
        const [a, b] = await Promise.all(stores.map((st) => cli(st.config, ['cast', s.id])));
        assert.equal(a!.code, 0, a!.err);
        const [screenA, screenB] = await Promise.all([screenOfCast(a!.out), screenOfCast(b!.out)]);
        assert.deepEqual(screenA, screenB, 'the same final screen from either store');
        assert.ok(screenA.lines.some((l) => l.includes(`shell-${s.instance}-42`)), `the final screen shows what the shell printed:\n${screenA.lines.join('\n')}`);
        assert.ok(screenA.lines.some((l) => l === 'line two'));
      }
    }
    for (const st of stores) {
      const listed = await cli(st.config, ['sessions', '--json']);
      assert.equal(listed.code, 0, listed.err);
      assert.equal(listed.out.trim().split('\n').length, 4, `${st.name}: trailgate sessions lists all four`);
      const events = await cli(st.config, ['events', sessions[0]!.id.slice(0, 20), '--json', '--bytes']);
      assert.equal(events.out.trim().split('\n').length, sessions[0]!.records, 'trailgate events reads every record, byte chunks too');
      const verified = await cli(st.config, ['verify', '--all']);
      assert.equal(verified.code, 0, `${st.name}: ${verified.out}${verified.err}`);
      assert.match(verified.out, /OK: 4 session\(s\) intact/);
      // The replay UI serves the same store.
      const api = await fetch(`${st.url}/api/sessions`, { headers: { authorization: `Bearer ${viewerToken}` } });
      assert.equal(api.status, 200);
      const listedByUi = (await api.json()) as { sessions?: { sessionId: string }[] } | { sessionId: string }[];
      const ids = (Array.isArray(listedByUi) ? listedByUi : (listedByUi.sessions ?? [])).map((x) => x.sessionId).sort();
      assert.deepEqual(ids, sessions.map((s) => s.id).sort());
      const searched = (await (await fetch(`${st.url}/api/sessions?q=${encodeURIComponent("'through gw-b'")}`, { headers: { authorization: `Bearer ${viewerToken}` } })).json()) as { sessions: { sessionId: string }[] };
      assert.deepEqual(searched.sessions.map((x) => x.sessionId), sessions.filter((x) => x.instance === 'gw-b' && x.protocol === 'postgres').map((x) => x.id), 'the UI searches command text in the store');
    }
    const status = await cli(stores[0]!.config, ['consumers', '--json']);
    const consumers = status.out.trim().split('\n').map((l) => (JSON.parse(l) as { consumer: string }).consumer);
    for (const name of ['replay-a', 'replay-a.ledger', 'replay-b', 'replay-b.ledger', 'forwarder', 'search-opensearch']) assert.ok(consumers.includes(name), `trailgate consumers lists ${name}: ${status.out}`);
    // The other consumers got the same log.
    await eventually(() => existsSync(forwarded) && sessions.every((s) => readFileSync(forwarded, 'utf8').includes(`"sessionId":"${s.id}"`)), 'the forwarder to write every session');
    await eventually(async () => {
      const found = await cli(join(root, 'indexer', 'trailgate.json'), ['search', '--json', '--commands', 'through', 'gw-b']);
      return found.code === 0 && found.out.includes('through gw-b');
    }, 'the indexer to index the statements');
  });

  it('a replay store SIGKILLed mid-batch and started again loses nothing and stores nothing twice', async () => {
    const victim = stores[0]!;
    const statements = Array.from({ length: 120 }, (_, i) => `select ${i} as n, repeat('x', 500) as filler`);
    const burst = psql(gateways[0]!, statements);
    // Killed while the burst is being stored: some of the new session's records are in, not all.
    await eventually(() => storeSessions(victim.file).some((s) => !sessions.some((o) => o.id === s.id) && s.records > 0), 'the store to start on the new session');
    victim.child.kill('SIGKILL');
    await new Promise((r) => victim.child.once('exit', r));
    assert.ok(storeSessions(victim.file).some((s) => !sessions.some((o) => o.id === s.id) && !s.sealed), 'killed while the session was still coming in');
    await burst;
    const restarted = await startStore(victim.name);
    stores[0] = restarted;
    sessions = await storesSettle(5, 'the burst after the kill');
    for (const st of stores) {
      const verified = await cli(st.config, ['verify', '--all']);
      assert.equal(verified.code, 0, `${st.name}: ${verified.out}`);
    }
  });

  it('the broker SIGKILLed and restarted: the gateways spool, every store catches up, nothing lost', async () => {
    await killBroker();
    try {
      // The gateways keep serving while Kafka is away.
      await psql(gateways[1]!, ["select 'while the broker was down' as note"]);
      await shell(gateways[0]!, 'broker-down');
    } finally {
      await restartBroker();
    }
    sessions = await storesSettle(7, 'the sessions recorded while the broker was down');
    for (const st of stores) {
      const verified = await cli(st.config, ['verify', '--all']);
      assert.equal(verified.code, 0, `${st.name}: ${verified.out}`);
      assert.match(verified.out, /OK: 7 session\(s\) intact/);
    }
  });

  it('a session deleted from a store is reported by verify --all through the ledger', async () => {
    const st = stores[1]!;
    const victim = sessions[0]!.id;
    // Every gateway's ledger reaches the store; the victim's signed summary among them.
    await eventually(() => {
      const db = new Database(st.file, { readonly: true });
      try {
        return (db.prepare('SELECT opened FROM ledger').all() as { opened: string }[]).some((e) => (JSON.parse(e.opened) as string[]).includes(victim));
      } finally {
        db.close();
      }
    }, 'a signed summary naming the session to reach the store', 60_000);
    const copyDir = join(root, 'tampered');
    mkdirSync(copyDir, { recursive: true });
    const copy = join(copyDir, 'replay-store.db');
    // A consistent copy of the running store (its newest rows may still be in the WAL file).
    const source = new Database(st.file, { readonly: true });
    await source.backup(copy);
    source.close();
    const db = new Database(copy);
    const instances = (db.prepare('SELECT DISTINCT instance FROM ledger ORDER BY instance').all() as { instance: string }[]).map((r) => r.instance);
    assert.deepEqual(instances, ['gw-a', 'gw-b'], 'both gateways\' ledgers are in the store');
    db.prepare('DELETE FROM records WHERE session_id = ?').run(victim);
    db.prepare('DELETE FROM sessions WHERE session_id = ?').run(victim);
    db.close();
    const config = writeConfig(copyDir, { replay: { store: copy }, integrity: { trustedJwksFile: join(root, 'gateways-jwks.json'), summarySeconds: 3600 } });
    const verified = await cli(config, ['verify', '--all']);
    assert.equal(verified.code, 1, verified.out);
    assert.match(verified.out, new RegExp(`session-missing at entry \\d+: session ${victim}`));
  });

  it('a gateway SIGKILLed mid-session: after its restart the session is aborted and truncated on every store', async () => {
    const gw = gateways[1]!;
    const client = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, database: 'app', user: 'ci', password: await issuer.mint() });
    client.on('error', () => undefined);
    await client.connect();
    await client.query("select 'before the crash' as note");
    await eventually(() => stores.every((s) => storeSessions(s.file).length === sessions.length + 1), 'the open session to reach the stores');
    gw.child.kill('SIGKILL');
    await new Promise((r) => gw.child.once('exit', r));
    await client.end().catch(() => undefined);
    gateways[1] = await startGateway(gw.instance);
    const open = storeSessions(stores[0]!.file).find((s) => !sessions.some((o) => o.id === s.id))!;
    await eventually(() => stores.every((s) => storeSessions(s.file).find((x) => x.id === open.id)?.endReason === 'aborted'), 'the session to be closed as aborted on every store', 90_000);
    for (const st of stores) {
      const verified = await cli(st.config, ['verify', open.id]);
      assert.equal(verified.code, 1);
      assert.match(verified.out, new RegExp(`${open.id}\\s+truncated`));
      assert.match(verified.out, /aborted at seq \d+: closed at seq \d+ by a restarted gateway/);
    }
  });
});
