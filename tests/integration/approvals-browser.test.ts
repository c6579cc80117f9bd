/**
 * The approver's queue in Chromium: a held statement shows with its text, parameters-free digest, the run's
 * claims and the target; the Approve button releases it in the gateway, and nothing recorded runs as script.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type pg from 'pg';
import { GatewayHarness } from '../support/gateway-harness.js';
import { launchChromium, signIn, watchedPage } from '../support/browser.js';
import { REVIEWERS, approvalIdIn, reviewerServer } from '../support/approvals.js';

let h: GatewayHarness;
let reviewers: Awaited<ReturnType<typeof reviewerServer>>;
let browser: Browser;
let admin: pg.Client;

before(async () => {
  h = await GatewayHarness.start({
    targetVariants: { 'app-held': {} },
    approvals: { pollMillis: 20, rules: [{ name: 'ddl-needs-a-person', targets: ['app-held'], classes: ['ddl'], quorum: 1, heartbeatSeconds: 5, timeoutSeconds: 120 }] },
  });
  reviewers = await reviewerServer(h.dataDir, {});
  admin = await h.directSuperuser();
  await admin.query('drop table if exists apr_from_browser');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await admin?.query('drop table if exists apr_from_browser').catch(() => undefined);
  await admin?.end();
  await reviewers?.close();
  await h?.stop();
});

describe('approvals in the replay UI (Chromium)', () => {
  it('shows the held statement with the run and approves it from the page', async () => {
    const client = await h.client({ target: 'app-held', token: await h.token({ actor: `<img src=x onerror="__pwned('actor')">` }) });
    let noticed!: (id: string) => void;
    const firstNotice = new Promise<string>((r) => (noticed = r));
    client.on('notice', (n) => /required by rule/.test(n.message ?? '') && noticed(approvalIdIn(n.message!)));
    const held = client.query(`create table apr_from_browser (id int) /* <script>__pwned('statement')</script> */`);
    const id = await firstNotice;

    const { page, incidents } = await watchedPage(browser);
    await signIn(page, reviewers.url, REVIEWERS.alice, '/approvals');
    const row = page.locator(`tr.approval[data-id="${id}"]`);
    assert.equal(await row.getAttribute('data-state'), 'pending');
    await row.locator('a').click();
    await page.waitForURL(`**/approvals/${id}`);
    assert.match((await page.textContent('#statement')) ?? '', /create table apr_from_browser .*<script>__pwned\('statement'\)<\/script>/);
    assert.equal(await page.textContent('#target'), 'app-held');
    assert.match((await page.textContent('#claims')) ?? '', /actor<img src=x onerror="__pwned\('actor'\)">/);
    assert.equal(await page.locator('#approve').count(), 1);
    assert.equal((await admin.query("select to_regclass('apr_from_browser') as t")).rows[0].t, null);

    await page.fill('#reason', 'looks right');
    await Promise.all([page.waitForURL(`**/approvals/${id}/review`), page.click('#approve')]);
    assert.match((await page.textContent('#notice')) ?? '', /approval by alice recorded/);
    await held;
    assert.notEqual((await admin.query("select to_regclass('apr_from_browser') as t")).rows[0].t, null);

    await page.goto(`${reviewers.url}/approvals/${id}`);
    assert.equal(await page.textContent('#state'), 'approved');
    assert.match((await page.textContent('#reviews')) ?? '', /alice: approve · looks right/);
    assert.equal(await page.locator('#approve').count(), 0, 'no buttons once decided');
    assert.deepEqual(incidents, []);
    await client.end();
  });
});
