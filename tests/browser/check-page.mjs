// Opens one broker page in Debian's Chromium with a session cookie and checks
// that it shows the expected text; optionally saves a screenshot.
//
//   node check-page.mjs --url URL --cookie NAME=VALUE --expect TEXT [--expect TEXT…] [--screenshot FILE] [--width PX]
//
// With --width (a phone: 390), the page must fit that width
// (document.documentElement.scrollWidth <= PX), every table cell must be at
// least 120 px wide, and every ARN (code.arn, with its details opened) must
// wrap onto at most 4 lines.
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
    width: { type: 'string' },
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
  const width = values.width ? Number(values.width) : 1280;
  const context = await browser.newContext({ viewport: { width, height: 900 } });
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
  if (values.width) {
    const fit = await page.evaluate(() => {
      document.querySelectorAll('details').forEach((d) => { d.open = true; });
      const visible = (el) => el.getClientRects().length > 0 && !el.closest('[hidden]');
      return {
        scrollWidth: document.documentElement.scrollWidth,
        narrowCells: [...document.querySelectorAll('td')].filter(visible)
          .map((td) => [td.getBoundingClientRect().width, td.textContent.trim().slice(0, 40)])
          .filter(([w, t]) => w < 120 && t),
        arnLines: [...document.querySelectorAll('code.arn')].filter(visible).map((c) => {
          const lh = parseFloat(getComputedStyle(c).lineHeight) || 16;
          return [Math.round(c.getBoundingClientRect().height / lh), c.textContent];
        }).filter(([n]) => n > 4),
      };
    });
    console.log(`at ${width} px: ${JSON.stringify(fit)}`);
    if (fit.scrollWidth > width) problems.push(`the page is ${fit.scrollWidth} px wide at a ${width} px viewport`);
    for (const [w, t] of fit.narrowCells) problems.push(`a table cell is ${Math.round(w)} px wide: ${t}`);
    for (const [n, t] of fit.arnLines) problems.push(`an ARN wraps onto ${n} lines: ${t}`);
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
