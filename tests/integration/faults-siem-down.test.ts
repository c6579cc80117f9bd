/**
 * The SIEM away for a while: the HEC stand-in (tests/services/hec-standin.ts, Splunk's documented HEC
 * protocol; not Splunk) stops answering (connections refused) while sessions are recorded, with
 * test-sized backoffs. The forwarder holds its committed position, retries, and once the stand-in is
 * back delivers every record exactly once (acknowledged by channel), and the sessions verify intact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Consumer } from '../../connectors/consumer/consumer.js';
import { embeddedConsumerPositions } from '../../connectors/embedded-log/embedded-consumer.js';
import { Metrics } from '../../services/metrics/metrics.js';
import { HecStandIn } from '../services/hec-standin.js';
import { auditTrailOfThisSuite } from '../support/audit-trail.js';
import { GatewayHarness } from '../support/gateway-harness.js';
import { eventually } from '../support/kafka-env.js';
import { delivery, embeddedSource, loggedRecords, standInSink, wholeSessions } from '../support/splunk-delivery.js';

let h: GatewayHarness;
let hec: HecStandIn;
let state: string;
let stopConsumer: () => Promise<void> = async () => undefined;

before(async () => {
  h = await GatewayHarness.start();
  hec = await HecStandIn.start();
  state = mkdtempSync(join(tmpdir(), 'trailgate-siem-down-'));
});
after(async () => {
  await stopConsumer();
  await h?.stop();
  await hec?.stop().catch(() => undefined);
  rmSync(state, { recursive: true, force: true });
});

async function sessions(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const c = await h.client();
    await c.query('select generate_series(1, 50) as n');
    await c.end();
  }
}

describe('the HEC endpoint down for a while', () => {
  it('holds the forwarder\'s position while it is down, then delivers everything once when it is back', async () => {
    const token = hec.addToken();
    const file = join(h.dataDir, 'trailgate.db');
    await sessions(2);
    await h.gateway.writer.flush();
    const { sink, lines } = standInSink(hec, token, state, { initialBackoffMs: 20, maxBackoffMs: 200 });
    const metrics = new Metrics();
    const failures: string[] = [];
    const consumer = new Consumer(embeddedSource(file, 'splunk', 20), sink, metrics, { retryMs: 50, log: (l) => failures.push(l) });
    const running = consumer.run();
    stopConsumer = async () => {
      await consumer.stop();
      await running.catch(() => undefined);
      await sink.close();
    };
    await eventually(async () => (await consumer.lag()).total === 0, 'the forwarder to catch up before the outage', 60_000);
    const before = embeddedConsumerPositions(file).find((p) => p.consumer === 'splunk')!.pos;

    await hec.stop();
    await sessions(3);
    await h.gateway.writer.flush();
    // The sink retries a refused delivery itself (backoff up to maxBackoffMs); the consumer waits for it.
    await eventually(() => lines.some((l) => / trying again in \d+ ms \(attempt 10\)/.test(l)) || failures.length > 0, 'the forwarder to fail and retry while HEC is down', 60_000);
    assert.equal(embeddedConsumerPositions(file).find((p) => p.consumer === 'splunk')!.pos, before, 'the committed position does not move past what HEC has not acknowledged');
    assert.ok((await consumer.lag()).total > 0, 'the records of the outage wait in the log');

    await hec.listenAgain();
    await eventually(async () => (await consumer.lag()).total === 0, 'the forwarder to catch up after the outage', 90_000);
    await stopConsumer();
    stopConsumer = async () => undefined;

    const result = delivery(hec, loggedRecords(file));
    assert.deepEqual(result.missing, [], 'nothing lost');
    assert.deepEqual([...result.duplicates.keys()], [], 'nothing doubled');
    assert.equal(wholeSessions(hec).size, 5, 'every session arrived whole');
  });
});

auditTrailOfThisSuite(() => h, { minSessions: 5 });
