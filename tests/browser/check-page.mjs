// Opens one broker page in Debian's Chromium with a session cookie and checks
// that it shows the expected text; optionally saves a screenshot.
//
//   node check-page.mjs --url URL --cookie NAME=VALUE --expect TEXT [--expect TEXT…] [--screenshot FILE]
//
// Exits 0 when every expected text is visible, 1 otherwise (printing what the
// page showed), 2 on bad usage. Console errors and CSP violations fail the check.
import { chromium } from 'playwright-core';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    cookie: { type: 'string' },
    expect: { type: 'string', multiple: true, default: [] },
    screenshot: { type: 'string' },
    // The page is expected to answer with an error status (e.g. a 403 page).
    'allow-http-error': { type: 'boolean', default: false },
  },
});
if (!values.url) {
  console.error('usage: node check-page.mjs --url URL [--cookie NAME=VALUE] --expect TEXT [--screenshot FILE]');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let ok = true;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  if (values.cookie) {
    const [name, ...rest] = values.cookie.split('=');
    await context.addCookies([{ name, value: rest.join('='), url: values.url }]);
  }
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (values['allow-http-error'] && m.text().startsWith('Failed to load resource')) return;
    problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const resp = await page.goto(values.url, { waitUntil: 'load' });
  const text = await page.locator('body').innerText();
  for (const t of values.expect) {
    if (!text.includes(t)) {
      ok = false;
      console.error(`missing on the page: ${JSON.stringify(t)}`);
    }
  }
  if (problems.length) {
    ok = false;
    console.error(problems.join('\n'));
  }
  if (values.screenshot) await page.screenshot({ path: values.screenshot, fullPage: true });
  if (!ok) console.error(`HTTP ${resp && resp.status()} ${page.url()}\n---\n${text.slice(0, 2000)}`);
} finally {
  await browser.close();
}
process.exit(ok ? 0 : 1);
