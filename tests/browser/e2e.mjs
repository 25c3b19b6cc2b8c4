// End to end in Debian's Chromium: sign in through a third-party IdP (Auth0
// samlp, a separate process) -> role picker -> the app gets credentials ->
// a SigV4-signed request to a loopback server that recomputes the signature
// with the issued secret -> STS GetCallerIdentity against moto -> role switch
// -> sign-out; then an admin opens the audit page.
//
//   node e2e.mjs --base http://127.0.0.1:PORT --verifier-port N [--screenshots DIR]
//
// The broker, moto and the IdP are started by the Rust test that runs this
// script; this process hosts the SigV4-verifying server on --verifier-port.
import { chromium } from 'playwright-core';
import { parseArgs } from 'node:util';
import http from 'node:http';
import crypto from 'node:crypto';
import path from 'node:path';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    'verifier-port': { type: 'string' },
    screenshots: { type: 'string' },
  },
});
const base = values.base;
const port = Number(values['verifier-port']);
if (!base || !port) {
  console.error('usage: node e2e.mjs --base URL --verifier-port N [--screenshots DIR]');
  process.exit(2);
}

// ---- A loopback "API Gateway" that checks SigV4 with the issued secret ----
let secrets = new Map(); // access key id -> secret access key
const verified = [];
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

function checkSigV4(req, body) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return `bad Authorization header: ${auth}`;
  const [, akid, date, region, service, signedHeaders, signature] = m;
  const secret = secrets.get(akid);
  if (!secret) return `unknown access key ${akid}`;
  const url = new URL(req.url, `http://${req.headers.host}`);
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)])
    .sort(([a, b], [c, d]) => (a < c ? -1 : a > c ? 1 : b < d ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`).join('&');
  const headers = signedHeaders.split(';').map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payloadHash = req.headers['x-amz-content-sha256'] || sha256(body);
  const canonical = [req.method, url.pathname.split('/').map((p) => encodeURIComponent(decodeURIComponent(p))).join('/'), query, headers, signedHeaders, payloadHash].join('\n');
  const amzDate = req.headers['x-amz-date'];
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  const expected = crypto.createHmac('sha256', key).update(toSign).digest('hex');
  if (expected !== signature) return 'signature mismatch';
  if (service !== 'execute-api') return `signed for service ${service}`;
  return null;
}

const server = http.createServer((req, res) => {
  const cors = {
    'access-control-allow-origin': req.headers.origin || '*',
    'access-control-allow-headers': 'authorization, content-type, x-amz-date, x-amz-security-token, x-amz-content-sha256',
    'access-control-allow-methods': 'GET, POST, OPTIONS',
  };
  if (req.method === 'OPTIONS') { res.writeHead(204, cors); res.end(); return; }
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const problem = checkSigV4(req, body);
    verified.push({ path: req.url, problem, token: Boolean(req.headers['x-amz-security-token']) });
    res.writeHead(problem ? 403 : 200, { ...cors, 'content-type': 'application/json' });
    res.end(JSON.stringify(problem ? { message: problem } : { message: 'pong', signature: 'valid' }));
  });
});
await new Promise((ok) => server.listen(port, '127.0.0.1', ok));

// ---- The browser ----
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const shots = values.screenshots;
const shot = async (page, name) => { if (shots) await page.screenshot({ path: path.join(shots, name), fullPage: true }); };
const step = (s) => console.log(`step: ${s}`);
const fail = (msg) => { throw new Error(msg); };
const problems = [];
let exitCode = 0;
let currentPage = null;
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  currentPage = page;
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const t = m.text();
    if (m.type() === 'error' && !t.startsWith('Failed to load resource')) problems.push(`console: ${t}`);
    if (/Content Security Policy/i.test(t)) problems.push(`CSP: ${t}`);
  });
  const text = async (sel) => (await page.locator(sel).innerText()).trim();
  const waitText = async (sel, re, timeout = 15000) => {
    await page.waitForFunction(([s, r]) => new RegExp(r).test(document.querySelector(s)?.textContent || ''), [sel, re.source], { timeout });
    return text(sel);
  };

  step('open the app while signed out');
  await page.goto(`${base}/app/`);
  await page.locator('a#sign-in').waitFor({ timeout: 15000 });
  // A first visit is not an error: a sign-in panel, no alert, no request id.
  if (!(await page.locator('#sign-in-panel').isVisible())) fail('no sign-in panel on the first visit');
  if ((await text('#error')) !== '') fail(`the first visit shows an error: ${await text('#error')}`);
  if (/Reference|request id/i.test(await page.locator('body').innerText())) fail('the first visit shows a request id');
  if ((await page.locator('a#sign-in').innerText()).trim() !== 'Sign in') fail('the panel\'s button does not say Sign in');
  await shot(page, 'app-signed-out.png');
  await page.click('a#sign-in');

  step('sign in at the third-party IdP (samlp) as carol');
  await page.locator('#user-carol').waitFor({ timeout: 15000 });
  await page.click('#user-carol');

  step('the broker asks carol to choose among three roles');
  await page.waitForURL(/\/choose-role$/, { timeout: 15000 });
  const options = await page.locator('input[name=role_arn]').count();
  if (options !== 3) fail(`expected 3 roles on the picker, saw ${options}`);
  await shot(page, 'role-picker.png');
  // One picker: the same options, words and button as the web app's (compared below).
  const pickerWords = async () => (await page.locator('label.role-option').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').replace(' · in use', '').trim());
  const serverOptions = await pickerWords();
  const serverButton = (await page.locator('#switch-role').innerText()).trim();
  if (serverButton !== 'Use this role') fail(`the picker's button says ${serverButton}`);
  await page.check('input[value="arn:aws:iam::222222222222:role/ReadOnly"]');
  await page.click('#switch-role');

  step('back in the app with credentials for ReadOnly');
  await page.waitForURL(/\/app\/$/, { timeout: 15000 });
  await waitText('#role-name', /ReadOnly/);
  const principal = await waitText('#principal-arn', /arn:aws:sts::/);
  await waitText('#time-left', /\d/);
  if (await page.evaluate(() => localStorage.length + sessionStorage.length) !== 0) fail('the app stored something in web storage');
  if (/Secret|ASIA|TESTACCESS/.test(page.url())) fail('a credential is in the URL');

  step('the issued credentials are known to the verifier');
  const creds = await page.evaluate(async () => (await fetch('/api/credentials')).json());
  secrets.set(creds.AccessKeyId, creds.SecretAccessKey);

  step('SigV4-signed call to the loopback API (PING)');
  await page.click('[data-endpoint="PING"]');
  await page.waitForFunction(() => document.querySelector('#api-result')?.getAttribute('data-status'), null, { timeout: 15000 });
  const status = await page.locator('#api-result').getAttribute('data-status');
  const last = verified[verified.length - 1];
  if (!last) fail('the API server saw no request');
  if (last.problem) fail(`the API server refused the signature: ${last.problem}`);
  if (!last.token) fail('no X-Amz-Security-Token was sent');
  if (status !== '200') fail(`PING answered ${status}`);
  await waitText('#api-result', /pong/);

  step('STS GetCallerIdentity against moto');
  await page.click('#sts-call');
  const arn = await waitText('#sts-result', /arn:aws:sts::/);
  // GetCallerIdentity names the chosen role in its account, as the page does.
  if (!/arn:aws:sts::222222222222:assumed-role\/ReadOnly\//.test(arn)) fail(`STS says ${arn}, not the chosen role ReadOnly in 222222222222`);
  if (!arn.includes(principal.replace(/\s+/g, ''))) fail(`STS says ${arn}, the page says ${principal}`);
  await shot(page, 'app.png');

  step('switch role to Dev on the same picker');
  const appOptions = await pickerWords();
  if (JSON.stringify(appOptions) !== JSON.stringify(serverOptions)) fail(`the app's picker differs from the server's: ${JSON.stringify(appOptions)} vs ${JSON.stringify(serverOptions)} ${problems.join("; ")}`);
  if ((await page.locator('#switch-role').innerText()).trim() !== serverButton) fail('the app\'s picker button has other words');
  if (!(await page.locator('label.role-option.current').innerText()).includes('in use')) fail('the role in use is not marked');
  await page.check('input[value="arn:aws:iam::111111111111:role/Dev"]');
  await page.click('#switch-role');
  await waitText('#role-name', /^Dev$/);

  step('the admin link opens the audit trail with these events');
  await page.click('#admin-audit');
  await page.waitForURL(/\/admin\/audit/, { timeout: 15000 });
  const audit = await page.locator('body').innerText();
  for (const e of ['login.succeeded', 'role.selected', 'credentials.issued', 'carol@example.com']) {
    if (!audit.includes(e)) fail(`the audit page does not show ${e}`);
  }
  await shot(page, 'admin-audit.png');

  step('sign out');
  await page.goto(`${base}/app/`);
  await waitText('#role-name', /Dev/);
  await page.click('#sign-out');
  await page.waitForURL(/\/signed-out$/, { timeout: 15000 });
  const after = await page.evaluate(async () => (await fetch('/api/session')).status);
  if (after !== 401) fail(`after sign-out /api/session answered ${after}`);
  if (problems.length) fail(problems.join('\n'));
  console.log('e2e: all steps passed');
} catch (e) {
  console.error(`e2e failed: ${e.message}`);
  if (currentPage) {
    console.error(`at ${currentPage.url()}`);
    console.error((await currentPage.locator('body').innerText().catch(() => '')).slice(0, 1500));
  }
  exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(exitCode);
