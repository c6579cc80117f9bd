/**
 * Masked values stay out of the distributed trail too: a gateway on the Kafka log with masking rules, real
 * PostgreSQL behind it; afterwards the events and byte-chunk topics, as a consumer reads them, and the search
 * index the indexer's sink writes from them hold none of the seeded raw values. An exempt session's value is
 * the control: it is found in both, so the search can fail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { KafkaRecordSource } from '../../connectors/kafka/kafka-record-source.js';
import { SearchSink } from '../../connectors/search/sink.js';
import { KafkaLogConfig } from '../../services/config/schema.js';
import { searchService } from '../../services/indexer/search-connection.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { CollectingSink, eventually, kafkaLog } from '../support/kafka-env.js';
import { openSearchTarget, testNamespace } from '../support/search-env.js';

const RAW = { email: 'charles.babbage@difference.example', card: '5555555555554444', note: 'analytical-engine-ledger-31' };
/** Read raw by the exempt session, and named in its statement, so it must reach both the topics and the index. */
const CONTROL = 'ada.byron@engine.example';

const log = kafkaLog();
let h: GatewayHarness;

before(async () => {
  h = await GatewayHarness.start({
    instance: 'gw-masking-sinks',
    log,
    targetVariants: {
      masked: {
        masking: {
          unattributed: 'deny',
          exemptRules: ['breakglass'],
          rules: [
            { match: 'masksink.users.email', strategy: 'partial', keepLast: 4 },
            { match: 'masksink.users.card', strategy: 'hmac' },
            { match: 'masksink.users.note', strategy: 'redact' },
          ],
        },
      },
    },
    rules: [
      { name: 'tests-all', issuers: ['dev'], subject: '**', targets: ['*'], rights: ['all'] },
      { name: 'breakglass', issuers: ['dev'], repository: 'acme/dba', targets: ['masked'], rights: ['read'] },
    ],
  });
  const admin = await h.directSuperuser();
  await admin.query(`
    drop schema if exists masksink cascade;
    create schema masksink;
    create table masksink.users (id int primary key, email text, card text, note text);
    insert into masksink.users values (1, '${RAW.email}', '${RAW.card}', '${RAW.note}'), (2, '${CONTROL}', '4000000000000002', 'control');
    grant usage on schema masksink to trailgate_app;
    grant select on all tables in schema masksink to trailgate_app;`);
  await admin.end();
});

after(async () => {
  const admin = await h.directSuperuser();
  await admin.query('drop schema if exists masksink cascade');
  await admin.end();
  await h.stop();
});

describe('masked values in the distributed trail', () => {
  it('reach neither the Kafka topics nor the search index, while an exempt session\'s value reaches both', async () => {
    const masked = await h.client({ target: 'masked' });
    const simple = (await masked.query('select id, email, card, note from masksink.users where id = 1')).rows[0];
    const extended = (await masked.query('select email, card from masksink.users where id = $1', [1])).rows[0];
    await masked.end();
    assert.notEqual(simple.email, RAW.email, 'the client got the email masked');
    assert.notEqual(extended.card, RAW.card, 'and the card');

    const exempt = await h.client({ target: 'masked', token: await h.token({ repository: 'acme/dba' }) });
    const raw = (await exempt.query(`select email from masksink.users where email = '${CONTROL}'`)).rows[0];
    await exempt.end();
    assert.equal(raw.email, CONTROL, 'the exempt session reads raw data');

    await eventually(() => h.gateway.postgres.activeSessions === 0, 'both sessions to end');
    await h.gateway.writer.flush();
    await h.gateway.kafka!.drained(120_000);

    // The topics as any consumer reads them: events and byte chunks.
    const sink = new CollectingSink('masking-audit');
    const consumer = new Consumer(await KafkaRecordSource.create(KafkaLogConfig.parse(log.kafka), sink, 200), sink, new Metrics());
    const running = consumer.run();
    try {
      // Events and byte chunks are separate topics, read side by side: wait for each session's whole sequence.
      await eventually(() => {
        const read = [...sink.records.values()];
        const ended = read.filter((r) => r.type === 'session.ended');
        return ended.length >= 2 && ended.every((end) => read.filter((r) => r.sessionId === end.sessionId).length === Math.max(...read.filter((r) => r.sessionId === end.sessionId).map((r) => r.seq)));
      }, 'both sessions, every record of each, at the consumer');
    } finally {
      await consumer.stop();
      await running.catch(() => undefined);
    }
    const records = [...sink.records.values()];
    assert.ok(records.some((r) => r.stream === 'bytes'), 'byte chunks were read too');
    const topics = Buffer.concat(records.map((r) => (r.stream === 'bytes' ? r.data : Buffer.from(JSON.stringify(r)))));
    assert.deepEqual(Object.values(RAW).filter((v) => topics.includes(v)), [], 'no raw value on the topics');
    assert.ok(topics.includes(CONTROL), 'the control is on the topics');

    // The search index, written by the indexer's sink from those records.
    const connection = openSearchTarget().connection;
    const service = searchService(connection);
    try {
      const index = new SearchSink(service, { namespace: testNamespace('masking'), replicas: 0 });
      await index.write(records);
      await service.refresh(index.dataStream);
      const res = await fetch(`${String(connection.url).replace(/\/$/, '')}/${index.dataStream}/_search?size=1000`);
      assert.equal(res.status, 200);
      const documents = await res.text();
      assert.ok(JSON.parse(documents).hits.hits.length >= records.filter((r) => r.stream === 'events').length, 'every event was indexed');
      assert.deepEqual(Object.values(RAW).filter((v) => documents.includes(v)), [], 'no raw value in the index');
      assert.ok(documents.includes(CONTROL), 'the control is in the index');
    } finally {
      await service.close();
    }
  });
});
