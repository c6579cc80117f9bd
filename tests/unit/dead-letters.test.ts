/** Dead letters, until the consumer framework's place: one JSON line each, the whole record kept. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AuditRecord } from '../../events/index.js';
import { DeadLetterFile } from '../../services/indexer/dead-letters.js';
import { syntheticRecord } from '../support/synthetic-records.js';

describe('dead-letter file', () => {
  it('appends one line per refused record with its code, message and the record itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-dead-'));
    try {
      const file = new DeadLetterFile(join(dir, 'dead-letters', 'search-opensearch.jsonl'));
      const event = syntheticRecord('s', 1, 'cancel.requested', { forwarded: true });
      const bytes = { ...syntheticRecord('s', 2, 'cancel.requested', { forwarded: true }), stream: 'bytes', type: 'bytes', direction: 'server', offset: 0, data: Buffer.from([0, 1, 2]) } as unknown as AuditRecord;
      await file.put('search-opensearch', [{ record: event, code: 'TG_SEARCH_DOCUMENT_REJECTED', message: 'no' }]);
      await file.put('search-opensearch', []);
      await file.put('search-opensearch', [{ record: bytes, code: 'TG_SEARCH_DOCUMENT_TOO_LARGE', message: 'too big' }]);
      const lines = readFileSync(file.file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { sink: string; code: string; record: { id: string; data: unknown } });
      assert.deepEqual(lines.map((l) => [l.sink, l.code, l.record.id]), [['search-opensearch', 'TG_SEARCH_DOCUMENT_REJECTED', 's:1'], ['search-opensearch', 'TG_SEARCH_DOCUMENT_TOO_LARGE', 's:2']]);
      assert.deepEqual(lines[1]!.record.data, { base64: 'AAEC' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
