/**
 * A real gateway in front of the real PostgreSQL receives a few hundred fuzzed startup packets and
 * fuzzed message streams on raw sockets, while a bystander session keeps running queries through it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type pg from 'pg';
import { loadCorpus, mutatedSeeds } from '../fuzz/mutate.js';
import { targetNamed } from '../fuzz/targets.js';
import { GatewayHarness } from '../support/gateway-harness.js';

const STARTUP_INPUTS = 200;
const STREAM_INPUTS = 150;
const BATCH = 25;
const SEED = 20261201;

let h: GatewayHarness;
let bystander: pg.Client;

before(async () => {
  h = await GatewayHarness.start({ maxMessageBytes: 64 * 1024 });
  bystander = await h.client();
});
after(async () => {
  await bystander?.end().catch(() => undefined);
  await h?.stop();
});

function inputs(target: string, n: number): Buffer[] {
  const t = targetNamed(target);
  const seeds = loadCorpus(target).map((s) => s.bytes);
  return fc.sample(fc.oneof(t.structured, mutatedSeeds(seeds)), { numRuns: n, seed: SEED });
}

const i32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32BE(v); return b; };
const cstr = (s: string) => Buffer.from(`${s}\0`);

/** A startup for the `app` target and the password message carrying a fresh token, as psql sends them. */
function signIn(token: string): Buffer {
  const params = Buffer.concat([cstr('user'), cstr('ci'), cstr('database'), cstr('app'), Buffer.from([0])]);
  const startup = Buffer.concat([i32(8 + params.length), i32(196608), params]);
  const pw = cstr(token);
  return Buffer.concat([startup, Buffer.from('p'), i32(4 + pw.length), pw]);
}

/** Sends the bytes, closes our side, and resolves once the gateway has closed too (or after a bound, destroying it). */
function hurl(bytes: Buffer): Promise<'closed' | 'left-open'> {
  return new Promise((resolve) => {
    const socket = net.connect(h.port, '127.0.0.1');
    const bound = setTimeout(() => {
      socket.destroy();
      resolve('left-open');
    }, 20_000);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.on('close', () => {
      clearTimeout(bound);
      resolve('closed');
    });
    socket.on('connect', () => socket.end(bytes));
  });
}

async function bystanderWorks(step: string): Promise<void> {
  const r = await bystander.query('SELECT $1::text AS step, count(*)::int AS n FROM generate_series(1, 100)', [step]);
  assert.deepEqual(r.rows, [{ step, n: 100 }], `bystander query ${step}`);
}

async function fuzzBatches(streams: Buffer[]): Promise<Record<string, number>> {
  const outcomes: Record<string, number> = { closed: 0, 'left-open': 0 };
  for (let i = 0; i < streams.length; i += BATCH) {
    const batch = streams.slice(i, i + BATCH).map((s) => hurl(s));
    // The bystander queries while the batch's connections are open.
    await bystanderWorks(`during ${i}`);
    for (const o of await Promise.all(batch)) outcomes[o]!++;
  }
  return outcomes;
}

describe('a gateway under fuzzing', () => {
  test('keeps serving a bystander session through fuzzed startup packets and message streams', async () => {
    await bystanderWorks('before');
    const startup = await fuzzBatches(inputs('startup-packet', STARTUP_INPUTS));
    const streams: Buffer[] = [];
    for (const body of inputs('frontend-messages', STREAM_INPUTS)) streams.push(Buffer.concat([signIn(await h.token()), body]));
    const signedIn = await fuzzBatches(streams);
    await bystanderWorks('after');
    assert.equal(startup.closed, STARTUP_INPUTS, 'the gateway closed every fuzzed startup connection once the client had gone');
    assert.equal(signedIn.closed, STREAM_INPUTS, 'the gateway closed every fuzzed session once the client had gone');

    // New sessions are still accepted, and everything recorded verifies.
    const late = await h.client();
    assert.equal((await late.query('SELECT 1 AS one')).rows[0].one, 1);
    await late.end();
    await bystander.end();
    const report = await h.stopAndVerify();
    const bad = report.sessions.filter((s) => s.status !== 'intact');
    assert.deepEqual(bad, [], 'every recording of the fuzzed sessions verifies');
    // Every signed-in stream became a recorded session, besides the bystander and the late one.
    assert.ok(report.sessions.length >= STREAM_INPUTS + 2, `${report.sessions.length} sessions recorded`);
  });
});
