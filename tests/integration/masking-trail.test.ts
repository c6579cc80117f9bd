/**
 * The trail keeps statements, not secrets: a card number, an IBAN, a JWT and an AWS key sent through the gateway
 * to a real PostgreSQL reach the target unchanged, while the event log, the byte chunks and the transcript hold only
 * `[masked:<detector>]` markers, and no file of the data directory holds a raw value.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BytesRecord } from '../../events/index.js';
import { buildTranscript, transcriptText } from '../../services/replay/transcript.js';
import { GatewayHarness, ofType, sessionOf } from '../support/gateway-harness.js';

let h: GatewayHarness;

before(async () => {
  h = await GatewayHarness.start({ targetVariants: { 'app-trail-email': { masking: { trail: { detectors: ['email', 'card'] } } } } });
});
after(async () => {
  await h.stop();
});

function luhnComplete(body: string): string {
  for (let d = 0; d <= 9; d++) {
    const digits = body + d;
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let n = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) n = n * 2 > 9 ? n * 2 - 9 : n * 2;
      sum += n;
    }
    if (sum % 10 === 0) return digits;
  }
  throw new Error('unreachable');
}

// Fresh values per run, so finding one in the data directory can only mean this run recorded it.
const digits = (n: number): string => Array.from(randomBytes(n), (b) => String(b % 10)).join('');
const card = luhnComplete('4' + digits(14));
const cardPrinted = card.match(/.{4}/g)!.join(' ');
const ibanBban = 'WEST' + digits(14);
const ibanCheck = String(98n - (BigInt(`${ibanBban}GB00`.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55))) % 97n)).padStart(2, '0');
const iban = `GB${ibanCheck}${ibanBban}`;
const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ sub: `repo:acme/${digits(6)}`, aud: 'trailgate' })}.${randomBytes(64).toString('base64url')}`;
const awsKey = 'AKIA' + Array.from(randomBytes(16), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b % 32]).join('');
const email = `dana.${digits(6)}@example.org`;
const RAW = [card, cardPrinted, iban, jwt, awsKey];

describe('statement text and parameters go through the detectors before they are recorded', () => {
  it('forwards the values unchanged and records only markers, in events, byte chunks and the transcript', async () => {
    const admin = await h.client();
    await admin.query('create table if not exists trail_probe (id serial primary key, card text, iban text, token text, key text)');
    await admin.end();

    const client = await h.client();
    const sessionId = await sessionOf(h, client);
    await client.query(`insert into trail_probe (card, iban, token, key) values ('${cardPrinted}', '${iban}', '${jwt}', '${awsKey}')`);
    await client.query('insert into trail_probe (card, iban, token, key) values ($1, $2, $3, $4)', [card, iban, jwt, awsKey]);
    const sessionEnded = h.endedSession((ev) => ev[0]?.sessionId === sessionId);
    await client.end();
    await sessionEnded;

    const direct = await h.directSuperuser();
    const landed = await direct.query('select card, iban, token, key from trail_probe where iban = $1 order by id', [iban]);
    await direct.end();
    assert.deepEqual(landed.rows, [
      { card: cardPrinted, iban, token: jwt, key: awsKey },
      { card, iban, token: jwt, key: awsKey },
    ]);

    const records = await h.records(sessionId);
    const events = records.filter((r) => r.stream === 'events');
    const started = ofType(events, 'command.started').filter((c) => c.data.text.includes('trail_probe'));
    assert.equal(started.length, 2);
    const [simple, extended] = started;
    assert.equal(simple!.data.text, "insert into trail_probe (card, iban, token, key) values ('[masked:card]', '[masked:iban]', '[masked:jwt]', '[masked:cloud-token]')");
    assert.deepEqual(simple!.data.detectorHits, { card: 1, iban: 1, jwt: 1, 'cloud-token': 1 });
    assert.deepEqual(extended!.data.parameters, ['[masked:card]', '[masked:iban]', '[masked:jwt]', '[masked:cloud-token]']);
    assert.deepEqual(extended!.data.detectorHits, { card: 1, iban: 1, jwt: 1, 'cloud-token': 1 });

    const clientBytes = Buffer.concat(records.filter((r): r is BytesRecord => r.stream === 'bytes' && r.direction === 'client').map((r) => Buffer.from(r.data)));
    const ended = ofType(events, 'session.ended')[0]!;
    assert.equal(clientBytes.length, ended.data.bytesFromClient, 'markers keep every recorded length: the byte stream still frames');
    const recorded = clientBytes.toString('latin1');
    for (const marker of ['[masked:card]', '[masked:iban]', '[masked:jwt]', '[masked:cloud-token]']) assert.ok(recorded.includes(marker), marker);

    const transcript = transcriptText(buildTranscript(sessionId, records));
    assert.ok(transcript.includes('[masked:card]') && transcript.includes('[masked:cloud-token]'));
    for (const raw of RAW) {
      assert.ok(!recorded.includes(raw), 'a raw value in the byte chunks');
      assert.ok(!transcript.includes(raw), 'a raw value in the transcript');
      assert.ok(!JSON.stringify(events).includes(raw), 'a raw value in the events');
    }
  });

  it('leaves email alone by default and masks it where a target opts in', async () => {
    for (const [target, masked] of [['app', false], ['app-trail-email', true]] as const) {
      const client = await h.client({ target });
      const sessionId = await sessionOf(h, client);
      await client.query(`select '${masked ? email : 'nobody@example.org'}' as contact`);
      const sessionEnded = h.endedSession((ev) => ev[0]?.sessionId === sessionId);
      await client.end();
      await sessionEnded;
      const text = ofType(await h.events(sessionId), 'command.started').find((c) => c.data.text.includes('as contact'))!.data.text;
      assert.equal(text, masked ? "select '[masked:email]' as contact" : "select 'nobody@example.org' as contact");
    }
  });

  it('leaves no raw value in any file of the data directory', async () => {
    const report = await h.stopAndVerify();
    assert.equal(report.ok, true, 'the masked trail still verifies');
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else {
          const content = readFileSync(path).toString('latin1');
          for (const raw of [...RAW, email]) if (content.includes(raw)) found.push(`${path}: ${raw.slice(0, 6)}…`);
        }
      }
    };
    walk(h.dataDir);
    assert.deepEqual(found, []);
  });
});

describe('SSH exec command lines go through the detectors before they are recorded', () => {
  let sh: GatewayHarness;
  before(async () => {
    sh = await GatewayHarness.start({ ssh: true });
  });
  after(async () => {
    await sh.stop();
  });

  it('runs the command as sent and records it with the token masked', async () => {
    const token = 'ghp_' + Array.from(randomBytes(36), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62]).join('');
    const command = `printf %s ${token} | sha256sum`;
    const ended = sh.endedSession((ev) => ofType(ev, 'command.started').some((c) => c.data.protocol === 'exec'));
    const result = await sh.openssh().ssh(['web@127.0.0.1', command], { token: await sh.token() });
    assert.equal(result.code, 0);
    assert.equal(result.stdout.toString().split(' ')[0], createHash('sha256').update(token).digest('hex'), 'the target ran the token as sent');
    const started = ofType(await ended, 'command.started').find((c) => c.data.protocol === 'exec')!;
    assert.equal(started.data.text, 'printf %s [masked:vcs-token] | sha256sum');
    assert.deepEqual(started.data.detectorHits, { 'vcs-token': 1 });
  });
});
