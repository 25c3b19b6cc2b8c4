// saml-broker: shows each <time data-local-time datetime="RFC 3339"> on the
// broker's pages in the person's own time zone, with the zone's name:
// "1 Dec 2026, 22:03 CET". The server writes the same time in UTC
// ("1 Dec 2026, 21:03 UTC") as the element's text, which stays when this
// script does not run; after it runs, the UTC text is the element's title.
// The audit pages carry no data-local-time: they stay in UTC.
//
// Served as /static/local-time.js (the CSP allows only the broker's own
// scripts, no inline ones). The web app writes times with formatDateTime in
// frontend/src/format.ts; frontend/src/format.test.ts checks that the two
// give the same text.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "1 Dec 2026, 22:03 CET", in `timeZone` (default: the browser's own). */
export function formatDateTime(d, timeZone) {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).formatToParts(d);
  const get = (t) => parts.find((p) => p.type === t)?.value ?? '';
  return `${Number(get('day'))} ${MONTHS[Number(get('month')) - 1]} ${get('year')}, ${get('hour')}:${get('minute')} ${get('timeZoneName')}`;
}

/** Rewrites every `time[data-local-time]` under `root` to local time. */
export function localizeTimes(root) {
  for (const el of root.querySelectorAll('time[data-local-time]')) {
    const d = new Date(el.getAttribute('datetime') || '');
    if (Number.isNaN(d.getTime())) continue;
    if (!el.title) el.title = el.textContent;
    el.textContent = formatDateTime(d);
    el.setAttribute('data-localized', '');
  }
}

if (typeof document !== 'undefined') localizeTimes(document);
