// Journey 3: Import Licence Renewal. A CSV whose e-mail column is not the
// first is uploaded; the "E-mail column" dropdown picks the right one; the
// preview counts are read; "Renew Licences" renews; the learners are active.
import assert from 'node:assert/strict';
import * as api from '../lib/api.mjs';
import { follow, look, signIn } from '../lib/browser.mjs';
import { journey } from '../lib/harness.mjs';
import { escape, flash, go, licenceTab, mainText } from '../lib/pages.mjs';

/** The option of the "E-mail column" select whose column is `header`. */
async function chooseColumn(page, header) {
  const select = page.getByLabel('E-mail column', { exact: true });
  const options = await select.locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent })));
  const option = options.find((o) => o.value === header);
  assert.ok(option, `"E-mail column" offers the column ${header} (it offers: ${options.map((o) => o.text).join(' | ')})`);
  await select.selectOption(option.value);
  return option.text.replace(/\s+/g, ' ').trim();
}

async function previewCounts(page) {
  const text = await mainText(page);
  const count = (label) => {
    const m = text.match(new RegExp(`${label}: (\\d+)`));
    assert.ok(m, `the preview shows "${label}: N"`);
    return Number(m[1]);
  };
  return { renewed: count('Will be renewed'), notRenewed: count('Will not be renewed') };
}

journey('journey 3: a CSV renewal with the e-mail column picked from the dropdown', async (s) => {
  const { page } = s;
  // A trial company whose trial ended: its members are expired; an order
  // for three seats is assigned, one goes to the manager, so two can be
  // renewed.
  await api.setToday('2026-11-22');
  const am = await api.accountManager();
  const name = api.uniqueName('Renewals Ltd');
  const companyId = await api.createCompany(am, {
    name,
    plan: { kind: 'trial', ends_on: '2026-12-06', seats: 5 },
    seats: 0,
  });
  const tag = companyId.slice(-6).toLowerCase();
  const [ann, bob, cat, dan] = ['ann', 'bob', 'cat', 'dan'].map((n) => `${n}.${tag}@acme.io`);
  await api.addLearners(am, companyId, [ann, bob, cat, dan]);
  await api.setToday('2026-12-06');
  await api.runExpiryCheck();
  const leadToken = await api.lead(companyId);
  const order = await api.expect(201, 'POST', `/v1/companies/${companyId}/orders`, {
    token: leadToken,
    body: { licence_type: 'standard', quantity: 3, kind: 'trial_conversion', agree_to_pay: true },
  });
  await api.expect(200, 'POST', `/v1/companies/${companyId}/orders/${order.order.id}/assign`, { token: am, body: {} });
  await api.expect(200, 'POST', `/v1/companies/${companyId}/allocations`, {
    token: leadToken,
    body: { licence_type: 'standard', emails: [api.LEAD_EMAIL] },
  });

  // Name first, e-mail third: the import must not take the first column.
  const csv = [
    'Name,Department,Work e-mail',
    `Ann,Sales,${ann}`,
    `Bob,Ops,${bob.toUpperCase()}`,
    `Nobody,Ops,nobody.${tag}@acme.io`,
    'Typo,Ops,not-an-email',
    '',
  ].join('\r\n');

  assert.equal(await signIn(s, { email: api.LEAD_EMAIL, role: 'manager', companyId }), `/companies/${companyId}`);
  assert.equal(await look(s, 'account'), name);
  assert.equal(await go(s, 'Import Licence Renewal', 'import'), 'Import Licence Renewal');
  await page.getByLabel('CSV file', { exact: true }).setInputFiles({
    name: 'renewals.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from(csv),
  });
  await follow(s, page.getByRole('button', { name: 'Upload', exact: true }));
  const importPath = new URL(page.url()).pathname;
  assert.match(importPath, new RegExp(`^/companies/${companyId}/import/[^/]+$`), 'an upload shows its import');
  const importId = importPath.split('/').pop();
  assert.equal(await look(s, 'import-uploaded'), 'Import Licence Renewal');

  // The wrong column first: nothing would renew.
  const nameOption = await chooseColumn(page, 'Name');
  assert.match(nameOption, /^Name \(e\.g\. Ann, Bob/, 'the dropdown shows sample values');
  await follow(s, page.getByRole('button', { name: 'Preview', exact: true }));
  assert.equal(await look(s, 'import-preview-name'), 'Import Licence Renewal');
  assert.equal((await previewCounts(page)).renewed, 0, 'names are not e-mails: nothing renews');

  // Then the e-mail column.
  const emailOption = await chooseColumn(page, 'Work e-mail');
  assert.match(emailOption, new RegExp(`^Work e-mail \\(e\\.g\\. ${ann.replace(/\./g, '\\.')}`));
  await follow(s, page.getByRole('button', { name: 'Preview', exact: true }));
  assert.equal(await look(s, 'import-preview'), 'Import Licence Renewal');
  const counts = await previewCounts(page);
  assert.deepEqual(counts, { renewed: 2, notRenewed: 2 }, 'ann and bob renew; the unknown and the invalid rows do not');
  const fromApi = await api.expect(200, 'GET', `/v1/companies/${companyId}/imports/${importId}`, { token: leadToken });
  assert.deepEqual(
    { renewed: fromApi.counts.to_renew, notRenewed: fromApi.counts.not_renewed },
    counts,
    'the page shows the API preview',
  );
  // The rows that will not renew, each with the API's reason.
  assert.equal(fromApi.problems.length, 2);
  const problems = page.getByRole('table', { name: /^Problems/ }).locator('tbody tr');
  assert.equal(await problems.count(), 2, 'two rows will not renew');
  for (const problem of fromApi.problems) {
    const row = problems.filter({ hasText: problem.email });
    assert.equal(await row.count(), 1, `the problem row for ${problem.email}`);
    assert.match(await row.innerText(), new RegExp(escape(problem.reason)));
  }
  assert.deepEqual(fromApi.problems.map((p) => p.email).sort(), [`nobody.${tag}@acme.io`, 'not-an-email'].sort());
  assert.equal(await page.getByLabel('E-mail column', { exact: true }).inputValue(), 'Work e-mail');

  // Renew Licences.
  await follow(s, page.getByRole('button', { name: 'Renew Licences', exact: true }));
  assert.equal(await look(s, 'import-renewed'), 'Import Licence Renewal');
  assert.match(await flash(page), /Renewed 2 licences/);

  // The Licences page: ann and bob active beside the manager; cat and dan
  // stay expired.
  assert.equal(await go(s, 'Licences', 'licences'), 'Licences');
  assert.deepEqual(await licenceTab(s, 'Active'), [api.LEAD_EMAIL, ann, bob].sort());
  assert.deepEqual(await licenceTab(s, 'Expired'), [cat, dan].sort());
}, { slug: 'j3' });
