import type { TrailgateConfig } from '../config/schema.js';
import { ApprovalDesk } from './approval-desk.js';
import type { ApprovalStore } from './approval-store.js';
import { SqliteApprovalStore } from './sqlite-approval-store.js';
import { webhookNotifier } from './webhook.js';

/** The gateway's approvals: the shared store and the desk that holds statements. */
export interface GatewayApprovals {
  store: ApprovalStore;
  desk: ApprovalDesk;
  /** Approvals a previous run of this instance left pending, now abandoned. */
  abandoned: string[];
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

export async function approvalsFor(config: TrailgateConfig, instance: string, file: string): Promise<GatewayApprovals | null> {
  if (!config.approvals) return null;
  const store = await approvalStoreFor(config, file);
  const desk = new ApprovalDesk(store, config.approvals, instance, config.approvals.webhook ? webhookNotifier(config.approvals.webhook, config.approvals.link) : undefined);
  const abandoned = await desk.recoverAfterRestart();
  return {
    store,
    desk,
    abandoned,
    close: async () => {
      await desk.close();
      await store.close();
    },
  };
}
