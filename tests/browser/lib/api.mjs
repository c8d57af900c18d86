// Setting data up through the local server's API (POST /local/token, /v1/...,
// POST /local/clock, POST /local/run-expiry-check). The tests act through the
// pages; this only prepares the world they act in and reads it back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

export const BASE = (process.env.SEATKEEPER_URL || '').replace(/\/$/, '');
if (!BASE) {
  throw new Error(
    'SEATKEEPER_URL is not set: run the browser tests with `make test-browser` ' +
      '(infra/scripts/browser-tests.sh starts the local server and sets it)',
  );
}

/** One JSON call; answers {status, body}. */
export async function call(method, path, { token, body, headers = {} } = {}) {
  const res = await fetch(BASE + path, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed };
}

/** Like `call`, but fails the test unless the status is `expected`. */
export async function expect(expected, method, path, opts) {
  const answer = await call(method, path, opts);
  assert.equal(
    answer.status,
    expected,
    `${method} ${path} answered ${answer.status}, not ${expected}: ${JSON.stringify(answer.body)}`,
  );
  return answer.body;
}

export async function token(email, role, { companyId = null, partnerId = null } = {}) {
  const body = await expect(201, 'POST', '/local/token', {
    body: { email, role, company_id: companyId, partner_id: partnerId },
  });
  return body.token;
}

export async function setToday(today) {
  await expect(200, 'POST', '/local/clock', { body: { today } });
}

export async function runExpiryCheck() {
  return expect(200, 'POST', '/local/run-expiry-check');
}

/** A name no other test (or earlier run on the same data) uses. */
export function uniqueName(prefix) {
  return `${prefix} ${randomBytes(3).toString('hex').toUpperCase()}`;
}

export const AM_EMAIL = 'am@vendor.io';
export const LEAD_EMAIL = 'lead@acme.io';
export const PARTNER_EMAIL = 'admin@msp.io';
export const PARTNER_ID = 'msp1';

export const accountManager = () => token(AM_EMAIL, 'account_manager');
export const partnerAdmin = () => token(PARTNER_EMAIL, 'partner_admin', { partnerId: PARTNER_ID });
export const lead = (companyId) => token(LEAD_EMAIL, 'manager', { companyId });

/**
 * Creates a company as `creator` (a token) with one "standard" pool at
 * 12000 GBP minor units a seat a year and the manager lead@acme.io; answers
 * its id.
 */
export async function createCompany(creator, { name, plan, seats, policy = 'co_term' }) {
  const body = await expect(201, 'POST', '/v1/companies', {
    token: creator,
    body: {
      name,
      account_manager_email: AM_EMAIL,
      plan,
      licence_types: [
        { type: 'standard', policy, annual_fee_minor: 12000, currency: 'GBP', seats },
      ],
      managers: [{ email: LEAD_EMAIL, name: 'Lee Lead' }],
    },
  });
  return body.id;
}

export async function addLearners(creator, companyId, emails) {
  for (const email of emails) {
    await expect(201, 'POST', `/v1/companies/${companyId}/members`, {
      token: creator,
      body: { email, name: 'Learner', role: 'learner' },
    });
  }
}

export async function company(tokenValue, companyId) {
  return expect(200, 'GET', `/v1/companies/${companyId}`, { token: tokenValue });
}

export async function orders(tokenValue, companyId) {
  return expect(200, 'GET', `/v1/companies/${companyId}/orders`, { token: tokenValue });
}

/** The API's own quote, to hold the page's figures against. */
export async function quote(tokenValue, companyId, licenceType, quantity) {
  return expect(
    200,
    'GET',
    `/v1/companies/${companyId}/quote?licence_type=${licenceType}&quantity=${quantity}`,
    { token: tokenValue },
  );
}

/** Formats minor units as the console must show them: `GBP 427.40`. */
export function money(currency, minor) {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  return `${currency} ${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
