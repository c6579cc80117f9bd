import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { generate } from 'selfsigned';
import type { AuditRecord, EventRecord, EventType } from '../../events/index.js';
import { validateConfig } from '../../services/config/load.js';
import type { IssuerConfig } from '../../services/config/schema.js';
import { DevIssuer, type MintOptions } from '../../services/dev/dev-issuer.js';
import { Gateway } from '../../services/gateway/gateway.js';
import type { StatementGate } from '../../services/gateway/postgres/statement-gate.js';
import { keysDir, readPublishedKeys } from '../../services/integrity/signing-keys.js';
import { TrustedKeys } from '../../services/verify/trusted-keys.js';
import { embeddedLogSource } from '../../services/verify/verify-source.js';
import { verify } from '../../services/verify/verify.js';
import type { VerifyReport } from '../../services/verify/verdict.js';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { OpenSsh } from './openssh.js';
import { postgresService, sshService, type PostgresService } from './test-env.js';

export interface HarnessOptions {
  gate?: StatementGate;
  issuers?: IssuerConfig[];
  /** More keys of the `identity` section (clockSkewSeconds, jwksTimeoutMillis, jwksCooldownSeconds, ...). */
  identity?: Record<string, unknown>;
  /** Settings of the development issuer the harness mints with, e.g. { tokenReuse: 'any' }. */
  devIssuer?: Partial<IssuerConfig>;
  maxMessageBytes?: number;
  recordingMode?: 'strict' | 'async';
  /** Policy rules; by default the development issuer's tokens may do anything on every test target. */
  rules?: unknown[];
  /** Gateway instance name (default test-gw). */
  instance?: string;
  /** The `log` section (default: the embedded log). */
  log?: unknown;
  /** Reuse a data directory (a gateway restarted on its spool); the harness then leaves it in place. */
  dataDir?: string;
  spoolFreeBytes?: (dir: string) => Promise<number>;
  integrity?: { checkpointEvery?: number; checkpointSeconds?: number; summarySeconds?: number };
  /** Runs the SSH front door with targets on the throwaway sshd (tests/services/sshd.sh). */
  ssh?: boolean;
  /** More SSH targets by name (e.g. on an sshd started by the test); the harness adds the usual ones too. */
  sshTargets?: Record<string, unknown>;
  /** recording.sshInput */
  sshInput?: boolean;
  chunkMillis?: number;
  /** recording.maxHeldBytes: what the gateway holds for an unwritable log before it ends sessions. */
  maxHeldBytes?: number;
  /** More Postgres targets on the test database: each is the `app` target with these keys on top. */
  targetVariants?: Record<string, Record<string, unknown>>;
  /** The `approvals` section. */
  approvals?: unknown;
  /** The clock approved approval windows are judged by. */
  approvalsClock?: () => number;
}

/** A gateway in this process, in front of the real PostgreSQL that tests/run.sh started. */
export class GatewayHarness {
  private constructor(
    readonly gateway: Gateway,
    readonly issuer: DevIssuer,
    readonly pg: PostgresService,
    readonly dataDir: string,
    private readonly ownsDataDir = true,
  ) {}

  static async start(o: HarnessOptions = {}): Promise<GatewayHarness> {
    const pgService = postgresService();
    const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'trailgate-test-'));
    const issuer = await DevIssuer.openOrCreate(dataDir);
    const strangerCa = join(dataDir, 'stranger-ca.crt');
    writeFileSync(strangerCa, (await generate([{ name: 'commonName', value: '127.0.0.1' }], { keyType: 'ec', curve: 'P-256' })).cert);
    const target = { host: pgService.host, port: pgService.port, database: pgService.database, user: pgService.appUser, password: { env: 'TG_PG_APP_PASSWORD' } };
    const sshTargets: Record<string, unknown> = {};
    if (o.ssh) {
      const sshd = sshService();
      const web = { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user, privateKey: { file: sshd.keyFile }, hostKey: readFileSync(sshd.hostKeyFile, 'utf8') };
      sshTargets.web = web;
      sshTargets['web-fingerprint'] = { ...web, hostKey: sshd.hostKeyFingerprint };
      sshTargets['web-impostor'] = { ...web, hostKey: readFileSync(sshd.otherHostKeyFile, 'utf8') };
      sshTargets['web-down'] = { ...web, port: 1 };
      Object.assign(sshTargets, o.sshTargets);
    }
    const config = validateConfig({
      dataDir,
      instance: o.instance ?? 'test-gw',
      ...(o.log ? { log: o.log } : {}),
      identity: { issuers: o.issuers ?? [], ...o.identity },
      postgres: { listen: { host: '127.0.0.1', port: 0 }, ...(o.maxMessageBytes ? { maxMessageBytes: o.maxMessageBytes } : {}) },
      targets: {
        app: target,
        'app-tls': { ...target, tls: 'verify-full', caFile: pgService.caFile },
        'app-tls-stranger': { ...target, tls: 'verify-full', caFile: strangerCa },
        'app-wrong-password': { ...target, password: 'not-the-password' },
        'app-down': { ...target, port: 1 },
        'app-commented': { ...target, sqlcommenter: true },
        ...Object.fromEntries(Object.entries(o.targetVariants ?? {}).map(([name, keys]) => [name, { ...target, ...keys }])),
        ...sshTargets,
      },
      ...(o.integrity ? { integrity: o.integrity } : {}),
      ...(o.ssh ? { ssh: { listen: { host: '127.0.0.1', port: 0 } } } : {}),
      recording: { mode: o.recordingMode ?? 'strict', ...(o.sshInput ? { sshInput: true } : {}), ...(o.chunkMillis ? { chunkMillis: o.chunkMillis } : {}), ...(o.maxHeldBytes ? { maxHeldBytes: o.maxHeldBytes } : {}) },
      ...(o.approvals ? { approvals: o.approvals } : {}),
      policy: { rules: o.rules ?? [{ name: 'tests-all', issuers: ['dev'], subject: '**', targets: ['*'], rights: ['all'] }] },
    });
    const gateway = await Gateway.start({ config, ...(o.gate ? { gate: o.gate } : {}), ...(o.spoolFreeBytes ? { spoolFreeBytes: o.spoolFreeBytes } : {}), ...(o.approvalsClock ? { approvalsClock: o.approvalsClock } : {}), extraIssuers: [{ config: { ...issuer.issuerConfig(), ...o.devIssuer }, jwks: issuer.jwks() }] });
    return new GatewayHarness(gateway, issuer, pgService, dataDir, o.dataDir === undefined);
  }

  get port(): number {
    return this.gateway.postgresAddress.port;
  }

  /** The real OpenSSH client aimed at the gateway's SSH port, trusting only the gateway's host key. */
  openssh(): OpenSsh {
    const ssh = this.gateway.ssh;
    if (!ssh) throw new Error('start the harness with { ssh: true }');
    const knownHosts = join(this.dataDir, 'known_hosts');
    writeFileSync(knownHosts, `[127.0.0.1]:${ssh.address.port} ${ssh.hostKey.publicKey}\n`);
    return new OpenSsh(ssh.address.port, knownHosts);
  }

  token(o: MintOptions = {}): Promise<string> {
    return this.issuer.mint(o);
  }

  /** A `pg` client connected through the gateway with a fresh token. */
  async client(o: { token?: string; target?: string; ssl?: boolean } = {}): Promise<pg.Client> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      database: o.target ?? 'app',
      user: 'ci',
      password: o.token ?? (await this.token()),
      ssl: o.ssl ? { rejectUnauthorized: false } : false,
    });
    await client.connect();
    return client;
  }

  /** A client straight to PostgreSQL, for checking what the target saw. */
  async directSuperuser(): Promise<pg.Client> {
    const client = new pg.Client({ host: this.pg.host, port: this.pg.port, database: this.pg.database, user: this.pg.superUser, password: this.pg.superPassword });
    await client.connect();
    return client;
  }

  /** Everything recorded for a session, after pending writes reached the log. */
  async records(sessionId: string): Promise<AuditRecord[]> {
    await this.gateway.writer.flush();
    return this.gateway.log.readSession(sessionId);
  }

  async events(sessionId: string): Promise<EventRecord[]> {
    return (await this.records(sessionId)).filter((r): r is EventRecord => r.stream === 'events');
  }

  /** Resolves with the events of the first session that ends and matches (clients close asynchronously). */
  endedSession(predicate: (events: EventRecord[]) => boolean = () => true, timeoutMs = 15_000): Promise<EventRecord[]> {
    return new Promise((resolve, reject) => {
      const writer = this.gateway.writer;
      const check = (records: { sessionId: string; stream: string; type?: string }[]) => {
        for (const r of records) {
          if (r.stream !== 'events' || r.type !== 'session.ended') continue;
          const events = this.gateway.log.readSession(r.sessionId).filter((x): x is EventRecord => x.stream === 'events');
          if (!predicate(events)) continue;
          clearTimeout(timer);
          writer.off('written', check);
          resolve(events);
          return;
        }
      };
      const timer = setTimeout(() => {
        writer.off('written', check);
        reject(new Error('no session ended and matched within the time limit'));
      }, timeoutMs);
      writer.on('written', check);
    });
  }

  private stopped = false;

  /** Stops the gateway (ending what is still open) and verifies everything it recorded. */
  async stopAndVerify(): Promise<VerifyReport> {
    await this.stopGateway();
    const log = new EmbeddedLog(join(this.dataDir, 'trailgate.db'), { readonly: true });
    try {
      const keys = readPublishedKeys(keysDir(this.dataDir)).keys;
      return await verify({ source: embeddedLogSource(log), trusted: new TrustedKeys(keys, 'test data directory'), published: keys });
    } finally {
      log.close();
    }
  }

  private async stopGateway(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.gateway.stop();
  }

  async stop(): Promise<void> {
    await this.stopGateway();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export function ofType<T extends EventType>(events: EventRecord[], type: T): EventRecord<T>[] {
  return events.filter((e): e is EventRecord<T> => e.type === type);
}

/** The session of a live `pg` client: the one whose target.connected names its backend pid. */
export async function sessionOf(h: GatewayHarness, client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  const pid = rows[0]!.pid;
  await h.gateway.writer.flush();
  for (const s of h.gateway.log.listSessions(1000)) {
    const connected = ofType(await h.events(s.sessionId), 'target.connected')[0];
    if (connected?.data.backendPid === pid) return s.sessionId;
  }
  throw new Error(`no recorded session for backend pid ${pid}`);
}
