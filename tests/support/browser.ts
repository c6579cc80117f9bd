/**
 * Debian's headless Chromium driven by playwright-core, with everything a page might run recorded:
 * dialogs, console errors, page errors, CSP violations and calls to the `__pwned` binding that every
 * injection attempt in the hostile recordings calls.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { requiredEnv } from './test-env.js';

export interface Watched {
  page: Page;
  context: BrowserContext;
  /** Anything here means something ran or was refused in the page. */
  incidents: string[];
}

export function launchChromium(): Promise<Browser> {
  // Root in CI cannot use Chromium's sandbox; the pages are our own on loopback.
  return chromium.launch({ executablePath: requiredEnv('TG_CHROMIUM'), args: ['--no-sandbox', '--disable-gpu'] });
}

export async function watchedPage(browser: Browser): Promise<Watched> {
  const context = await browser.newContext();
  const incidents: string[] = [];
  await context.exposeBinding('__pwned', (_source, what: unknown) => void incidents.push(`script ran: __pwned(${String(what)})`));
  await context.exposeBinding('__cspViolation', (_source, what: unknown) => void incidents.push(`CSP violation: ${String(what)}`));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __cspViolation: (s: string) => void }).__cspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
    });
  });
  const page = await context.newPage();
  page.on('dialog', (d) => {
    incidents.push(`dialog: ${d.type()} ${d.message()}`);
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error') incidents.push(`console error: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => incidents.push(`page error: ${e.message}`));
  return { page, context, incidents };
}

/** Signs in on the login page with a static token. */
export async function signIn(page: Page, baseUrl: string, token: string, next = '/'): Promise<void> {
  await page.goto(`${baseUrl}/login?next=${encodeURIComponent(next)}`);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('#sign-in')]);
}
