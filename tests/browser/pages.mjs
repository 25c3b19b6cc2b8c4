// Opens several broker pages (and the web app) in Debian's Chromium and
// checks they share one header and one look:
//
// - the same header items, in order (product name linking home, Account, Web
//   app, Audit trail for admins, Sign out), with --header naming them;
// - a skip link that is the first thing Tab reaches and moves focus to #main;
// - the same computed styles for header links, the Sign out button, links and
//   buttons in the page, and the focus ring.
//
//   node pages.mjs --base URL [--cookie NAME=VALUE] --path /a --path /b --header "saml-broker|Account|…"
import { chromium } from 'playwright-core';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    cookie: { type: 'string' },
    path: { type: 'string', multiple: true, default: [] },
    header: { type: 'string' },
  },
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  if (values.cookie) {
    const [name, ...rest] = values.cookie.split('=');
    await context.addCookies([{ name, value: rest.join('='), url: values.base }]);
  }
  let first = null;
  for (const p of values.path) {
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`${p}: page error: ${e.message}`));
    await page.goto(values.base + p, { waitUntil: 'load' });
    // The web app fills its header once the session has loaded.
    await page.waitForFunction(() => !document.querySelector('#loading') || document.querySelector('#loading').hidden, null, { timeout: 15000 });
    const facts = await page.evaluate(() => {
      const visible = (el) => el && !el.closest('[hidden]') && el.getClientRects().length > 0;
      const style = (el, props) => {
        if (!el) return null;
        const cs = getComputedStyle(el);
        return Object.fromEntries(props.map((k) => [k, cs.getPropertyValue(k)]));
      };
      const header = [...document.querySelectorAll('header.bar a, header.bar button')].filter(visible);
      return {
        items: header.map((e) => e.textContent.trim()),
        brandHref: document.querySelector('header.bar .brand')?.getAttribute('href'),
        skip: document.querySelector('a.skip-link')?.getAttribute('href'),
        mainId: document.querySelector('main')?.id,
        bar: style(document.querySelector('header.bar'), ['background-color', 'padding-top', 'font-family']),
        navLink: style(header.find((e) => e.tagName === 'A' && !e.classList.contains('brand')), ['color', 'font-size', 'text-decoration-line']),
        signOut: style(document.querySelector('#sign-out'), ['background-color', 'border-top-color', 'border-radius', 'font-size', 'padding-left']),
        mainLink: style([...document.querySelectorAll('main a:not(.button)')].find(visible), ['color', 'text-decoration-line']),
        mainButton: style([...document.querySelectorAll('main button, main .button')].find(visible), ['background-color', 'color', 'border-radius', 'min-height', 'font-size']),
      };
    });
    await page.keyboard.press('Tab');
    facts.firstTab = await page.evaluate(() => (document.activeElement?.classList.contains('skip-link') ? 'skip-link' : document.activeElement?.outerHTML.slice(0, 80)));
    facts.focusRing = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle + ' ' + getComputedStyle(document.activeElement).outlineWidth);
    await page.keyboard.press('Enter');
    facts.afterSkip = await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
    console.log(`${p}: ${JSON.stringify(facts)}`);
    if (values.header && facts.items.join('|') !== values.header) problems.push(`${p}: header items ${facts.items.join('|')}, expected ${values.header}`);
    if (facts.brandHref !== '/') problems.push(`${p}: the product name does not link home`);
    if (facts.skip !== '#main' || facts.mainId !== 'main') problems.push(`${p}: no skip link to #main`);
    if (facts.firstTab !== 'skip-link') problems.push(`${p}: Tab reaches ${facts.firstTab} first, not the skip link`);
    if (facts.afterSkip !== 'main') problems.push(`${p}: the skip link moved focus to ${facts.afterSkip}`);
    if (first) {
      for (const k of ['bar', 'navLink', 'signOut', 'mainLink', 'mainButton', 'focusRing']) {
        if (facts[k] && first.facts[k] && JSON.stringify(facts[k]) !== JSON.stringify(first.facts[k])) {
          problems.push(`${p}: ${k} ${JSON.stringify(facts[k])} differs from ${first.path}'s ${JSON.stringify(first.facts[k])}`);
        }
      }
    } else {
      first = { path: p, facts };
    }
    await page.close();
  }
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('pages: one header and one look');
