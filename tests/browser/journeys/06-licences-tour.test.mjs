// The pages the journeys do not reach: a manager adds learners ("Add
// learners"), finds them on the Unlicensed tab and by "Search", allocates
// the selected ("Allocate"), releases one ("Release"), reads the Audit page;
// then the company's term ends and the manager is sent to /renew. And the
// Audit page names for whom each change was made.
import assert from 'node:assert/strict';
import * as api from '../lib/api.mjs';
import { follow, look, open, signIn } from '../lib/browser.mjs';
import { journey } from '../lib/harness.mjs';
import { cell, escape, flash, go, licenceTab, listedMembers, mainText } from '../lib/pages.mjs';

journey('licences: add, search, allocate, release, audit, and the renewal landing page', async (s) => {
  const { page } = s;
  await api.setToday('2026-11-22');
  const am = await api.accountManager();
  const name = api.uniqueName('Old Ltd');
  // A year's term that ends on 2026-12-01; three seats, one the manager's.
  const companyId = await api.createCompany(am, {
    name,
    plan: { kind: 'premium', term_start: '2025-12-01' },
    seats: 3,
  });
  const leadToken = await api.lead(companyId);
  const tag = companyId.slice(-6).toLowerCase();
  const [ann, bob, cat] = ['ann', 'bob', 'cat'].map((n) => `${n}.${tag}@acme.io`);

  assert.equal(await signIn(s, { email: api.LEAD_EMAIL, role: 'manager', companyId }), `/companies/${companyId}`);
  assert.equal(await look(s, 'account'), name);
  assert.equal(await go(s, 'Licences', 'licences'), 'Licences');

  // Add learners: one e-mail a line.
  await page.getByLabel('E-mails', { exact: true }).fill([ann, bob, cat].join('\n'));
  await follow(s, page.getByRole('button', { name: 'Add learners', exact: true }));
  assert.equal(await look(s, 'learners-added'), 'Licences');
  assert.match(await flash(page), /Added 3 learners/);
  assert.deepEqual(await licenceTab(s, 'Unlicensed'), [ann, bob, cat].sort());

  // Search finds one.
  await page.getByRole('searchbox', { name: 'Search' }).fill(`bob.${tag}`);
  await follow(s, page.getByRole('button', { name: 'Search', exact: true }));
  assert.equal(await look(s, 'licences-search'), 'Licences');
  assert.deepEqual(await listedMembers(page), [bob], 'the search lists only bob');

  // Allocate the two selected.
  assert.deepEqual(await licenceTab(s, 'Unlicensed'), [ann, bob, cat].sort());
  await page.getByLabel(ann, { exact: true }).check();
  await page.getByLabel(bob, { exact: true }).check();
  await follow(s, page.getByRole('button', { name: 'Allocate', exact: true }));
  assert.equal(await look(s, 'allocated'), 'Licences');
  assert.match(await flash(page), /Allocated 2 licences/);
  assert.deepEqual(await licenceTab(s, 'Active'), [api.LEAD_EMAIL, ann, bob].sort());
  assert.deepEqual(await licenceTab(s, 'Unlicensed'), [cat]);

  // Release bob's seat.
  assert.deepEqual(await licenceTab(s, 'Active'), [api.LEAD_EMAIL, ann, bob].sort());
  await page.getByLabel(bob, { exact: true }).check();
  await page.getByLabel('Release takes effect', { exact: true }).selectOption('now');
  await follow(s, page.getByRole('button', { name: 'Release', exact: true }));
  assert.equal(await look(s, 'released'), 'Licences');
  assert.match(await flash(page), /Released 1 licences/);
  assert.deepEqual(await licenceTab(s, 'Active'), [api.LEAD_EMAIL, ann].sort(), 'bob is no longer active');

  // The account page counts what the server counts.
  assert.equal(await go(s, 'Account', 'account-after'), name);
  const pool = (await api.company(leadToken, companyId)).pools[0];
  assert.equal(await cell(page, 'Licences', 'standard', 'Allocated'), String(pool.allocated));
  assert.equal(await cell(page, 'Licences', 'standard', 'Available'), String(pool.available));
  assert.equal(pool.allocated, 2, 'the manager and ann hold seats');

  // Audit: newest first, who did what (what it names is the next test's).
  assert.equal(await go(s, 'Audit', 'audit'), 'Audit');
  const events = (await api.expect(200, 'GET', `/v1/companies/${companyId}/audit`, { token: leadToken })).items;
  const rows = page.getByRole('table', { name: /newest first/ }).locator('tbody tr');
  assert.equal(await rows.count(), events.length, 'one row per audit event on this page');
  const newest = (await rows.first().innerText()).replace(/\s+/g, ' ');
  assert.match(newest, new RegExp(`${escape(api.LEAD_EMAIL)} \\(manager\\)`));
  assert.ok(newest.includes(events[0].action), `the newest row is the newest event (${events[0].action}): ${newest}`);
  assert.equal(events[0].action, 'seat.release');

  // The term ends: the manager is sent from / to /renew.
  await api.setToday('2026-12-02');
  await api.runExpiryCheck();
  await open(s, '/');
  assert.equal(new URL(page.url()).pathname, '/renew', '/ sends the manager of an expired company to /renew');
  assert.equal(await look(s, 'renew'), 'Renew licences');
  assert.match(await mainText(page), /licences have expired/);
  assert.match(await mainText(page), /standard: GBP 120\.00 per seat per year/);
  await follow(s, page.getByRole('main').getByRole('link', { name: 'Request Licences', exact: true }));
  assert.equal(new URL(page.url()).pathname, `/companies/${companyId}/request`);
  assert.equal(await look(s, 'renew-request'), 'Request Licences');
}, { slug: 'tour' });

/** The e-mails an audit event names: its member(s), before or after. */
function subjects(event) {
  const found = new Set();
  for (const side of [event.after, event.before]) {
    if (!side || typeof side !== 'object') continue;
    for (const key of ['email', 'to_email', 'from_email']) if (typeof side[key] === 'string') found.add(side[key]);
    if (typeof side.member?.email === 'string') found.add(side.member.email);
    for (const list of [side.emails, side.members]) {
      for (const item of Array.isArray(list) ? list : []) {
        if (typeof item === 'string') found.add(item);
        else if (typeof item?.email === 'string') found.add(item.email);
      }
    }
  }
  return [...found].sort();
}

journey('audit: who did what, for whom, when', async (s) => {
  const { page } = s;
  await api.setToday('2026-11-22');
  const am = await api.accountManager();
  const name = api.uniqueName('Audit Ltd');
  const companyId = await api.createCompany(am, { name, plan: { kind: 'premium', term_start: '2026-04-01' }, seats: 3 });
  const leadToken = await api.lead(companyId);
  const ann = `ann.${companyId.slice(-6).toLowerCase()}@acme.io`;
  await api.addLearners(leadToken, companyId, [ann]);
  await api.expect(200, 'POST', `/v1/companies/${companyId}/allocations`, {
    token: leadToken,
    body: { licence_type: 'standard', emails: [ann] },
  });

  assert.equal(await signIn(s, { email: api.LEAD_EMAIL, role: 'manager', companyId }), `/companies/${companyId}`);
  assert.equal(await look(s, 'account'), name);
  assert.equal(await go(s, 'Audit', 'audit'), 'Audit');
  const events = (await api.expect(200, 'GET', `/v1/companies/${companyId}/audit`, { token: leadToken })).items;
  const table = page.getByRole('table', { name: /newest first/ });
  const headers = (await table.locator('thead th').allInnerTexts()).map((t) => t.trim());
  assert.deepEqual(headers, ['When', 'Who', 'What', 'For whom']);
  const rows = table.locator('tbody tr');
  assert.equal(await rows.count(), events.length, 'one row per audit event');
  const shown = [];
  const expected = [];
  for (const [i, event] of events.entries()) {
    const cells = (await rows.nth(i).locator('th, td').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.ok(cells[0].startsWith(event.at.slice(0, 10)), `row ${i + 1}: when (${event.at}), YYYY-MM-DD first: ${cells[0]}`);
    assert.ok(cells[1].startsWith(event.actor.email), `row ${i + 1}: who (${event.actor.email})`);
    assert.equal(cells[2], event.action, `row ${i + 1}: what`);
    const names = subjects(event);
    shown.push(`${event.action}: ${cells[3] || '(empty)'}`);
    expected.push(`${event.action}: ${names.length ? names.join(', ') : '(empty)'}`);
  }
  // "For whom": see tests/browser/NEEDS.md.
  assert.deepEqual(shown, expected, 'the "For whom" column names the members each event is about (NEEDS.md)');
}, { slug: 'audit' });

journey('transfer: a rolling licence moves from one member to another', async (s) => {
  const { page } = s;
  await api.setToday('2026-11-22');
  const am = await api.accountManager();
  const name = api.uniqueName('Rolling Ltd');
  const companyId = await api.createCompany(am, {
    name,
    plan: { kind: 'premium', term_start: '2026-04-01' },
    seats: 3,
    policy: 'rolling_12_months',
  });
  const leadToken = await api.lead(companyId);
  const tag = companyId.slice(-6).toLowerCase();
  const [ann, bob] = ['ann', 'bob'].map((n) => `${n}.${tag}@acme.io`);
  await api.addLearners(leadToken, companyId, [ann, bob]);
  await api.expect(200, 'POST', `/v1/companies/${companyId}/allocations`, {
    token: leadToken,
    body: { licence_type: 'standard', emails: [ann] },
  });

  assert.equal(await signIn(s, { email: api.LEAD_EMAIL, role: 'manager', companyId }), `/companies/${companyId}`);
  assert.equal(await look(s, 'account'), name);
  assert.equal(await go(s, 'Licences', 'licences'), 'Licences');
  const before = await licenceTab(s, 'Active');
  assert.ok(before.includes(ann) && !before.includes(bob), `ann is active, bob is not: ${before.join(', ')}`);
  await page.getByLabel('From e-mail', { exact: true }).fill(ann);
  await page.getByLabel('To e-mail', { exact: true }).fill(bob);
  await follow(s, page.getByRole('button', { name: 'Transfer', exact: true }));
  assert.equal(await look(s, 'transferred'), 'Licences');
  assert.match(await flash(page), new RegExp(`Licence moved from ${escape(ann)} to ${escape(bob)}`));
  const after = await licenceTab(s, 'Active');
  assert.ok(after.includes(bob) && !after.includes(ann), `bob is active, ann is not: ${after.join(', ')}`);
}, { slug: 'transfer' });
