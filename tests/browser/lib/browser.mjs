// The browser, and the checks every page the tests visit goes through: the
// contract's page shape, axe-core (0 serious or critical violations) and a
// screenshot at desktop and at phone width.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import axe from 'axe-core';
import { BASE } from './api.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SCREENSHOTS = process.env.SCREENSHOT_DIR || join(process.cwd(), 'target', 'browser-screenshots');
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/**
 * Debian's Chromium, headless. Playwright's `launch` gives every launch a
 * fresh profile of its own (`--user-data-dir=` a new temporary directory,
 * removed on close); passing `--user-data-dir` here as well is refused.
 */
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * One person's browser session for one test: a fresh context (no cookies),
 * desktop size. `javaScript: false` turns JavaScript off; the axe check then
 * runs in a second, scripted context over the very HTML this one received.
 */
export async function session(browser, testName, { javaScript = true } = {}) {
  const context = await browser.newContext({
    baseURL: BASE,
    viewport: DESKTOP,
    javaScriptEnabled: javaScript,
  });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(20_000);
  const page = await context.newPage();
  // "Renew Licences" and the like may ask to confirm: a person says yes.
  page.on('dialog', (dialog) => dialog.accept().catch(() => {}));
  const visited = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame() && frame.url().startsWith(BASE)) visited.push(frame.url());
  });
  const s = { lastStatus: null, scratch: null, scratchHtml: null, signedIn: false };
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.request().frame() === page.mainFrame()) {
      s.lastStatus = r.status();
    }
  });
  const axeContext = javaScript ? null : await browser.newContext({ baseURL: BASE, viewport: DESKTOP });
  Object.assign(s, {
    page,
    context,
    javaScript,
    slug: testName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''),
    shots: 0,
    checked: new Set(),
    visited,
    axeContext,
    async close() {
      await context.close();
      if (axeContext) await axeContext.close();
    },
  });
  return s;
}

/** Runs axe-core on the page `s` shows; fails on serious or critical violations. */
async function axeCheck(s, label) {
  let target = s.page;
  if (!s.javaScript) {
    // With JavaScript off in the page, axe cannot run there (its timers
    // never fire): the same HTML is served at the same URL to a scripted
    // page, which loads the same stylesheet, and axe checks that.
    if (!s.scratch) {
      s.scratch = await s.axeContext.newPage();
      await s.scratch.route('**/*', (route) => {
        const request = route.request();
        if (request.isNavigationRequest() && s.scratchHtml !== null) {
          return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: s.scratchHtml });
        }
        return route.continue();
      });
    }
    s.scratchHtml = await s.page.content();
    await s.scratch.goto(s.page.url(), { waitUntil: 'load' });
    target = s.scratch;
  }
  try {
    await target.evaluate(axe.source);
    const violations = await target.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const result = await axe.run(document, {
        resultTypes: ['violations'],
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      });
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
      }));
    });
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(
      bad,
      [],
      `axe: ${bad.length} serious or critical violation(s) on ${label} (${s.page.url()}):\n` +
        bad.map((v) => `  - [${v.impact}] ${v.id}: ${v.help} at ${v.nodes.join(', ')}`).join('\n'),
    );
  } finally {
    s.scratchHtml = null;
  }
}

/**
 * The checks for the page now shown, named `label` for the screenshots:
 * the contract's shape (lang="en", one <h1>, a <main>, every input
 * labelled), axe, and a screenshot at desktop and phone width. Answers the
 * page's <h1> text.
 */
export async function look(s, label) {
  const { page } = s;
  await page.waitForLoadState('load');
  const t0 = Date.now();
  assert.equal(await page.locator('html').getAttribute('lang'), 'en', `${label}: <html lang="en">`);
  // The page's scripting is what the test asked for: with scripting off, the
  // HTML parser reads a <noscript>'s content as elements, not as text.
  const scriptingOff = await page.evaluate(() => {
    const probe = document.createElement('div');
    probe.innerHTML = '<noscript><p></p></noscript>';
    return probe.querySelector('noscript p') !== null;
  });
  assert.equal(scriptingOff, !s.javaScript, `${label}: JavaScript is ${s.javaScript ? 'on' : 'off'} in the page`);
  assert.equal(await page.locator('h1').count(), 1, `${label} (${page.url()}): exactly one <h1>`);
  assert.equal(await page.locator('main').count(), 1, `${label} (${page.url()}): one <main>`);
  assert.equal(
    await page.getByRole('button', { name: 'Sign out', exact: true }).count(),
    s.signedIn ? 1 : 0,
    `${label} (${page.url()}): a "Sign out" button exactly when signed in`,
  );
  await axeCheck(s, label);
  const t1 = Date.now();
  mkdirSync(SCREENSHOTS, { recursive: true });
  s.shots += 1;
  const stem = join(SCREENSHOTS, `${s.slug}-${String(s.shots).padStart(2, '0')}-${label}`);
  await page.screenshot({ path: `${stem}-desktop.png`, fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: `${stem}-phone.png`, fullPage: true });
  // A data table may scroll sideways inside its own region (WCAG 1.4.10
  // exempts two-dimensional content), but the page as a whole may not.
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `${label}: ${width}px wide at phone width (${PHONE.width}px)`);
  await page.setViewportSize(DESKTOP);
  s.checked.add(page.url());
  if (process.env.BROWSER_TIMING) console.error(`# ${label}: axe ${t1 - t0} ms, screenshots ${Date.now() - t1} ms`);
  return (await page.locator('h1').innerText()).trim();
}

/** Fails unless every page the test landed on went through `look`. */
export function assertEveryPageChecked(s) {
  const missed = [...new Set(s.visited)].filter((url) => !s.checked.has(url));
  assert.deepEqual(missed, [], `pages visited but not checked (axe, screenshots): ${missed.join(', ')}`);
}

/**
 * Clicks `locator` (a submit button or a link) and waits for the page it
 * leads to: the 303's target after a POST, or the GET form's page. Answers
 * the status of the page shown (the last main-frame response).
 */
export async function follow(s, locator) {
  const { page } = s;
  const navigated = page.waitForEvent('framenavigated', {
    predicate: (frame) => frame === page.mainFrame(),
  });
  navigated.catch(() => {}); // a failed click is the error to report
  await locator.click();
  await navigated;
  await page.waitForLoadState('load');
  return s.lastStatus;
}

/** Opens `path` and answers the response (its status is the page's). */
export async function open(s, path) {
  const response = await s.page.goto(path, { waitUntil: 'load' });
  return response;
}

/** The visible text of the page's <main>, whitespace collapsed. */
export async function mainText(page) {
  return (await page.locator('main').innerText()).replace(/\s+/g, ' ');
}

/**
 * Signs in through the sign-in page (the local server's role picker) and
 * answers the path it lands on.
 */
export async function signIn(s, { email, role, companyId = '', partnerId = '' }) {
  const { page } = s;
  const response = await open(s, '/sign-in');
  assert.equal(response.status(), 200, 'GET /sign-in answers 200');
  assert.equal(await look(s, 'sign-in'), 'Sign in');
  await page.getByLabel('E-mail', { exact: true }).fill(email);
  await page.getByLabel('Role', { exact: true }).selectOption(role);
  if (companyId) await page.getByLabel('Company ID').fill(companyId);
  if (partnerId) await page.getByLabel('Partner ID').fill(partnerId);
  await follow(s, page.getByRole('button', { name: 'Sign in', exact: true }));
  s.signedIn = true;
  return new URL(page.url()).pathname;
}

export async function signOut(s) {
  const { page } = s;
  await follow(s, page.getByRole('button', { name: 'Sign out', exact: true }));
  s.signedIn = false;
  assert.equal(new URL(page.url()).pathname, '/sign-in', 'signing out shows the sign-in page');
  assert.equal(await look(s, 'signed-out'), 'Sign in');
}
