/**
 * Writes an embedded log of N recorded sessions (a few commands each, signed end) for the CLI
 * start-up benchmark: `node --import tsx bench/cli-sessions-log.ts <dataDir> [sessions]`.
 */
import { join } from 'node:path';
import { EmbeddedLog, type PendingRecord } from '../connectors/embedded-log/embedded-log.js';
import { SCHEMA_VERSION, newSessionId, recordHash, type SessionContext } from '../events/index.js';
import { SAMPLE_DATA, syntheticIdentity } from '../tests/support/synthetic-records.js';

const [dataDir = 'bench/.work/cli-sessions', countArg = '10000'] = process.argv.slice(2);
const count = Number(countArg);
const log = new EmbeddedLog(join(dataDir, 'trailgate.db'), { synchronous: 'normal' });
const types = ['session.started', 'auth.decided', 'policy.decided', 'target.connected', 'command.started', 'command.completed', 'command.started', 'command.completed', 'session.ended', 'checkpoint.signed'] as const;
const start = Date.parse('2026-12-01T00:00:00Z');
for (let done = 0; done < count; ) {
  const sessions: SessionContext[] = [];
  const records: PendingRecord[] = [];
  for (let i = 0; i < 500 && done < count; i++, done++) {
    const sessionId = newSessionId();
    const identity = syntheticIdentity({ runId: String(1000 + done) });
    sessions.push({ sessionId, instance: 'bench', protocol: 'postgres', target: { name: 'app', kind: 'postgres' }, identity, client: { address: '127.0.0.1', port: 40000 + (done % 20000) } });
    let prev = '';
    types.forEach((type, k) => {
      const ts = new Date(start + done * 1000 + k).toISOString();
      const data = type === 'checkpoint.signed' ? { ...SAMPLE_DATA[type], final: true } : SAMPLE_DATA[type];
      const hash = recordHash(prev, { v: SCHEMA_VERSION, sessionId, seq: k + 1, ts, stream: 'events', type, data });
      records.push({ sessionId, seq: k + 1, ts, stream: 'events', type, data, prev, hash });
      prev = hash;
    });
  }
  log.writeBatch(sessions, records);
}
log.close();
console.log(`wrote ${count} sessions to ${join(dataDir, 'trailgate.db')}`);
