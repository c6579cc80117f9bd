import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { embeddedLogFile } from '../../connectors/embedded-log/log-file.js';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { InlineLogSink, ThreadedLogSink, type LogSink } from '../../connectors/embedded-log/log-sinks.js';
import { KafkaLogSink } from '../../connectors/kafka/kafka-log-sink.js';
import { KafkaTokenUses } from '../../connectors/kafka/token-use-topic.js';
import { Metrics } from '../metrics/metrics.js';
import type { ClaimRule, TrailgateConfig } from '../config/schema.js';
import { DemoTarget } from '../dev/demo-target.js';
import { DevIssuer } from '../dev/dev-issuer.js';
import { SqliteTokenUses } from './identity/sqlite-token-uses.js';
import { TokenUses, type TokenUseStore } from './identity/token-uses.js';
import { TokenVerifier, type StaticIssuer } from './identity/token-verifier.js';
import type { TargetEndpoint } from './postgres/backend-connection.js';
import { CancelRegistry } from './postgres/cancel-registry.js';
import type { PostgresGatewayDeps } from './postgres/postgres-connection.js';
import { PostgresListener } from './postgres/postgres-listener.js';
import { approvalsFor, type GatewayApprovals } from '../approvals/gateway-approvals.js';
import type { StatementGate } from './postgres/statement-gate.js';
import { PolicyGate } from './policy/policy-gate.js';
import { MaskingGate } from '../masking/masking-gate.js';
import { loadClassifier } from './policy/statement-classifier.js';
import { loadOrCreateTlsContext } from './postgres/tls-material.js';
import { LogWriter } from './recorder/log-writer.js';
import type { CheckpointPolicy } from './recorder/session-recorder.js';
import { HeadSigner } from '../integrity/checkpoint-signer.js';
import { InstanceLock } from '../integrity/instance-lock.js';
import { abortUnsealedSessions } from '../integrity/session-recovery.js';
import { SessionLedger, type LedgerStore } from '../integrity/session-ledger.js';
import { keysDir, loadOrCreateSigningKey } from '../integrity/signing-keys.js';
import { loadOrCreateHostKey, type GatewayHostKey } from './ssh/gateway-host-key.js';
import { SshListener } from './ssh/ssh-listener.js';
import { kubeEndpoints, type KubeEndpoint } from './kubernetes/kube-endpoint.js';
import { KubeListener } from './kubernetes/kube-listener.js';
import { sshEndpoints, targetEndpoints, type SshEndpoint } from './targets.js';

/** The Kubernetes side when it runs: where it listens (HTTPS) and the clusters behind it. */
export interface KubeFrontDoor {
  listener: KubeListener;
  address: { host: string; port: number };
  /** The certificate kubeconfigs trust (certificate-authority). */
  certFile: string;
  targets: ReadonlyMap<string, KubeEndpoint>;
}

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
  metrics?: Metrics;
  /** Free bytes on the spool's file system (tests of the disk watermarks). */
  spoolFreeBytes?: (dir: string) => Promise<number>;
  /** Asked before each new Postgres or SSH session, before the spool watermark: a drain refuses here. */
  admission?: PostgresGatewayDeps['admission'];
  /** The clock approved approval windows are judged by (tests end a window by moving it). */
  approvalsClock?: () => number;
}

/** In development mode, any token of the development issuer may do anything on the demo database. */
export const DEV_DEMO_RULE: ClaimRule = { name: 'dev-demo', issuers: ['dev'], subject: '**', targets: ['demo'], rights: ['all'] };

export { embeddedLogFile };

export function spoolDir(config: TrailgateConfig): string {
  return resolve(config.dataDir, config.log.kafka?.spool.dir ?? 'spool');
}

/**
 * On Kafka the gateway keeps its signed ledger of opened sessions in a local SQLite file (the chain
 * continues from its head) and publishes each entry to `<prefix>.ledger` through the spool.
 */
export function kafkaLedgerFile(dataDir: string): string {
  return join(dataDir, 'ledger.db');
}

/** The gateway role: listeners, identity, targets and the recorder, wired from configuration. */
export class Gateway {
  private constructor(
    /** A reading connection to the embedded log (on Kafka: the local ledger file); writes go through the writer. */
    private readonly local: EmbeddedLog,
    /** The Kafka log's spool and drainer, when the log is Kafka. */
    readonly kafka: KafkaLogSink | null,
    readonly metrics: Metrics,
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
    /** Null when no `ssh` section and no SSH target is configured. */
    readonly ssh: SshFrontDoor | null,
    readonly tokenUses: TokenUses,
    /** Null when no `approvals` section is configured. */
    readonly approvals: GatewayApprovals | null,
    /** Null when no `kubernetes` section and no Kubernetes target is configured. */
    readonly kube: KubeFrontDoor | null = null,
  ) {}

  /** The embedded log, for reading; throws on a gateway whose log is Kafka. */
  get log(): EmbeddedLog {
    if (this.kafka) throw Object.assign(new Error('this gateway records to Kafka: read the log with a consumer'), { code: 'TG_LOG_KIND' });
    return this.local;
  }

  static async start(o: GatewayOptions): Promise<Gateway> {
    const { config } = o;
    const instance = config.instance ?? 'trailgate';
    const metrics = o.metrics ?? new Metrics();
    const onKafka = config.log.kind === 'kafka';
    const file = onKafka ? kafkaLedgerFile(config.dataDir) : embeddedLogFile(config.dataDir);
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
    let kafka: KafkaLogSink | null = null;
    let sink: LogSink;
    if (onKafka) {
      try {
        kafka = await KafkaLogSink.open({ config: config.log.kafka!, instance, spoolDir: spoolDir(config), metrics, recordingFsync: config.recording.fsync, ...(o.spoolFreeBytes ? { freeBytes: o.spoolFreeBytes } : {}) });
      } catch (err) {
        log.close();
        lock.release();
        throw err;
      }
      sink = kafka;
    } else {
      // Strict recording waits for each commit, so a thread hop would only add latency; async recording
      // waits for nothing, so its commits move off the event loop (measured in bench/results).
      sink = config.recording.mode === 'strict' ? new InlineLogSink(log) : new ThreadedLogSink(file, synchronous);
    }
    const writer = new LogWriter(sink, onKafka ? spoolDir(config) : file, undefined, config.recording.maxHeldBytes);
    const signer = new HeadSigner(signingKey);
    const checkpoints: CheckpointPolicy = { signer, every: config.integrity.checkpointEvery, millis: config.integrity.checkpointSeconds * 1000 };
    const chunkPolicy = { chunkBytes: config.recording.chunkBytes, chunkMillis: config.recording.chunkMillis };
    const ledger = new SessionLedger(kafka ? publishedLedger(log, kafka) : log, signer, instance, () => writer.durable());
    writer.on('opened', (ctx) => ledger.noteOpened(ctx.sessionId));
    const extraIssuers: StaticIssuer[] = [...(o.extraIssuers ?? [])];
    const rules: ClaimRule[] = [...config.policy.rules];
    const targets = targetEndpoints(config);
    const sshTargets = sshEndpoints(config);
    let demo: DemoTarget | null = null;
    let postgres: PostgresListener | null = null;
    let tokenUses: TokenUses | null = null;
    let approvals: GatewayApprovals | null = null;
    try {
      // What the previous run opened but did not get to summarize (a crash) goes into the first summary.
      const listed = ledger.listed();
      for (const id of kafka ? kafka.knownSessionIds() : log.sessionIdsOf(instance)) if (!listed.has(id)) ledger.noteOpened(id);
      if (kafka) {
        // Entries a crash kept from the spool go to Kafka now, in order.
        for (const e of log.readLedger(instance)) if (e.seq > kafka.spooledLedgerSeq) void kafka.publishLedger(e);
        kafka.retainSealed(() => {
          const named = ledger.listed();
          return (id) => !named.has(id);
        });
      }
      // On Kafka the spool holds the chain heads: its saved heads and every frame not yet deleted.
      const unsealed = kafka ? kafka.unsealedSessions(instance) : log.unsealedSessions(instance);
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
      const verifier = new TokenVerifier(config.identity, { extraIssuers, fetchTimeoutMs: config.identity.jwksTimeoutMillis, jwksCooldownMs: config.identity.jwksCooldownSeconds * 1000 });
      const reusePolicies = new Map([...extraIssuers.map((i) => i.config), ...config.identity.issuers].map((i) => [i.name, i.tokenReuse ?? 'same-client'] as const));
      const tokenStore: TokenUseStore = kafka ? new KafkaTokenUses(config.log.kafka!, instance) : new SqliteTokenUses(file);
      tokenUses = new TokenUses({ store: tokenStore, instance, clockSkewSeconds: config.identity.clockSkewSeconds, policyOf: (name) => reusePolicies.get(name) ?? 'same-client' });
      approvals = await approvalsFor(config, instance, file, o.approvalsClock);
      await loadClassifier();
      const tlsMaterial = await loadOrCreateTlsContext(config.postgres.tls, config.dataDir);
      postgres = new PostgresListener({
        instance,
        verifier,
        targets,
        gate: new MaskingGate(o.gate ?? new PolicyGate()),
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
        tokenUses,
        admission: () => o.admission?.() ?? logAdmission(writer) ?? (kafka ? admission(kafka) : null),
        ...(approvals ? { approvals: approvals.desk } : {}),
      });
      const address = await postgres.listen(config.postgres.listen.host, config.postgres.listen.port);
      if (approvals && config.approvals?.listen) {
        // The job side of approvals (plan and apply, windows): HTTPS on the Postgres listener's certificate.
        const keyFile = config.postgres.tls.keyFile ?? join(config.dataDir, 'tls', 'gateway.key');
        await approvals.startJobApi(
          { instance, verifier, targets, sshTargets, rules, writer, chunkPolicy, checkpoints, recordingMode: config.recording.mode, tokenUses, admission: () => o.admission?.() ?? logAdmission(writer) ?? (kafka ? admission(kafka) : null) },
          { cert: readFileSync(tlsMaterial.certFile), key: readFileSync(keyFile) },
          config.approvals.listen,
        ).catch(async (err: Error) => {
          await postgres!.close();
          throw err;
        });
      }
      let ssh: SshFrontDoor | null = null;
      if (config.ssh || sshTargets.size > 0) {
        const settings = config.ssh ?? { listen: { host: '127.0.0.1', port: 2222 }, authTimeoutSeconds: 30 };
        const hostKey = loadOrCreateHostKey(settings.hostKeyFile, config.dataDir);
        const listener = new SshListener(
          {
            instance,
            verifier,
            targets: sshTargets,
            rules,
            writer,
            chunkPolicy,
            checkpoints,
            recordingMode: config.recording.mode,
            recordInput: config.recording.sshInput,
            authTimeoutMs: settings.authTimeoutSeconds * 1000,
            admission: () => o.admission?.() ?? logAdmission(writer) ?? (kafka ? admission(kafka) : null),
            tokenUses,
            ...(approvals ? { approvals: approvals.desk } : {}),
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
      let kube: KubeFrontDoor | null = null;
      const kubeTargets = kubeEndpoints(config);
      if (config.kubernetes || kubeTargets.size > 0) {
        const settings = config.kubernetes ?? { listen: { host: '127.0.0.1', port: 6443 }, tls: {}, idleTimeoutSeconds: 120 };
        // The Postgres listener's certificate unless the kubernetes section names its own.
        const own = settings.tls.certFile || settings.tls.keyFile;
        const kubeTls = own ? await loadOrCreateTlsContext(settings.tls, config.dataDir) : tlsMaterial;
        const keyFile = own ? settings.tls.keyFile! : (config.postgres.tls.keyFile ?? join(config.dataDir, 'tls', 'gateway.key'));
        const listener = new KubeListener(
          { instance, verifier, targets: kubeTargets, rules, writer, chunkPolicy, checkpoints, recordingMode: config.recording.mode, tokenUses, admission: () => o.admission?.() ?? (kafka ? admission(kafka) : null) },
          { cert: readFileSync(kubeTls.certFile), key: readFileSync(keyFile) },
          settings.idleTimeoutSeconds * 1000,
        );
        try {
          kube = { listener, address: await listener.listen(settings.listen.host, settings.listen.port), certFile: kubeTls.certFile, targets: kubeTargets };
        } catch (err) {
          await postgres.close();
          await ssh?.listener.close();
          throw err;
        }
      }
      if (kafka) watchWatermarks(kafka, postgres, ssh?.listener ?? null, kube?.listener ?? null);
      watchHeldLimit(writer, metrics, postgres, ssh?.listener ?? null, kube?.listener ?? null);
      ledger.start(config.integrity.summarySeconds * 1000);
      return new Gateway(log, kafka, metrics, writer, sink, postgres, address, targets, demo, ledger, lock, aborted, signingKey.kid, join(keysDir(config.dataDir), 'jwks.json'), ssh, tokenUses, approvals, kube);
    } catch (err) {
      await tokenUses?.close().catch(() => undefined);
      await approvals?.close().catch(() => undefined);
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
    await this.ssh?.listener.close();
    await this.kube?.listener.close();
    for (const t of this.kube?.targets.values() ?? []) t.agent.destroy();
    await this.tokenUses.close();
    await this.approvals?.close();
    this.writer.stopRetrying();
    await this.writer.flush().catch((err: Error) => {
      // The files are closed all the same; a restart on a repaired disk closes the held sessions as aborted.
      console.error(`trailgate: ${this.writer.heldRecords} record(s) could not be written before the stop: ${err.message}`);
    });
    await this.ledger.stop().catch((err: Error) => console.error(`trailgate: the last ledger entry could not be written: ${err.message}`));
    await this.sink.close();
    await this.demo?.stop();
    this.local.close();
    this.lock.release();
  }
}

/** The local ledger, each appended entry also published to Kafka. */
function publishedLedger(local: EmbeddedLog, kafka: KafkaLogSink): LedgerStore {
  return {
    sessionIdsOf: (instance) => local.sessionIdsOf(instance),
    ledgerHead: (instance) => local.ledgerHead(instance),
    readLedger: (instance) => local.readLedger(instance),
    appendLedger: (entry) => {
      local.appendLedger(entry);
      // Retried until spooled; the spool then delivers it in order, exactly once.
      void kafka.publishLedger(entry);
    },
  };
}

/** While the log refuses writes, a new session could record nothing: it is turned away, and told why. */
function logAdmission(writer: LogWriter): { code: string; message: string; reason: 'recording-unavailable' } | null {
  const failure = writer.overHeldLimit ?? writer.unwritable;
  if (!failure) return null;
  return { code: failure.code, message: `the gateway is refusing new sessions: ${failure.message.replace(/^TG_LOG_[A-Z_]+: /, '')}`, reason: 'recording-unavailable' };
}

/** Past recording.maxHeldBytes the open sessions end, so the records held for an unwritable log stop growing. */
function watchHeldLimit(writer: LogWriter, metrics: Metrics, postgres: PostgresListener, ssh: SshListener | null, kube: KubeListener | null): void {
  metrics.gauge('trailgate_log_held_bytes', 'Bytes of records held in memory while the event log refuses writes.', {}, () => writer.heldBytes);
  metrics.gauge('trailgate_log_dropped_records', 'Records of sessions refused past recording.maxHeldBytes, not kept.', {}, () => writer.droppedRecords);
  writer.on('held-limit', (err) => {
    console.error(`trailgate: ${err.message}`);
    metrics.counter('trailgate_log_held_limit_total', 'Times the records held for an unwritable log reached recording.maxHeldBytes.');
    postgres.refuseRecording(err);
    ssh?.endSessions('recording-unavailable', err.message);
    kube?.endSessions('recording-unavailable', err.message);
  });
}

/** At the low watermark new sessions are turned away; their refusal is recorded like any other. */
function admission(kafka: KafkaLogSink): { code: string; message: string } | null {
  if (kafka.watermark === 'ok') return null;
  return { code: `TG_SPOOL_${kafka.watermark.toUpperCase()}`, message: 'the gateway is refusing new sessions: its recording spool is short of disk while Kafka is behind' };
}

/** Each crossing is recorded in every open session; at critical, recorded sessions are ended. */
function watchWatermarks(kafka: KafkaLogSink, postgres: PostgresListener, ssh: SshListener | null, kube: KubeListener | null): void {
  kafka.on('watermark', (data) => {
    postgres.forEachSession((s) => s.note('spool.watermark', data));
    ssh?.noteWatermark(data);
    if (data.level === 'critical') {
      const detail = `TG_SPOOL_CRITICAL: the recording spool is short of disk (${data.freeBytes} bytes free, ${data.spoolBytes} bytes waiting for Kafka)`;
      postgres.endSessions('recording-unavailable', detail);
      ssh?.endSessions('recording-unavailable', detail);
      kube?.endSessions('recording-unavailable', detail);
    }
  });
}
