/**
 * Notifications: the gateway posts each approval request and decision to a webhook, signed with
 * HMAC-SHA256 over `<timestamp>.<body>`, and retries after a failed delivery. The receiver here checks the
 * signature as a user's receiver would. Slack's incoming webhook cannot run here: its message is checked
 * against Slack's documented shape (text + mrkdwn section block).
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GatewayHarness } from '../support/gateway-harness.js';
import { approvalIdIn, review, reviewerServer } from '../support/approvals.js';
import { webhookBody } from '../../services/approvals/webhook.js';
import type { Approval } from '../../services/approvals/approval.js';

const SECRET = 'webhook-secret-for-tests';
process.env.TG_TEST_WEBHOOK_SECRET = SECRET;

interface Delivery {
  body: string;
  timestamp: string;
  signature: string;
}

let h: GatewayHarness;
let reviewers: Awaited<ReturnType<typeof reviewerServer>>;
let receiver: http.Server;
let attempts = 0;
const delivered: Delivery[] = [];
let onDelivery: (() => void) | null = null;

before(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      attempts++;
      // The first delivery fails: the gateway must retry it.
      if (attempts === 1) {
        res.writeHead(500).end();
        return;
      }
      delivered.push({ body, timestamp: String(req.headers['x-trailgate-timestamp']), signature: String(req.headers['x-trailgate-signature']) });
      res.writeHead(204).end();
      onDelivery?.();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  h = await GatewayHarness.start({
    targetVariants: { 'app-held': {} },
    approvals: {
      pollMillis: 20,
      link: 'https://trailgate.example',
      webhook: { url, secret: { env: 'TG_TEST_WEBHOOK_SECRET' }, retries: 3, backoffMillis: 20 },
      rules: [{ name: 'ddl', targets: ['app-held'], classes: ['ddl'], quorum: 1, heartbeatSeconds: 5, timeoutSeconds: 60 }],
    },
  });
  reviewers = await reviewerServer(h.dataDir, {});
});

after(async () => {
  await reviewers?.close();
  await h?.stop();
  receiver?.close();
});

function deliveries(n: number): Promise<void> {
  if (delivered.length >= n) return Promise.resolve();
  return new Promise((resolve) => (onDelivery = () => delivered.length >= n && resolve()));
}

/** What a receiver does: recompute the HMAC over timestamp and raw body, compare in constant time. */
function signatureValid(d: Delivery): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(`${d.timestamp}.${d.body}`).digest('hex')}`);
  const got = Buffer.from(d.signature);
  return expected.length === got.length && timingSafeEqual(expected, got);
}

describe('approval webhook', () => {
  it('posts the request and the decision, signed, retrying a failed delivery', async () => {
    const client = await h.client({ target: 'app-held' });
    let noticed!: (id: string) => void;
    const firstNotice = new Promise<string>((r) => (noticed = r));
    client.on('notice', (n) => /required by rule/.test(n.message ?? '') && noticed(approvalIdIn(n.message!)));
    const held = client.query('create table if not exists apr_webhook (id int)');
    const id = await firstNotice;
    await deliveries(1);
    const requested = JSON.parse(delivered[0]!.body) as { event: string; approval: Approval; url: string };
    assert.equal(requested.event, 'approval.requested');
    assert.equal(requested.approval.id, id);
    assert.equal(requested.url, `https://trailgate.example/approvals/${id}`);
    assert.equal((requested.approval as unknown as Record<string, unknown>).identity, undefined, 'claims stay in the UI, not in the notification');
    assert.ok(signatureValid(delivered[0]!));
    assert.equal(attempts, 2, 'the first attempt failed with 500 and was retried');
    assert.equal(signatureValid({ ...delivered[0]!, body: delivered[0]!.body.replace('approval.requested', 'approval.decided') }), false, 'a changed body fails the check');

    assert.equal((await review(reviewers.url, 'alice', id, 'approve')).status, 200);
    await held;
    await deliveries(2);
    const decided = JSON.parse(delivered[1]!.body) as { event: string; approval: Approval };
    assert.equal(decided.event, 'approval.decided');
    assert.equal(decided.approval.state, 'approved');
    assert.deepEqual(decided.approval.deciders, ['alice']);
    assert.ok(signatureValid(delivered[1]!));
    await client.end();
    const admin = await h.directSuperuser();
    await admin.query('drop table apr_webhook');
    await admin.end();
  });

  it('builds a Slack incoming-webhook message that links to the UI', () => {
    const a = { id: 'apr_x1', rule: 'ddl', target: 'app', kind: 'statement', text: 'alter table t add c int', textSha256: '0'.repeat(64), run: { repository: 'acme/api', runId: '7', runAttempt: '1', actor: 'octocat' }, quorum: 2, state: 'pending', deciders: [] } as unknown as Approval;
    const slack = JSON.parse(webhookBody('requested', a, 'slack', 'https://trailgate.example/')) as { text: string; blocks: { type: string; text: { type: string; text: string } }[] };
    assert.match(slack.text, /Approval needed on \*app\* \(rule ddl, 2 approvers\)/);
    assert.match(slack.text, /<https:\/\/trailgate\.example\/approvals\/apr_x1\|Review in Trailgate>/);
    assert.equal(slack.blocks[0]!.type, 'section');
    assert.equal(slack.blocks[0]!.text.type, 'mrkdwn');
  });
});
