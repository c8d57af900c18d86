// One browser per test file; each test gets a fresh context (no cookies), and
// at its end every page it landed on must have been through `look`.
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { assertEveryPageChecked, CHROMIUM, launch, SCREENSHOTS, session } from './browser.mjs';

let browser;
before(async () => {
  try {
    browser = await launch();
  } catch (error) {
    error.message = `could not start Chromium at ${CHROMIUM} (infra/scripts/browser-tests.sh install puts Debian's there): ${error.message}`;
    throw error;
  }
});
after(async () => {
  await browser?.close();
});

/**
 * A test that drives the browser: `fn(s)` with `s.page` and the helpers of
 * browser.mjs; `slug` names its screenshots. On failure the page is saved as `<test>-FAILED.png` and its
 * URL and <main> text are added to the message.
 */
export function journey(name, fn, { slug, javaScript = true, timeout = 120_000 } = {}) {
  test(name, { timeout }, async (t) => {
    const s = await session(browser, slug ?? name, { javaScript });
    try {
      await fn(s);
      assertEveryPageChecked(s);
    } catch (error) {
      try {
        await s.page.screenshot({ path: join(SCREENSHOTS, `${s.slug}-FAILED.png`), fullPage: true });
        const main = await s.page.locator('main').innerText({ timeout: 1000 }).catch(() => '(no <main>)');
        error.message += `\n  the page then: ${s.page.url()}\n  ${main.replace(/\s+/g, ' ').slice(0, 1500)}`;
      } catch {
        // the browser is gone: the error says enough
      }
      throw error;
    } finally {
      await s.close();
    }
  });
}
