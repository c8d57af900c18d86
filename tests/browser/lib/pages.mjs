// Reading and working the console's pages by what a person sees: roles,
// labels and visible text (docs/CONSOLE.md).
import assert from 'node:assert/strict';
import { follow, look, mainText } from './browser.mjs';

/** The company's navigation ("Account", "Licences", "Orders", ...). */
export function companyNav(page) {
  return page.getByRole('navigation', { name: 'Company' });
}

/** Follows the company navigation's link `name` and checks the page. */
export async function go(s, name, label) {
  await follow(s, companyNav(s.page).getByRole('link', { name, exact: true }));
  return look(s, label);
}

/**
 * The cell of table `caption`'s row whose header cell is `rowHeader`, under
 * the column headed `column`.
 */
export async function cell(page, caption, rowHeader, column) {
  const table = page.getByRole('table', { name: caption });
  const headers = (await table.locator('thead th').allInnerTexts()).map((t) => t.trim());
  const index = headers.indexOf(column);
  assert.notEqual(index, -1, `table "${caption}" has a column "${column}" (it has: ${headers.join(', ')})`);
  const row = table.locator('tbody tr').filter({
    has: page.getByRole('rowheader', { name: rowHeader, exact: true }),
  });
  assert.equal(await row.count(), 1, `table "${caption}" has one row "${rowHeader}"`);
  return (await row.locator('th, td').nth(index).innerText()).trim();
}

/** The e-mails listed (one checkbox each) on the Licences page shown. */
export async function listedMembers(page) {
  const boxes = page.getByRole('table', { name: 'Members' }).getByRole('checkbox');
  const emails = [];
  for (const box of await boxes.all()) emails.push(await box.getAttribute('value'));
  return emails.sort();
}

/** Opens a tab of the Licences page ("Active", "Expired", "Unlicensed"). */
export async function licenceTab(s, tab) {
  await follow(s, s.page.getByRole('navigation', { name: 'Licence status' }).getByRole('link', { name: tab, exact: true }));
  await look(s, `licences-${tab.toLowerCase()}`);
  assert.match(s.page.url(), new RegExp(`[?&]tab=${tab.toLowerCase()}\\b`));
  return listedMembers(s.page);
}

/** The banner a partner admin or account manager sees while acting. */
export async function banner(page) {
  return (await page.getByRole('status').filter({ hasText: 'Managing' }).innerText()).replace(/\s+/g, ' ').trim();
}

/** The success or error message a POST left (the `role="status"` line). */
export async function flash(page) {
  const done = page.locator('main [role="status"], main [role="alert"]');
  return (await done.allInnerTexts()).join(' ').replace(/\s+/g, ' ').trim();
}

/** The quote on Request Licences: fills the form and presses "Get quote". */
export async function getQuote(s, licenceType, seats, label = 'quote') {
  const { page } = s;
  await page.getByLabel('Licence type', { exact: true }).selectOption(licenceType);
  await page.getByLabel('Number of seats', { exact: true }).fill(String(seats));
  await follow(s, page.getByRole('button', { name: 'Get quote', exact: true }));
  await look(s, label);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('seats'), String(seats), 'the quote is a GET with the seats in the URL');
  const quote = page.getByRole('region', { name: 'Quote' });
  const text = (await quote.innerText()).replace(/\s+/g, ' ');
  const term = async (name) =>
    (await quote.locator('dt', { hasText: name }).locator('xpath=following-sibling::dd[1]').innerText()).trim();
  return { text, daysRemaining: await term('Days remaining'), amount: await term('Amount') };
}

/** `text` as a regular expression that matches it literally. */
export const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export { mainText };
