/**
 * A reviewer in a process of its own: reads the `<prefix>.approvals` topic, submits one review through the
 * product's reviewing code, prints the answer as JSON. Usage: <brokers> <prefix> <id> <name> <approve|reject>.
 */
import { KafkaApprovalStore } from '../../connectors/kafka/approval-topic.js';
import { submitReview } from '../../services/approvals/reviewing.js';
import { KafkaLogConfig } from '../../services/config/schema.js';

const [brokers, prefix, id, name, verdict] = process.argv.slice(2) as [string, string, string, string, 'approve' | 'reject'];
const store = new KafkaApprovalStore(KafkaLogConfig.parse({ brokers: brokers.split(','), topicPrefix: prefix, partitions: 3, replicationFactor: 1 }), `reviewer-${process.pid}`);
try {
  const answer = await submitReview(store, {}, id, { name, roles: ['approver'] }, verdict, undefined);
  process.stdout.write(JSON.stringify({ status: answer.status, code: answer.code }));
} finally {
  await store.close();
}
