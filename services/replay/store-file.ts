import { resolve } from 'node:path';
import type { TrailgateConfig } from '../config/schema.js';
import { embeddedLogFile } from '../gateway/gateway.js';

/** Where `trailgate replay` keeps its copy of a Kafka log: replay.store, or <dataDir>/replay-store.db. */
export function replayStoreFile(config: TrailgateConfig): string {
  return resolve(config.dataDir, config.replay?.store ?? 'replay-store.db');
}

/** The consumer (group) the replay store's position is kept under. */
export function replayConsumerName(config: TrailgateConfig): string {
  return config.replay?.consumer ?? 'replay';
}

/**
 * The file the read commands and the replay UI read: the embedded log on one machine, this machine's
 * replay store on Kafka. Both have the same schema, so everything downstream reads them alike.
 */
export function readableLog(config: TrailgateConfig): { file: string; kind: 'embedded' | 'replay-store' } {
  return config.log.kind === 'kafka' ? { file: replayStoreFile(config), kind: 'replay-store' } : { file: embeddedLogFile(config.dataDir), kind: 'embedded' };
}
