// Journey 1 (the README's walkthrough, in the browser): a manager requests
// 10 seats and sees the quote of GBP 427.40, agrees and submits; the account
// manager assigns the order from the helpdesk queue; the manager then sees 30
// seats and the invoice. Run with JavaScript on and off.
import assert from 'node:assert/strict';
import * as api from './api.mjs';
import { follow, look, signIn, signOut } from './browser.mjs';
import { banner, cell, escape, flash, getQuote, go, mainText } from './pages.mjs';

export async function upgradeJourney(s) {
  const { page } = s;
  // The README's fixture: today 2026-11-22; 20 co-term seats at GBP 120.00
  // a year from 2026-04-01. Its own company, named apart from the others.
  await api.setToday('2026-11-22');
  const am = await api.accountManager();
  const name = api.uniqueName('Acme Ltd');
  const companyId = await api.createCompany(am, {
    name,
    plan: { kind: 'premium', term_start: '2026-04-01' },
    seats: 20,
  });
  const leadToken = await api.lead(companyId);

  // The manager signs in and lands on the company's account page.
  const landed = await signIn(s, { email: api.LEAD_EMAIL, role: 'manager', companyId });
  assert.equal(landed, `/companies/${companyId}`, 'a manager lands on their company');
  assert.equal(await look(s, 'account'), name);
  assert.equal(await cell(page, 'Licences', 'standard', 'Purchased'), '20');

  // Request Licences: 10 seats, the quote of 130 days and GBP 427.40.
  assert.equal(await go(s, 'Request Licences', 'request'), 'Request Licences');
  const quote = await getQuote(s, 'standard', 10);
  const apiQuote = await api.quote(leadToken, companyId, 'standard', 10);
  assert.equal(quote.daysRemaining, '130');
  assert.equal(quote.amount, 'GBP 427.40');
  assert.equal(quote.amount, api.money(apiQuote.currency ?? 'GBP', apiQuote.amount_minor), 'the page shows the API quote');
  await page.getByLabel('I agree to pay', { exact: true }).check();
  await follow(s, page.getByRole('button', { name: 'Submit request', exact: true }));
  assert.equal(new URL(page.url()).pathname, `/companies/${companyId}/orders`, 'a request shows the orders');
  assert.equal(await look(s, 'orders-requested'), 'Orders');
  assert.match(await flash(page), /requested/i);
  const requested = page.getByRole('table', { name: 'Orders' }).locator('tbody tr');
  assert.equal(await requested.count(), 1, 'one requested order');
  assert.match(await requested.innerText(), /10 × standard/);
  assert.match(await requested.innerText(), /GBP 427\.40/);
  await signOut(s);

  // The account manager assigns it from the helpdesk queue.
  assert.equal(await signIn(s, { email: api.AM_EMAIL, role: 'account_manager' }), '/companies');
  assert.equal(await look(s, 'companies'), 'Companies');
  await follow(s, page.getByRole('main').getByRole('link', { name: 'Helpdesk queue', exact: true }));
  assert.equal(await look(s, 'helpdesk-queue'), 'Helpdesk queue');
  const queued = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });
  assert.equal(await queued.count(), 1, `the queue lists ${name}'s order once`);
  assert.match(await queued.innerText(), /standard\s+10\s+GBP 427\.40/);
  await follow(s, queued.getByRole('button', { name: 'Assign', exact: true }));
  assert.match(await look(s, 'order-assigned'), /^Order /);
  assert.match(await flash(page), /Order assigned: invoice GBP 427\.40/);
  assert.match(await banner(page), new RegExp(`^Managing ${escape(name)}`), 'the account manager sees whom they act for');
  assert.match(await mainText(page), /Invoice.*GBP 427\.40/);
  await follow(s, page.getByRole('link', { name: 'All companies', exact: true }));
  await look(s, 'companies-after-assign');
  await follow(s, page.getByRole('main').getByRole('link', { name: 'Helpdesk queue', exact: true }));
  await look(s, 'helpdesk-queue-after-assign');
  assert.equal(
    await page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) }).count(),
    0,
    'the assigned order has left the queue',
  );
  await signOut(s);

  // Back as the manager: 30 seats, and the invoice on the order.
  assert.equal(await signIn(s, { email: api.LEAD_EMAIL, role: 'manager', companyId }), `/companies/${companyId}`);
  assert.equal(await look(s, 'account-after'), name);
  assert.equal(await cell(page, 'Licences', 'standard', 'Purchased'), '30');
  assert.equal(await go(s, 'Orders', 'orders'), 'Orders');
  await follow(s, page.getByRole('navigation', { name: 'Order state' }).getByRole('link', { name: 'Assigned', exact: true }));
  assert.equal(await look(s, 'orders-assigned'), 'Orders');
  const assigned = page.getByRole('table', { name: 'Orders' }).locator('tbody tr');
  assert.equal(await assigned.count(), 1, 'one assigned order');
  assert.match(await assigned.innerText(), /Invoiced GBP 427\.40/);
  await follow(s, assigned.getByRole('link'));
  assert.match(await look(s, 'order'), /^Order /);
  const order = await mainText(page);
  assert.match(order, /State assigned/);
  assert.match(order, /Invoice/);
  assert.match(order, /GBP 427\.40/);
  // The server agrees: one assigned order, invoiced 42740.
  const [only] = (await api.orders(leadToken, companyId)).items;
  assert.equal(only.state, 'assigned');
}
