// Journey 2: a partner manages a trial company; the trial ends; the manager
// lands on /upgrade and requests licences; the partner assigns them (Manage
// Company -> Orders -> Assign) and uses "Select All" on the Expired tab; the
// members are then active.
import assert from 'node:assert/strict';
import * as api from '../lib/api.mjs';
import { follow, look, open, signIn, signOut } from '../lib/browser.mjs';
import { journey } from '../lib/harness.mjs';
import { banner, cell, flash, getQuote, go, licenceTab, mainText } from '../lib/pages.mjs';

journey('journey 2: a partner converts a trial and renews every expired member with Select All', async (s) => {
  const { page } = s;
  await api.setToday('2026-11-22');
  const partner = await api.partnerAdmin();
  const name = api.uniqueName('Trial Co');
  const companyId = await api.createCompany(partner, {
    name,
    plan: { kind: 'trial', ends_on: '2026-11-29', seats: 4 },
    seats: 0,
  });
  const tag = companyId.slice(-6).toLowerCase();
  const learners = ['ann', 'bob', 'cat'].map((n) => `${n}.${tag}@acme.io`);
  await api.addLearners(partner, companyId, learners);
  const everyone = [api.LEAD_EMAIL, ...learners].sort();

  // The trial ends: the clock moves past it and the daily check runs.
  await api.setToday('2026-11-29');
  await api.runExpiryCheck();
  const leadToken = await api.lead(companyId);
  const expired = (await api.company(partner, companyId)).counts.expired;
  assert.equal(expired, everyone.length, 'every member (the manager too) has expired');

  // The manager signs in and is sent from / to /upgrade.
  assert.equal(await signIn(s, { email: api.LEAD_EMAIL, role: 'manager', companyId }), '/upgrade');
  await open(s, '/');
  assert.equal(new URL(page.url()).pathname, '/upgrade', '/ sends an expired trial manager to /upgrade');
  assert.equal(await look(s, 'upgrade'), 'Upgrade to premium');
  assert.match(await mainText(page), /trial has ended/);
  assert.match(await mainText(page), /standard: GBP 120\.00 per seat per year/);

  // Request Licences: a seat for every expired member.
  await follow(s, page.getByRole('main').getByRole('link', { name: 'Request Licences', exact: true }));
  assert.equal(new URL(page.url()).pathname, `/companies/${companyId}/request`);
  assert.equal(await look(s, 'request'), 'Request Licences');
  const quote = await getQuote(s, 'standard', expired);
  const apiQuote = await api.quote(leadToken, companyId, 'standard', expired);
  assert.equal(quote.amount, api.money(apiQuote.currency ?? 'GBP', apiQuote.amount_minor), 'the page shows the API quote');
  await page.getByLabel('I agree to pay', { exact: true }).check();
  await follow(s, page.getByRole('button', { name: 'Submit request', exact: true }));
  assert.equal(await look(s, 'orders-requested'), 'Orders');
  assert.match(await flash(page), /requested/i);
  await signOut(s);

  // The partner: Companies -> Manage Company -> Orders -> Assign.
  assert.equal(
    await signIn(s, { email: api.PARTNER_EMAIL, role: 'partner_admin', partnerId: api.PARTNER_ID }),
    '/companies',
  );
  assert.equal(await look(s, 'partner-companies'), 'Companies');
  await follow(s, page.getByRole('link', { name: `Manage Company ${name}`, exact: true }));
  assert.equal(await look(s, 'partner-account'), name);
  assert.equal(await banner(page), `Managing ${name} All companies`);
  assert.equal(await go(s, 'Orders', 'partner-orders'), 'Orders');
  const requested = page.getByRole('table', { name: 'Orders' }).locator('tbody tr');
  assert.equal(await requested.count(), 1, 'one requested order');
  assert.match(await requested.innerText(), new RegExp(`${expired} × standard`));
  await follow(s, requested.getByRole('button', { name: 'Assign', exact: true }));
  assert.match(await look(s, 'partner-order-assigned'), /^Order /);
  assert.match(await flash(page), /Order assigned: invoice GBP \d+\.\d\d/);
  assert.match(await banner(page), /^Managing /);
  assert.equal(await go(s, 'Account', 'partner-account-after'), name);
  assert.equal(await cell(page, 'Licences', 'standard', 'Purchased'), String(expired));

  // Licences -> Expired -> Select All.
  assert.equal(await go(s, 'Licences', 'licences'), 'Licences');
  assert.deepEqual(await licenceTab(s, 'Expired'), everyone, 'the Expired tab lists every member');
  await follow(s, page.getByRole('button', { name: 'Select All', exact: true }));
  assert.equal(await look(s, 'select-all-done'), 'Licences');
  assert.match(await flash(page), new RegExp(`Renewed ${expired} expired members`));
  assert.deepEqual(await licenceTab(s, 'Expired'), [], 'no member is expired any more');
  assert.deepEqual(await licenceTab(s, 'Active'), everyone, 'every member is active');
  assert.equal(await banner(page), `Managing ${name} All companies`);

  // The server agrees: a learner may sign in again.
  const ann = await api.token(learners[0], 'learner', { companyId });
  assert.equal((await api.expect(200, 'GET', '/v1/access', { token: ann })).allowed, true);
}, { slug: 'j2' });
