import { join } from 'node:path';
import { DeadLetterFile } from '../indexer/dead-letters.js';
import { readEmbeddedLog } from '../indexer/embedded-log-source.js';
import { deliver } from '../indexer/indexer.js';
import { searchSinkFor } from '../indexer/search-connection.js';
import { cliConfig } from './cli-config.js';
import { openLogForReading } from './open-log.js';
import { configuredSearch } from './search-command.js';

/** One pass over the embedded log into the search cluster; safe to repeat (documents have the record ids). */
export async function runIndex(configFile: string | undefined): Promise<void> {
  const config = cliConfig(configFile);
  const search = configuredSearch(config);
  const log = openLogForReading(config);
  const sink = searchSinkFor(search);
  const deadLetters = new DeadLetterFile(join(config.dataDir, 'dead-letters', `${sink.name}.jsonl`));
  try {
    const installed = await sink.install();
    if (installed.lifecycle === 'unavailable') console.error(`trailgate: the cluster has no lifecycle plugin (ISM/ILM); ${installed.dataStream} keeps documents until they are deleted by hand`);
    const report = await deliver(sink, readEmbeddedLog(log, sink.streams), {
      batchSize: sink.preferredBatchSize,
      redeliveryDelayMs: 2000,
      giveUpAfterMs: 5 * 60_000,
      deadLetters,
      onRedelivery: (err) => console.error(`trailgate: ${err.message}`),
    });
    const s = sink.stats;
    const skipped = Object.entries(s.skipped).map(([k, n]) => `${k}=${n}`).join(' ') || 'none';
    console.log(`${installed.dataStream}: ${s.stored} stored, ${s.duplicates} already there, ${report.deadLetters} dead letters${report.deadLetters ? ` (${deadLetters.file})` : ''}, skipped: ${skipped}`);
  } finally {
    log.close();
    await sink.close();
  }
}
