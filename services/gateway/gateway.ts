import { join, resolve } from 'node:path';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { InlineLogSink, ThreadedLogSink, type LogSink } from '../../connectors/embedded-log/log-sinks.js';
import { KafkaLogSink } from '../../connectors/kafka/kafka-log-sink.js';
import { Metrics } from '../metrics/metrics.js';
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
import { targetEndpoints } from './targets.js';

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
}

/** In development mode, any token of the development issuer may do anything on the demo database. */
export const DEV_DEMO_RULE: ClaimRule = { name: 'dev-demo', issuers: ['dev'], subject: '**', targets: ['demo'], rights: ['all'] };

export function embeddedLogFile(dataDir: string): string {
  return join(dataDir, 'trailgate.db');
}

export function spoolDir(config: TrailgateConfig): string {
  return resolve(config.dataDir, config.log.kafka?.spool.dir ?? 'spool');
}

/** The gateway role: listeners, identity, targets and the recorder, wired from configuration. */
export class Gateway {
  private constructor(
    /** A reading connection to the embedded log; writes go through the writer. Null on Kafka. */
    private readonly embedded: EmbeddedLog | null,
    /** The Kafka log's spool and drainer, when the log is Kafka. */
    readonly kafka: KafkaLogSink | null,
    readonly metrics: Metrics,
    readonly writer: LogWriter,
    private readonly sink: LogSink,
    readonly postgres: PostgresListener,
    readonly postgresAddress: { host: string; port: number },
    readonly targets: ReadonlyMap<string, TargetEndpoint>,
    private readonly demo: DemoTarget | null,
  ) {}

  /** The embedded log, for reading; throws on a gateway whose log is Kafka. */
  get log(): EmbeddedLog {
    if (!this.embedded) throw Object.assign(new Error('this gateway records to Kafka: read the log with a consumer'), { code: 'TG_LOG_KIND' });
    return this.embedded;
  }

  static async start(o: GatewayOptions): Promise<Gateway> {
    const { config } = o;
    const metrics = o.metrics ?? new Metrics();
    let log: EmbeddedLog | null = null;
    let kafka: KafkaLogSink | null = null;
    let sink: LogSink;
    let file: string;
    if (config.log.kind === 'kafka') {
      file = spoolDir(config);
      kafka = await KafkaLogSink.open({ config: config.log.kafka!, instance: config.instance ?? 'trailgate', spoolDir: file, metrics, ...(o.spoolFreeBytes ? { freeBytes: o.spoolFreeBytes } : {}) });
      sink = kafka;
    } else {
      file = embeddedLogFile(config.dataDir);
      const synchronous = config.recording.fsync ? 'full' : 'normal';
      // This connection creates the schema before the writer thread opens the file.
      log = new EmbeddedLog(file, { synchronous });
      // Strict recording waits for each commit, so a thread hop would only add latency; async recording
      // waits for nothing, so its commits move off the event loop (measured in bench/results).
      sink = config.recording.mode === 'strict' ? new InlineLogSink(log) : new ThreadedLogSink(file, synchronous);
    }
    const writer = new LogWriter(sink, file);
    const extraIssuers: StaticIssuer[] = [...(o.extraIssuers ?? [])];
    const rules: ClaimRule[] = [...config.policy.rules];
    const targets = targetEndpoints(config);
    let demo: DemoTarget | null = null;
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
      const postgres = new PostgresListener({
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
        ...(kafka ? { admission: () => admission(kafka) } : {}),
      });
      if (kafka) watchWatermarks(kafka, postgres);
      const address = await postgres.listen(config.postgres.listen.host, config.postgres.listen.port);
      return new Gateway(log, kafka, metrics, writer, sink, postgres, address, targets, demo);
    } catch (err) {
      await demo?.stop();
      await sink.close();
      log?.close();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.postgres.close();
    await this.writer.flush();
    await this.sink.close();
    await this.demo?.stop();
    this.embedded?.close();
  }
}

/** At the low watermark new sessions are turned away; their refusal is recorded like any other. */
function admission(kafka: KafkaLogSink): { code: string; message: string } | null {
  if (kafka.watermark === 'ok') return null;
  return { code: `TG_SPOOL_${kafka.watermark.toUpperCase()}`, message: 'the gateway is refusing new sessions: its recording spool is short of disk while Kafka is behind' };
}

/** Each crossing is recorded in every open session; at critical, recorded sessions are ended. */
function watchWatermarks(kafka: KafkaLogSink, postgres: PostgresListener): void {
  kafka.on('watermark', (data) => {
    postgres.forEachSession((s) => s.note('spool.watermark', data));
    if (data.level === 'critical') {
      postgres.endSessions('recording-unavailable', `TG_SPOOL_CRITICAL: the recording spool is short of disk (${data.freeBytes} bytes free, ${data.spoolBytes} bytes waiting for Kafka)`);
    }
  });
}
