import type { UnsealedSession } from '../../connectors/embedded-log/embedded-log.js';
import { SessionRecorder, type CheckpointPolicy, type ChunkPolicy } from '../gateway/recorder/session-recorder.js';
import type { LogWriter } from '../gateway/recorder/log-writer.js';

/**
 * Closes the sessions a previous run of this gateway instance left without a signed end: each gets
 * an explicit `session.aborted` record and a final signature over what reached the log, so verify
 * reports them truncated rather than whole, and nothing can be quietly appended to them later.
 */
export async function abortUnsealedSessions(unsealed: UnsealedSession[], writer: LogWriter, chunks: ChunkPolicy, checkpoints: CheckpointPolicy): Promise<string[]> {
  for (const s of unsealed) {
    const recorder = new SessionRecorder(s.context, writer, chunks, checkpoints, { seq: s.lastSeq, hash: s.lastHash });
    recorder.event('session.aborted', {
      reason: 'gateway-restart',
      lastSeq: s.lastSeq,
      detail: `gateway instance '${s.context.instance}' stopped while the session was open; records after seq ${s.lastSeq} may be lost`,
    });
  }
  await writer.flush();
  return unsealed.map((s) => s.context.sessionId);
}
