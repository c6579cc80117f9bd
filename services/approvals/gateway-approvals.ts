import type { TrailgateConfig } from '../config/schema.js';
import { ApprovalDesk } from './approval-desk.js';
import type { ApprovalStore } from './approval-store.js';
import { SqliteApprovalStore } from './sqlite-approval-store.js';
import { webhookNotifier } from './webhook.js';
import { JobApi, type JobApiDeps } from './job-api.js';

/** The gateway's approvals: the shared store and the desk that holds statements. */
export interface GatewayApprovals {
  store: ApprovalStore;
  desk: ApprovalDesk;
  /** Approvals a previous run of this instance left pending, now abandoned. */
  abandoned: string[];
  /** The job API (`approvals.listen`), once started. */
  jobApi: { api: JobApi; address: { host: string; port: number } } | null;
  startJobApi(deps: Omit<JobApiDeps, 'desk' | 'maxWindowSeconds'>, tls: { cert: Buffer; key: Buffer }, listen: { host: string; port: number }): Promise<void>;
  close(): Promise<void>;
}

/** The store the configured log implies: a table beside the embedded log, or the Kafka approvals topic. */
export async function approvalStoreFor(config: TrailgateConfig, file: string): Promise<ApprovalStore> {
  if (config.log.kind === 'kafka') {
    const { KafkaApprovalStore } = await import('../../connectors/kafka/approval-topic.js');
    return new KafkaApprovalStore(config.log.kafka!, `${config.instance ?? 'trailgate'}-${process.pid}`);
  }
  return new SqliteApprovalStore(file);
}

export async function approvalsFor(config: TrailgateConfig, instance: string, file: string, clock?: () => number): Promise<GatewayApprovals | null> {
  const settings = config.approvals;
  if (!settings) return null;
  const store = await approvalStoreFor(config, file);
  const desk = new ApprovalDesk(store, settings, instance, settings.webhook ? webhookNotifier(settings.webhook, settings.link) : undefined, clock);
  const abandoned = await desk.recoverAfterRestart();
  const approvals: GatewayApprovals = {
    store,
    desk,
    abandoned,
    jobApi: null,
    startJobApi: async (deps, tls, listen) => {
      const api = new JobApi({ ...deps, desk, maxWindowSeconds: settings.maxWindowSeconds }, tls);
      approvals.jobApi = { api, address: await api.listen(listen.host, listen.port) };
    },
    close: async () => {
      await approvals.jobApi?.api.close();
      await desk.close();
      await store.close();
    },
  };
  return approvals;
}
