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
import type { CheckpointPolicy } from './recorder/session-recorder.js';
import { HeadSigner } from '../integrity/checkpoint-signer.js';
import { InstanceLock } from '../integrity/instance-lock.js';
import { abortUnsealedSessions } from '../integrity/session-recovery.js';
import { SessionLedger } from '../integrity/session-ledger.js';
import { keysDir, loadOrCreateSigningKey } from '../integrity/signing-keys.js';
import { targetEndpoints } from './targets.js';

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
    private readonly ledger: SessionLedger,
    private readonly lock: InstanceLock,
    /** Sessions a previous run left open, closed as aborted at this start. */
    readonly aborted: string[],
    readonly signingKid: string,
    readonly jwksFile: string,
  ) {}

  static async start(o: GatewayOptions): Promise<Gateway> {
    const { config } = o;
    const instance = config.instance ?? 'trailgate';
    const file = embeddedLogFile(config.dataDir);
    const synchronous = config.recording.fsync ? 'full' : 'normal';
    const signingKey = await loadOrCreateSigningKey(keysDir(config.dataDir), config.integrity.signingKeyFile);
    const lock = InstanceLock.acquire(config.dataDir, instance);
    // This connection creates the schema before the writer thread opens the file.
    let log: EmbeddedLog;
    try {
      log = new EmbeddedLog(file, { synchronous });
    } catch (err) {
      lock.release();
      throw err;
    }
    // Strict recording waits for each commit, so a thread hop would only add latency; async recording
    // waits for nothing, so its commits move off the event loop (measured in bench/results).
    const sink = config.recording.mode === 'strict' ? new InlineLogSink(log) : new ThreadedLogSink(file, synchronous);
    const writer = new LogWriter(sink, file);
    const signer = new HeadSigner(signingKey);
    const checkpoints: CheckpointPolicy = { signer, every: config.integrity.checkpointEvery, millis: config.integrity.checkpointSeconds * 1000 };
    const chunkPolicy = { chunkBytes: config.recording.chunkBytes, chunkMillis: config.recording.chunkMillis };
    const ledger = new SessionLedger(log, signer, instance, () => writer.durable());
    writer.on('opened', (ctx) => ledger.noteOpened(ctx.sessionId));
    const extraIssuers: StaticIssuer[] = [...(o.extraIssuers ?? [])];
    const rules: ClaimRule[] = [...config.policy.rules];
    const targets = targetEndpoints(config);
    let demo: DemoTarget | null = null;
    try {
      // What the previous run opened but did not get to summarize (a crash) goes into the first summary.
      const listed = ledger.listed();
      for (const id of log.sessionIdsOf(instance)) if (!listed.has(id)) ledger.noteOpened(id);
      const unsealed = log.unsealedSessions(instance);
      const aborted = await abortUnsealedSessions(unsealed, writer, chunkPolicy, checkpoints);
      await ledger.summarize();
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
      const postgres = new PostgresListener({
        instance,
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
        chunkPolicy,
        checkpoints,
        recordingMode: config.recording.mode,
      });
      const address = await postgres.listen(config.postgres.listen.host, config.postgres.listen.port);
      ledger.start(config.integrity.summarySeconds * 1000);
      return new Gateway(log, writer, sink, postgres, address, targets, demo, ledger, lock, aborted, signingKey.kid, join(keysDir(config.dataDir), 'jwks.json'));
    } catch (err) {
      await demo?.stop();
      await writer.flush().catch(() => undefined);
      await sink.close();
      log.close();
      lock.release();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.postgres.close();
    await this.writer.flush();
    await this.ledger.stop();
    await this.sink.close();
    await this.demo?.stop();
    this.log.close();
    this.lock.release();
  }
}
