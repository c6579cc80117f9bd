import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';

/**
 * kafkajs 2.2.4 asks the cluster which broker coordinates before every transactional request
 * (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn) and before each TxnOffsetCommit: four FindCoordinator
 * round trips in a drained transaction that needs five others. This remembers each answer for a
 * minute on the clusters one client makes, and forgets it when a lookup fails or when the caller
 * says so (the drainer does after any failed transaction, so a coordinator that moved costs one
 * failed attempt); kafkajs still connects to the broker it names (and reconnects) as before.
 *
 * It reaches into kafkajs' private cluster factory, so it applies only to the version it was written
 * for (kafkajs is pinned and unmaintained); any other version keeps kafkajs' own behaviour.
 */
export interface CoordinatorMemory {
  /** Forgets every remembered coordinator (after a failed transaction: one may have moved). */
  forget(): void;
}

const VERSION = '2.2.4';
const FACTORY = 'private:Kafka:createCluster';

interface ClusterLike {
  findGroupCoordinatorMetadata(q: { groupId: string; coordinatorType?: number }): Promise<unknown>;
}

export function rememberCoordinators(kafka: Kafka, ttlMs = 60_000): CoordinatorMemory {
  const clusters = new Set<Map<string, { at: number; answer: Promise<unknown> }>>();
  const memory = { forget: () => clusters.forEach((known) => known.clear()) };
  const version = (createRequire(import.meta.url)('kafkajs/package.json') as { version: string }).version;
  const client = kafka as unknown as Record<symbol, unknown>;
  const factory = Object.getOwnPropertySymbols(client).find((s) => s.description === FACTORY);
  const create = factory === undefined ? undefined : client[factory];
  if (factory === undefined || version !== VERSION || typeof create !== 'function') return memory;
  client[factory] = (...args: unknown[]) => {
    const cluster = (create as (...a: unknown[]) => ClusterLike)(...args);
    const original = cluster.findGroupCoordinatorMetadata as ClusterLike['findGroupCoordinatorMetadata'] | undefined;
    if (typeof original !== 'function') return cluster;
    const lookup = original.bind(cluster);
    const known = new Map<string, { at: number; answer: Promise<unknown> }>();
    // Each producer and admin client makes its own cluster: keep the newest few.
    if (clusters.size >= 16) clusters.delete(clusters.values().next().value!);
    clusters.add(known);
    cluster.findGroupCoordinatorMetadata = (q) => {
      const key = `${q.coordinatorType ?? 0}\0${q.groupId}`;
      const hit = known.get(key);
      if (hit && Date.now() - hit.at < ttlMs) return hit.answer;
      const answer = lookup(q);
      known.set(key, { at: Date.now(), answer });
      answer.catch(() => {
        if (known.get(key)?.answer === answer) known.delete(key);
      });
      return answer;
    };
    return cluster;
  };
  return memory;
}
