import type { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import type { AuditRecord } from '../../events/index.js';

/**
 * The records a sink asks for, read straight from the embedded log: session by session, each in
 * its own order. A stand-in until the consumer framework (positions, dead-letter place, both logs)
 * drives sinks; it has no position of its own, which idempotent sinks can afford.
 */
export function readEmbeddedLog(log: EmbeddedLog, streams: readonly AuditRecord['stream'][], sessionLimit = 1_000_000): AuditRecord[] {
  const wanted = streams.length === 1 ? streams[0] : undefined;
  const records: AuditRecord[] = [];
  for (const s of log.listSessions(sessionLimit).reverse()) {
    for (const r of log.readSession(s.sessionId, wanted)) if (streams.includes(r.stream)) records.push(r);
  }
  return records;
}
