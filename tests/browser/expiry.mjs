// Credentials that run out while the web app is open, in Debian's Chromium,
// with the page's clock under Playwright's control:
//
// 1. the app loads with a session (cookie) and the emulator's 90 s credentials;
// 2. renewals fail (the broker is made unreachable), the clock passes the
//    expiry: the AWS call buttons turn off and the page says why;
// 3. the test process moves the broker's clock past the assertion's life and
//    the broker answers again: the app hands over to /signing-in, which says
//    "Your AWS session ended; signing you in again…" and then goes to the IdP
//    with return_to = the app's page (never `/`);
// 4. the test process answers the IdP's request with a signed response; the
//    browser posts it to the ACS and lands back on /app/ with the same role.
//
//   node expiry.mjs --base URL --cookie NAME=VALUE --idp-sso URL [--screenshots DIR]
//
// It talks to the Rust test over stdio: it prints `ready-to-expire`, waits for
// a line; prints `idp-request <SAMLRequest> <RelayState>`, waits for a line
// holding the base64 SAMLResponse. `expiry: all steps passed` at the end.
import { chromium } from 'playwright-core';
import { parseArgs } from 'node:util';
import readline from 'node:readline';
import path from 'node:path';
import http from 'node:http';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    cookie: { type: 'string' },
    'idp-sso': { type: 'string' },
    screenshots: { type: 'string' },
  },
});
const { base, cookie } = values;
const idpSso = values['idp-sso'];
if (!base || !cookie || !idpSso) {
  console.error('usage: node expiry.mjs --base URL --cookie NAME=VALUE --idp-sso URL [--screenshots DIR]');
  process.exit(2);
}

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = async () => {
  const { value, done } = await lines.next();
  if (done) throw new Error('the test process closed stdin');
  return value.trim();
};
const step = (s) => console.log(`step: ${s}`);
const fail = (msg) => { throw new Error(msg); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let exitCode = 0;
let page = null;
let idpServer = null;
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const [name, ...rest] = cookie.split('=');
  await context.addCookies([{ name, value: rest.join('='), url: base }]);
  page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const shot = async (file) => { if (values.screenshots) await page.screenshot({ path: path.join(values.screenshots, file), fullPage: true }); };

  // Every request that is signed for AWS, with the access key it used.
  const signed = [];
  page.on('request', (r) => {
    const auth = r.headers().authorization || '';
    const m = /Credential=([A-Z0-9]+)\//.exec(auth);
    if (m) signed.push({ key: m[1], at: Date.now() });
  });
  // The IdP: the SSO URL is answered here, and the request recorded.
  const loginRequests = [];
  page.on('request', (r) => { if (r.url().includes('/saml/login')) loginRequests.push(r.url()); });
  // (A real server: Playwright's routes do not see the targets of redirects.)
  let idpUrl = null;
  const sso = new URL(idpSso);
  idpServer = http.createServer((req, res) => {
    if (req.url.startsWith(sso.pathname)) idpUrl = new URL(req.url, idpSso).href;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>IdP</title><h1>Test IdP</h1>');
  });
  await new Promise((ok) => idpServer.listen(Number(sso.port), sso.hostname, ok));

  step('the app loads with credentials');
  await page.clock.install({ time: Date.now() });
  await page.goto(`${base}/app/`);
  await page.waitForFunction(() => /\d/.test(document.querySelector('#time-left')?.textContent || ''), null, { timeout: 15000 });
  if (await page.locator('#sts-call').isDisabled()) fail('the STS button is off with fresh credentials');
  const firstKey = (await page.evaluate(async () => (await fetch('/api/credentials')).json())).AccessKeyId;

  step('renewals fail and the clock passes the expiry');
  await context.route('**/api/credentials', (route) => route.abort('connectionrefused'));
  await page.clock.runFor(95_000);
  await page.clock.runFor(2_000);
  const state = await page.evaluate(() => ({ disabled: document.querySelector('#sts-call')?.disabled, note: document.querySelector('#actions-note')?.textContent, time: document.querySelector('#time-left')?.textContent }));
  if (!state.disabled) fail(`the STS button is still on after the expiry: ${JSON.stringify(state)}`);
  const note = (await page.locator('#actions-note').innerText()).trim();
  if (!/expired/.test(note) || !/off/.test(note)) fail(`the note does not say why the calls are off: ${note}`);
  if ((await page.locator('#sts-call').getAttribute('aria-describedby')) !== 'actions-note') fail('the button does not point at the note');
  await shot('app-expired.png');
  // A click on the disabled button does nothing; nothing is signed with the old key.
  await page.locator('#sts-call').click({ force: true }).catch(() => {});
  await page.clock.runFor(1000);
  const late = signed.filter((s) => s.key === firstKey);
  if (late.length) fail(`a request was signed with the expired key ${firstKey}`);

  step('the broker answers again, but the session can no longer be renewed');
  console.log('ready-to-expire');
  await nextLine();
  await context.unroute('**/api/credentials');
  await page.clock.runFor(11_000);
  await page.waitForURL(/\/signing-in\?/, { timeout: 15000 });
  const handOver = (await page.locator('main').innerText()).trim();
  if (!handOver.includes('Your AWS session ended; signing you in again…')) fail(`the hand-over page says: ${handOver}`);
  await shot('signing-in.png');

  step('the hand-over goes on to the IdP with return_to = the app page');
  await page.waitForURL((u) => u.href.startsWith(idpSso), { timeout: 15000 });
  const login = loginRequests.map((u) => new URL(u)).find((u) => u.pathname === '/saml/login');
  if (!login) fail('no /saml/login request');
  const back = login.searchParams.get('return_to');
  if (back !== '/app/') fail(`return_to is ${back}, not /app/`);
  if (!login.searchParams.get('role')) fail('the sign-in does not carry the role');
  const idp = new URL(idpUrl);
  console.log(`idp-request ${idp.searchParams.get('SAMLRequest')} ${idp.searchParams.get('RelayState')}`);

  step('after the new sign-in the person is back in the app with the same role');
  const samlResponse = await nextLine();
  const relay = idp.searchParams.get('RelayState');
  await page.evaluate(([acs, saml, rs]) => {
    const f = document.createElement('form');
    f.method = 'post';
    f.action = acs;
    for (const [k, v] of [['SAMLResponse', saml], ['RelayState', rs]]) {
      const i = document.createElement('input');
      i.type = 'hidden';
      i.name = k;
      i.value = v;
      f.append(i);
    }
    document.body.append(f);
    f.submit();
  }, [`${base}/saml/acs`, samlResponse, relay]);
  await page.waitForURL(`${base}/app/`, { timeout: 15000 });
  await page.waitForFunction(() => /Dev/.test(document.querySelector('#role-name')?.textContent || ''), null, { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector('#sts-call')?.disabled === false, null, { timeout: 15000 });
  if (problems.length) fail(problems.join('\n'));
  console.log('expiry: all steps passed');
} catch (e) {
  console.error(`expiry failed: ${e.message}`);
  if (page) {
    console.error(`at ${page.url()}`);
    console.error((await page.locator('body').innerText().catch(() => '')).slice(0, 1500));
  }
  exitCode = 1;
} finally {
  await browser.close();
  idpServer?.close();
}
process.exit(exitCode);
