/** The Splunk sink's pure parts: the documented configuration, field limits, the HEC code table, batching. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { limitField } from '../../connectors/siem/field-limit.js';
import { SplunkConfig } from '../../connectors/splunk/config.js';
import { encodeEvent, type HecEvent } from '../../connectors/splunk/encoder.js';
import { bisect, buildBatches } from '../../connectors/splunk/request-builder.js';
import { backoffMs, hecVerdict } from '../../connectors/splunk/retry.js';
import { validateConfig } from '../../services/config/load.js';
import { syntheticSession } from '../support/synthetic-records.js';

describe('Splunk sink', () => {
  it('the splunk section documented in trailgate.yaml is valid configuration', () => {
    const lines = readFileSync(resolve(import.meta.dirname, '../../trailgate.yaml'), 'utf8').split('\n');
    const start = lines.indexOf('# splunk:');
    assert.ok(start > 0, 'trailgate.yaml documents a splunk section');
    const block = [];
    for (const line of lines.slice(start)) {
      if (!line.startsWith('#')) break;
      block.push(line.replace(/^# ?/, ''));
    }
    const section = parse(block.join('\n')) as { splunk: unknown };
    const parsed = SplunkConfig.parse(section.splunk);
    assert.equal(parsed.ack, 'required');
    assert.equal(validateConfig({ splunk: section.splunk }).splunk?.sourcetype, 'trailgate:audit');
    assert.throws(() => validateConfig({ splunk: { url: 'https://s:8088', token: 't', ack: 'sometimes' } }), /splunk\.ack/);
    assert.throws(() => validateConfig({ splunk: { url: 'https://s:8088' } }), /splunk\.token/);
  });

  it('cuts a value on a character boundary and keeps the digest of the whole', () => {
    const value = `${'a'.repeat(9)}é${'b'.repeat(20)}`;
    const cut = limitField(value, 10);
    assert.equal(cut.value, 'a'.repeat(9));
    assert.equal(cut.truncated, true);
    assert.equal(cut.sha256, createHash('sha256').update(value).digest('hex'));
    assert.deepEqual(limitField('short', 10), { value: 'short', truncated: false });
  });

  it('answers each HEC code by its class', () => {
    const v = (status: number, code?: number) => hecVerdict({ status, ...(code === undefined ? {} : { code }) }).kind;
    assert.equal(v(200, 0), 'ok');
    for (const [s, c] of [[403, 1], [401, 2], [401, 3], [403, 4], [400, 7], [400, 10], [400, 11], [400, 16]] as const) assert.equal(v(s, c), 'fatal', `code ${c}`);
    for (const [s, c] of [[500, 8], [503, 9], [503, 18], [503, 19], [503, 20], [429, undefined], [408, undefined], [502, undefined]] as const) assert.equal(v(s, c), 'retry', `HTTP ${s} code ${c}`);
    for (const c of [5, 6, 12, 13, 15]) assert.equal(v(400, c), 'poison', `code ${c}`);
    assert.equal(v(400, 14), 'ack-disabled');
    assert.equal(v(413), 'too-large');
    assert.equal(v(404), 'fatal');
    assert.match(hecVerdict({ status: 403, code: 1, text: 'Token disabled' }).kind === 'fatal' ? (hecVerdict({ status: 403, code: 1, text: 'Token disabled' }) as { code: string }).code : '', /TG_SPLUNK_TOKEN_DISABLED/);
    assert.equal(backoffMs(3, 100, 10_000, 1000), 1000, 'Retry-After wins');
    assert.ok(backoffMs(3, 100, 10_000) <= 400 && backoffMs(3, 100, 10_000) >= 200);
  });

  it('bounds batches by bytes and bisects around the invalid event number', () => {
    const events = syntheticSession().map((r) => (encodeEvent(r, { source: 's', sourcetype: 'trailgate:audit', maxFieldBytes: 65536, maxEventBytes: 1e6 }) as { event: HecEvent }).event);
    const max = Math.max(...events.map((e) => e.bytes)) * 3;
    const batches = buildBatches(events, max);
    assert.ok(batches.length > 1);
    assert.ok(batches.every((b) => b.events.reduce((n, e) => n + e.bytes, 0) <= max));
    assert.deepEqual(batches.flatMap((b) => b.events.map((e) => e.record.seq)), events.map((e) => e.record.seq));
    const all = { events, resends: 0 };
    assert.deepEqual(bisect(all, 4).map((p) => p.events.length), [4, 1, events.length - 5]);
    assert.deepEqual(bisect(all, undefined).map((p) => p.events.length), [Math.ceil(events.length / 2), Math.floor(events.length / 2)]);
  });
});
