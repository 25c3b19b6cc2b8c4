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
// --timezone ID runs the browser in that zone (e.g. Europe/Paris). With
// --local-times, every <time data-local-time> must have been rewritten by
// /static/local-time.js: its text no longer the UTC fallback (kept as its
// title) and not ending in "UTC". Each --wbr SELECTOR must match an element
// with class "arn" holding at least one <wbr> and no line break elsewhere.
// --steady SELECTOR waits for that element to show a digit, then checks it
// has tabular figures and keeps its width while its text changes (a
// countdown that does not move the page).
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
    timezone: { type: 'string' },
    'local-times': { type: 'boolean', default: false },
    wbr: { type: 'string', multiple: true, default: [] },
    steady: { type: 'string' },
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
  const context = await browser.newContext({ viewport: { width, height: 900 }, ...(values.timezone ? { timezoneId: values.timezone } : {}) });
  if (values.cookie) {
    const [name, ...rest] = values.cookie.split('=');
    await context.addCookies([{ name, value: rest.join('='), url: new URL('/', values.url).href }]);
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
  if (values.steady) {
    const sel = values.steady;
    await page.waitForFunction((s) => /\d/.test(document.querySelector(s)?.textContent || ''), sel, { timeout: 15000 })
      .catch(async () => { throw new Error(`${sel} showed no figures: ${problems.join('; ')}\n${await page.locator('body').innerText()}`); });
    const sample = () => page.evaluate((s) => {
      const el = document.querySelector(s);
      const next = el.nextElementSibling;
      return { text: el.textContent, width: el.getBoundingClientRect().width, nextLeft: next ? next.getBoundingClientRect().left : null, numeric: getComputedStyle(el).fontVariantNumeric, overflows: el.scrollWidth > el.clientWidth + 1 };
    }, sel);
    const a = await sample();
    await page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent !== t, [sel, a.text], { timeout: 5000 });
    const b = await sample();
    console.log(`steady ${sel}: ${JSON.stringify([a, b])}`);
    if (!a.numeric.includes('tabular-nums')) problems.push(`${sel} has font-variant-numeric ${a.numeric}, not tabular-nums`);
    if (a.width !== b.width || a.nextLeft !== b.nextLeft) problems.push(`${sel} moved: ${JSON.stringify(a)} then ${JSON.stringify(b)}`);
    if (a.overflows || b.overflows) problems.push(`${sel} is too narrow for its text`);
  }
  if (values['local-times']) {
    const times = await page.evaluate(() => [...document.querySelectorAll('time[data-local-time]')].map((t) => ({ text: t.textContent, title: t.title, datetime: t.getAttribute('datetime') })));
    console.log(`local times: ${JSON.stringify(times)}`);
    if (times.length === 0) problems.push('no <time data-local-time> on the page');
    for (const t of times) {
      if (!t.title || t.text === t.title || /UTC$/.test(t.text)) problems.push(`a time still shows its UTC fallback: ${JSON.stringify(t)}`);
    }
  }
  for (const sel of values.wbr) {
    const arn = await page.evaluate((s) => {
      const el = document.querySelector(s);
      if (!el) return null;
      const cs = getComputedStyle(el);
      return { wbr: el.querySelectorAll('wbr').length, arn: el.classList.contains('arn'), wrap: cs.overflowWrap, wordBreak: cs.wordBreak, text: el.textContent };
    }, sel);
    console.log(`arn ${sel}: ${JSON.stringify(arn)}`);
    if (!arn) problems.push(`no element matches ${sel}`);
    else if (!arn.arn || arn.wbr === 0 || arn.wrap !== 'normal' || arn.wordBreak !== 'keep-all') problems.push(`${sel} may break mid-word: ${JSON.stringify(arn)}`);
  }
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
