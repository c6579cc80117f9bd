import type { KafkaLogConfig } from '../../services/config/schema.js';
import { createKafka } from './kafka-client.js';

interface GroupResult {
  groupId: string;
  errorCode?: number | string;
  error?: { message?: string; code?: number; type?: string } | null;
}

/**
 * Forgets the committed positions of consumer groups, so a consumer whose own store is new starts at
 * the beginning of the log (a replay store deleted to be rebuilt would otherwise start where the old
 * one stopped, and stay empty). A group that is in use by another process is refused, not reset.
 */
export async function resetConsumerGroups(config: KafkaLogConfig, groups: string[]): Promise<void> {
  const kafka = await createKafka(config, 'group-reset');
  const admin = kafka.admin();
  await admin.connect();
  try {
    let results: GroupResult[];
    try {
      results = (await admin.deleteGroups(groups)) as GroupResult[];
    } catch (err) {
      // Some clients throw with the per-group results attached.
      const attached = (err as { groups?: GroupResult[] }).groups;
      if (!attached) throw err;
      results = attached;
    }
    for (const r of results) {
      const code = r.error?.code ?? r.errorCode;
      const what = `${r.error?.type ?? ''} ${r.error?.message ?? ''}`;
      if (code === undefined || code === 0 || code === 'NONE' || (!r.error && typeof code !== 'number')) continue;
      if (code === 69 || /GROUP_ID_NOT_FOUND|not found|does not exist/i.test(what)) continue;
      if (code === 68 || /NON_EMPTY_GROUP|not empty/i.test(what)) {
        throw Object.assign(new Error(`consumer group ${r.groupId} is in use by another process; give each replay store its own replay.consumer`), { code: 'TG_REPLAY_CONSUMER_IN_USE' });
      }
      throw Object.assign(new Error(`could not reset consumer group ${r.groupId}: ${what.trim() || String(code)}`), { code: 'TG_KAFKA_GROUP_RESET' });
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
