import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { GatewayHarness, sessionOf } from '../support/gateway-harness.js';
import { launchChromium, signIn, watchedPage } from '../support/browser.js';
import { startReplay, type ReplayHarness } from '../support/replay-harness.js';
import { sshIdentity, sshSessionRecords, writeSshSession } from '../support/ssh-recording.js';

/** Every one of these calls window.__pwned if it ever runs; recorded content must stay text. */
const INJECTIONS = [
  `<script>__pwned('script')</script>`,
  `"><img src=x onerror="__pwned('img')">`,
  `'><svg onload=__pwned('svg')>`,
  `<iframe srcdoc="<script>parent.__pwned('iframe')</script>"></iframe>`,
  `javascript:__pwned('url')`,
  `</pre></td></tr></table><script>__pwned('break-out')</script>`,
];

/** Waits for a condition that an event sets, bounded: 10 s, then the assertion after it fails. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('replay UI in Chromium', () => {
  let h: GatewayHarness;
  let r: ReplayHarness;
  let browser: Browser;
  let pgSession: string;
  let hostilePg: string;
  let sshSession: string;
  let hostileSsh: string;
  const marker = `tg_browser_${Date.now()}`;

  before(async () => {
    h = await GatewayHarness.start();
    const client = await h.client();
    pgSession = await sessionOf(h, client);
    await client.query(`select $1::text as ${marker}`, ['param-for-browser']);
    let ended = h.endedSession((e) => e[0]?.sessionId === pgSession);
    await client.end();
    await ended;

    const hostile = await h.client({ token: await h.token({ actor: INJECTIONS[1]!, workflow: INJECTIONS[0]!, claims: { job_workflow_ref: INJECTIONS[3]! } }) });
    hostilePg = await sessionOf(h, hostile);
    await hostile.query(`select $1::text as "${INJECTIONS[1]!.replace(/"/g, '')}", $tg$${INJECTIONS[0]}$tg$ as x`, [INJECTIONS[2]]);
    await hostile.query(`select * from "${INJECTIONS[5]}"`).catch(() => undefined);
    await hostile.query(`select 1 /* ${INJECTIONS[3]} */`);
    ended = h.endedSession((e) => e[0]?.sessionId === hostilePg);
    await hostile.end();
    await ended;

    sshSession = writeSshSession(
      h.gateway.log.file,
      sshSessionRecords([
        { at: 10, open: { channel: 0, cols: 80, rows: 10, term: 'xterm' } },
        { at: 20, command: './deploy.sh --prod' },
        { at: 30, output: '\x1b[1;32mDeployment finished ✔\x1b[0m\r\n$ ' },
      ]),
    );
    hostileSsh = writeSshSession(
      h.gateway.log.file,
      sshSessionRecords(
        [
          { at: 10, open: { channel: 0, cols: 80, rows: 24, term: INJECTIONS[1]! } },
          ...INJECTIONS.map((text, i) => ({ at: 20 + i * 10, command: text })),
          ...INJECTIONS.map((text, i) => ({ at: 25 + i * 10, output: `${text}\r\n` })),
          { at: 100, output: `\x1b]0;${INJECTIONS[1]}\x07\x1b]8;;javascript:__pwned('osc8')\x1b\\link\x1b]8;;\x1b\\\r\n` },
          { at: 110, event: 'approval.granted', data: { approver: INJECTIONS[0], reason: INJECTIONS[2] } },
        ],
        { identity: sshIdentity(INJECTIONS[4]!), target: INJECTIONS[2]! },
      ),
    );
    r = await startReplay(h);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await r?.stop();
    await h?.stop();
  });

  it('signs in, finds a session by search, reads its transcript and plays a cast', async () => {
    const { page, context, incidents } = await watchedPage(browser);
    try {
      await page.goto(`${r.url}/`);
      assert.match(new URL(page.url()).pathname, /^\/login/);
      await signIn(page, r.url, r.tokens.viewer);
      await page.fill('input[name=q]', marker);
      await Promise.all([page.waitForURL(/q=/), page.click('#search')]);
      const links = page.locator('#sessions a.session-link');
      assert.deepEqual(await links.allTextContents(), [pgSession]);
      await Promise.all([page.waitForURL(`**/sessions/${pgSession}`), links.first().click()]);
      const transcript = page.locator('#transcript');
      assert.match(await transcript.innerText(), new RegExp(`select \\$1::text as ${marker}`));
      assert.match(await transcript.innerText(), /\$1 = 'param-for-browser'/);
      assert.match(await transcript.innerText(), /Decision: allowed/);
      assert.match(await page.locator('#identity').innerText(), /acme\/payments/);
      assert.match(await page.locator('#integrity').innerText(), /ok intact/);
      // The same player steps through the SQL session.
      await page.waitForSelector('#player[data-state=ready]');
      await page.click('#player .ap-play-button');
      await page.waitForSelector('#player[data-state=ended]');
      assert.match(await page.locator('#player .ap-term-text').innerText(), new RegExp(`sql #\\d+>\\s+select \\$1::text as ${marker}`));

      await page.goto(`${r.url}/?q=deploy.sh`);
      await Promise.all([page.waitForURL(`**/sessions/${sshSession}`), page.locator('#sessions a.session-link').first().click()]);
      await page.waitForSelector('#player[data-state=ready]');
      await page.click('#player .ap-play-button');
      await page.waitForSelector('#player[data-state=ended]');
      assert.match(await page.locator('#player .ap-term-text').innerText(), /Deployment finished ✔/);
      assert.deepEqual(incidents, []);
    } finally {
      await context.close();
    }
  });

  it('gives a signed-in user without a role nothing, in the page and from the API', async () => {
    const { page, context } = await watchedPage(browser);
    try {
      await page.goto(`${r.url}/login`);
      await page.fill('#token', r.tokens.nobody);
      const [response] = await Promise.all([page.waitForResponse((res) => new URL(res.url()).pathname === '/'), page.click('#sign-in')]);
      assert.equal(response.status(), 403);
      const body = await page.content();
      assert.ok(!body.includes(pgSession) && !body.includes(sshSession) && !body.includes('acme/payments'));
      const page403 = await page.goto(`${r.url}/sessions/${pgSession}`);
      assert.equal(page403?.status(), 403);
      assert.ok(!(await page.content()).includes(marker));
      const api = await page.evaluate(async (id) => {
        const res = await Promise.all(['/api/sessions', `/api/sessions/${id}`, `/api/sessions/${id}/transcript`].map((p) => fetch(p)));
        return Promise.all(res.map(async (x) => ({ status: x.status, body: await x.text() })));
      }, pgSession);
      for (const a of api) {
        assert.equal(a.status, 403);
        assert.ok(!a.body.includes(marker));
      }
    } finally {
      await context.close();
    }
  });

  it('would see an injection: the watchers catch a script that runs and one the CSP blocks', async () => {
    const { page, context, incidents } = await watchedPage(browser);
    try {
      await page.setContent(`<img src="data:," onerror="__pwned('control')"><img src=x onerror="__pwned('control')">`);
      await page.goto(`${r.url}/login`);
      await page.evaluate(() => {
        document.body.insertAdjacentHTML('beforeend', `<img src="/nope" onerror="__pwned('blocked')">`);
      });
      await until(() => incidents.some((i) => i.startsWith('CSP violation')) && incidents.some((i) => i.includes('control')));
      assert.ok(incidents.some((i) => i.includes("__pwned(control)")), incidents.join('; '));
      assert.ok(incidents.some((i) => i.startsWith('CSP violation: script-src')), incidents.join('; '));
      assert.ok(!incidents.some((i) => i.includes('__pwned(blocked)')));
    } finally {
      await context.close();
    }
  });

  it('runs nothing from a recording full of script and markup injection attempts', async () => {
    const { page, context, incidents } = await watchedPage(browser);
    try {
      await signIn(page, r.url, r.tokens.admin);
      await page.goto(`${r.url}/?q=${encodeURIComponent('<script>')}`);
      const found = await page.locator('#sessions a.session-link').allTextContents();
      assert.ok(found.includes(hostilePg) && found.includes(hostileSsh), `search found ${found.join(', ')}`);
      assert.ok((await page.locator('#sessions').innerText()).includes(INJECTIONS[1]!), 'the hostile actor shows as text');

      await page.goto(`${r.url}/sessions/${hostilePg}`);
      const text = await page.locator('main').innerText();
      for (const needle of [INJECTIONS[0]!, INJECTIONS[2]!, INJECTIONS[5]!]) assert.ok(text.includes(needle), `shows ${needle} as text`);
      // Nothing but the player's own drawing (its terminal is an svg and a canvas) is markup.
      assert.equal(await page.locator('main :is(script, img, svg, iframe):not(#player *)').count(), 0);
      await page.waitForSelector('#player[data-state=ready]');
      await page.click('#player .ap-play-button');
      await page.waitForSelector('#player[data-state=ended]');
      assert.ok((await page.locator('#player .ap-term-text').innerText()).includes(INJECTIONS[0]!));

      await page.goto(`${r.url}/sessions/${hostileSsh}`);
      await page.waitForSelector('#player[data-state=ready]');
      await page.click('#player .ap-play-button');
      await page.waitForSelector('#player[data-state=ended]');
      assert.match(await page.locator('#player .ap-term-text').innerText(), /<script>__pwned\('script'\)<\/script>/);
      assert.equal(await page.locator('main :is(script, img, svg, iframe):not(#player *)').count(), 0);
      assert.equal(await page.locator('#player :is(script, img, iframe)').count(), 0);
      assert.match(await page.locator('#timeline').innerText(), /approval\.granted/);
      assert.deepEqual(incidents, []);
    } finally {
      await context.close();
    }
  });
});
