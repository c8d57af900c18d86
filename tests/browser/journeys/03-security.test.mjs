// Tenancy and CSRF, as the browser sees them: a foreign company's pages
// answer 404 "Not found"; a form posted without its CSRF token, or with a
// forged one, answers 403 "Request refused" and changes nothing.
import assert from 'node:assert/strict';
import * as api from '../lib/api.mjs';
import { follow, look, open, signIn } from '../lib/browser.mjs';
import { journey } from '../lib/harness.mjs';
import { getQuote, mainText } from '../lib/pages.mjs';

async function twoCompanies() {
  await api.setToday('2026-11-22');
  const am = await api.accountManager();
  const plan = { kind: 'premium', term_start: '2026-04-01' };
  const a = { name: api.uniqueName('Alpha Ltd') };
  const b = { name: api.uniqueName('Beta Ltd') };
  a.id = await api.createCompany(am, { name: a.name, plan, seats: 5 });
  b.id = await api.createCompany(am, { name: b.name, plan, seats: 5 });
  return { a, b };
}

journey("security: a foreign company's pages answer 404 in the browser", async (s) => {
  const { a, b } = await twoCompanies();
  // Signed out, a company's page sends the visitor to sign in.
  await open(s, `/companies/${a.id}`);
  assert.equal(new URL(s.page.url()).pathname, '/sign-in', 'no session: to the sign-in page');
  assert.equal(await look(s, 'signed-out-company'), 'Sign in');
  assert.equal(await signIn(s, { email: api.LEAD_EMAIL, role: 'manager', companyId: a.id }), `/companies/${a.id}`);
  assert.equal(await look(s, 'own-company'), a.name);
  // The session cookie: not for scripts, not sent on another site's POST, HTTPS only.
  const cookies = await s.context.cookies();
  assert.ok(cookies.length > 0, 'signing in set a cookie');
  for (const cookie of cookies) {
    assert.deepEqual(
      { name: cookie.name, httpOnly: cookie.httpOnly, secure: cookie.secure, sameSite: cookie.sameSite },
      { name: cookie.name, httpOnly: true, secure: true, sameSite: 'Lax' },
    );
  }
  for (const path of [`/companies/${b.id}`, `/companies/${b.id}/members`, `/companies/${b.id}/orders`]) {
    const response = await open(s, path);
    assert.equal(response.status(), 404, `${path} answers 404 to company A's manager`);
    assert.equal(await look(s, 'foreign-company'), 'Not found');
    assert.doesNotMatch(await mainText(s.page), new RegExp(b.name), 'the 404 page does not name the company');
  }
  // A company that does not exist reads the same.
  const response = await open(s, '/companies/00000000000000000000000000000000');
  assert.equal(response.status(), 404);
  assert.equal(await look(s, 'no-such-company'), 'Not found');
}, { slug: 'sec-404' });

journey('security: a form posted without its CSRF token is refused with 403', async (s) => {
  const { page } = s;
  const { a } = await twoCompanies();
  const leadToken = await api.lead(a.id);
  assert.equal(await signIn(s, { email: api.LEAD_EMAIL, role: 'manager', companyId: a.id }), `/companies/${a.id}`);
  await look(s, 'account');
  await open(s, `/companies/${a.id}/request`);
  await look(s, 'request');
  await getQuote(s, 'standard', 1);
  const quoteUrl = page.url();
  const form = page.locator('form', { has: page.getByRole('button', { name: 'Submit request' }) });
  assert.equal(await form.locator('input[type="hidden"][name="csrf"]').count(), 1, 'the form carries its CSRF token');

  // 1. The token removed from the form.
  await page.getByLabel('I agree to pay', { exact: true }).check();
  await form.evaluate((f) => f.querySelector('input[name="csrf"]').remove());
  assert.equal(await follow(s, page.getByRole('button', { name: 'Submit request', exact: true })), 403);
  assert.equal(await look(s, 'csrf-missing'), 'Request refused');

  // 2. A forged token.
  await open(s, quoteUrl);
  await look(s, 'quote-again');
  await page.getByLabel('I agree to pay', { exact: true }).check();
  await form.evaluate((f) => {
    f.querySelector('input[name="csrf"]').value = 'forged';
  });
  assert.equal(await follow(s, page.getByRole('button', { name: 'Submit request', exact: true })), 403);
  assert.equal(await look(s, 'csrf-forged'), 'Request refused');

  // 3. A POST from outside the page, with the session cookie but no token
  //    (the cookie goes with it: the same request context reads the page).
  const read = await page.request.get(`/companies/${a.id}`, { maxRedirects: 0 });
  assert.equal(read.status(), 200, 'the request context carries the session');
  const posted = await page.request.post(`/companies/${a.id}/orders`, {
    form: { licence_type: 'standard', seats: '1', agree_to_pay: 'true' },
    maxRedirects: 0,
  });
  assert.equal(posted.status(), 403, 'a cookie alone is not enough');
  assert.match(await posted.text(), /Request refused/);
  assert.deepEqual((await api.orders(leadToken, a.id)).items, [], 'no refused request made an order');

  // The same form with its own token goes through: the refusals were the token's.
  await open(s, quoteUrl);
  await look(s, 'quote-fresh');
  await page.getByLabel('I agree to pay', { exact: true }).check();
  assert.equal(await follow(s, page.getByRole('button', { name: 'Submit request', exact: true })), 200);
  assert.equal(await look(s, 'orders'), 'Orders');
  assert.equal((await api.orders(leadToken, a.id)).items.length, 1, 'with its token the request made one order');
}, { slug: 'sec-csrf' });
