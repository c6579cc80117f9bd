import { join } from 'node:path';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { InlineLogSink, ThreadedLogSink, type LogSink } from '../../connectors/embedded-log/log-sinks.js';
import type { ClaimRule, TrailgateConfig } from '../config/schema.js';
import { DemoTarget } from '../dev/demo-target.js';
import { DevIssuer } from '../dev/dev-issuer.js';
import { TokenVerifier, type StaticIssuer } from './identity/token-verifier.js';
import type { TargetEndpoint } from './postgres/backend-connection.js';
import { CancelRegistry } from './postgres/cancel-registry.js';
import { PostgresListener } from './postgres/postgres-listener.js';
import type { StatementGate } from './postgres/statement-gate.js';
import { PolicyGate } from './policy/policy-gate.js';
import { loadClassifier } from './policy/statement-classifier.js';
import { loadOrCreateTlsContext } from './postgres/tls-material.js';
import { LogWriter } from './recorder/log-writer.js';
import { loadOrCreateHostKey, type GatewayHostKey } from './ssh/gateway-host-key.js';
import { SshListener } from './ssh/ssh-listener.js';
import { sshEndpoints, targetEndpoints, type SshEndpoint } from './targets.js';

/** The SSH side when it runs: where it listens and the host key clients pin. */
export interface SshFrontDoor {
  listener: SshListener;
  address: { host: string; port: number };
  hostKey: GatewayHostKey;
  targets: ReadonlyMap<string, SshEndpoint>;
}

export interface GatewayOptions {
  config: TrailgateConfig;
  /** Turns on the development issuer and the demo target. Never for production. */
  dev?: boolean;
  gate?: StatementGate;
  /** Issuers with keys held in memory, besides the configured ones (tests, embedding). */
  extraIssuers?: StaticIssuer[];
}

/** In development mode, any token of the development issuer may do anything on the demo database. */
export const DEV_DEMO_RULE: ClaimRule = { name: 'dev-demo', issuers: ['dev'], subject: '**', targets: ['demo'], rights: ['all'] };

export function embeddedLogFile(dataDir: string): string {
  return join(dataDir, 'trailgate.db');
}

/** The gateway role: listeners, identity, targets and the recorder, wired from configuration. */
export class Gateway {
  private constructor(
    /** A reading connection to the log; writes go through the writer's own thread. */
    readonly log: EmbeddedLog,
    readonly writer: LogWriter,
    private readonly sink: LogSink,
    readonly postgres: PostgresListener,
    readonly postgresAddress: { host: string; port: number },
    readonly targets: ReadonlyMap<string, TargetEndpoint>,
    private readonly demo: DemoTarget | null,
    /** Null when no `ssh` section and no SSH target is configured. */
    readonly ssh: SshFrontDoor | null,
  ) {}

  static async start(o: GatewayOptions): Promise<Gateway> {
    const { config } = o;
    const file = embeddedLogFile(config.dataDir);
    const synchronous = config.recording.fsync ? 'full' : 'normal';
    // This connection creates the schema before the writer thread opens the file.
    const log = new EmbeddedLog(file, { synchronous });
    // Strict recording waits for each commit, so a thread hop would only add latency; async recording
    // waits for nothing, so its commits move off the event loop (measured in bench/results).
    const sink = config.recording.mode === 'strict' ? new InlineLogSink(log) : new ThreadedLogSink(file, synchronous);
    const writer = new LogWriter(sink, file);
    const extraIssuers: StaticIssuer[] = [...(o.extraIssuers ?? [])];
    const rules: ClaimRule[] = [...config.policy.rules];
    const targets = targetEndpoints(config);
    const sshTargets = sshEndpoints(config);
    let demo: DemoTarget | null = null;
    let postgres: PostgresListener | null = null;
    try {
      if (o.dev) {
        const dev = await DevIssuer.openOrCreate(config.dataDir);
        extraIssuers.push({ config: dev.issuerConfig(), jwks: dev.jwks() });
        if (!targets.has('demo')) {
          demo = await DemoTarget.start(config.dataDir);
          targets.set('demo', demo.endpoint);
          rules.push(DEV_DEMO_RULE);
        }
      }
      const verifier = new TokenVerifier(config.identity, { extraIssuers });
      await loadClassifier();
      const tlsMaterial = await loadOrCreateTlsContext(config.postgres.tls, config.dataDir);
      postgres = new PostgresListener({
        instance: config.instance ?? 'trailgate',
        verifier,
        targets,
        gate: o.gate ?? new PolicyGate(),
        rules,
        writer,
        cancels: new CancelRegistry(),
        tlsContext: tlsMaterial.context,
        requireTlsForRemote: config.postgres.tls.requireForRemote,
        maxMessageBytes: config.postgres.maxMessageBytes,
        authTimeoutMs: config.postgres.authTimeoutSeconds * 1000,
        chunkPolicy: { chunkBytes: config.recording.chunkBytes, chunkMillis: config.recording.chunkMillis },
        recordingMode: config.recording.mode,
      });
      const address = await postgres.listen(config.postgres.listen.host, config.postgres.listen.port);
      let ssh: SshFrontDoor | null = null;
      if (config.ssh || sshTargets.size > 0) {
        const settings = config.ssh ?? { listen: { host: '127.0.0.1', port: 2222 }, authTimeoutSeconds: 30 };
        const hostKey = loadOrCreateHostKey(settings.hostKeyFile, config.dataDir);
        const listener = new SshListener(
          {
            instance: config.instance ?? 'trailgate',
            verifier,
            targets: sshTargets,
            rules,
            writer,
            chunkPolicy: { chunkBytes: config.recording.chunkBytes, chunkMillis: config.recording.chunkMillis },
            recordingMode: config.recording.mode,
            recordInput: config.recording.sshInput,
            authTimeoutMs: settings.authTimeoutSeconds * 1000,
          },
          hostKey.privateKey,
        );
        try {
          ssh = { listener, address: await listener.listen(settings.listen.host, settings.listen.port), hostKey, targets: sshTargets };
        } catch (err) {
          await postgres.close();
          throw err;
        }
      }
      return new Gateway(log, writer, sink, postgres, address, targets, demo, ssh);
    } catch (err) {
      await demo?.stop();
      await sink.close();
      log.close();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.postgres.close();
    await this.ssh?.listener.close();
    await this.writer.flush();
    await this.sink.close();
    await this.demo?.stop();
    this.log.close();
  }
}
