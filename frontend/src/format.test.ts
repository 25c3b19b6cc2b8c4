import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokerError } from './broker';
import { accountLabel, arnParts, describeError, formatDateTime, formatTimeLeft, pickerHeading, pickerIntro, pickerOptions, PICKER_BUTTON, roleLabel, truncate } from './format';
import { AwsCallError, CredentialsExpiredError } from './sigv4';
import { arnNodes } from './ui';
// The broker's own pages rewrite <time data-local-time> with this script; it must write times as the app does.
// @ts-expect-error: a plain JS module of the broker's, without types
import * as pages from '../../backend/static/local-time.js';

const pagesFormat = (pages as { formatDateTime: (d: Date, tz?: string) => string }).formatDateTime;

test('formatDateTime: one format, in the given zone, with its name', () => {
  const winter = new Date('2026-12-01T21:03:59Z');
  assert.equal(formatDateTime(winter, 'Europe/Paris'), '1 Dec 2026, 22:03 CET');
  assert.equal(formatDateTime(winter, 'UTC'), '1 Dec 2026, 21:03 UTC');
  assert.equal(formatDateTime(winter, 'America/New_York'), '1 Dec 2026, 16:03 GMT-5');
  assert.equal(formatDateTime(winter, 'Asia/Kolkata'), '2 Dec 2026, 02:33 GMT+5:30');
  // Summer time, and a September (whose short name some English locales write "Sept").
  assert.equal(formatDateTime(new Date('2026-09-05T07:00:00Z'), 'Europe/London'), '5 Sep 2026, 08:00 BST');
  assert.equal(formatDateTime(new Date('2026-01-01T00:00:00Z'), 'Europe/Paris'), '1 Jan 2026, 01:00 CET');
});

test('the broker\'s pages (backend/static/local-time.js) write times exactly as the app does', () => {
  const zones = ['UTC', 'Europe/Paris', 'Europe/London', 'America/Los_Angeles', 'Asia/Tokyo', 'Australia/Adelaide'];
  for (let m = 0; m < 12; m++) {
    const d = new Date(Date.UTC(2026, m, 28, 23, 59, 30));
    for (const z of zones) assert.equal(pagesFormat(d, z), formatDateTime(d, z), `${d.toISOString()} in ${z}`);
  }
});

test('arnParts cuts an ARN after each / and :, and nowhere else', () => {
  assert.deepEqual(arnParts('arn:aws:iam::123456789012:role/team/Dev-Role_1'), ['arn:', 'aws:', 'iam:', ':', '123456789012:', 'role/', 'team/', 'Dev-Role_1']);
  assert.equal(arnParts('arn:aws:sts::1:assumed-role/Dev/alice@example.com').join(''), 'arn:aws:sts::1:assumed-role/Dev/alice@example.com');
  assert.deepEqual(arnParts('no-separators'), ['no-separators']);
  assert.deepEqual(arnParts(''), []);
});

test('arnNodes: text nodes with a <wbr> after each / and :, never HTML from the string', () => {
  const made: string[] = [];
  const doc = {
    createTextNode: (t: string) => ({ kind: 'text', t }),
    createElement: (tag: string) => { made.push(tag); return { kind: 'el', tag }; },
  } as unknown as Pick<Document, 'createTextNode' | 'createElement'>;
  const nodes = arnNodes(doc, 'arn:aws:iam::1:role/<img src=x>') as unknown as { kind: string; t?: string; tag?: string }[];
  assert.deepEqual(nodes.map((n) => (n.kind === 'text' ? n.t : `<${n.tag}>`)), ['arn:', '<wbr>', 'aws:', '<wbr>', 'iam:', '<wbr>', ':', '<wbr>', '1:', '<wbr>', 'role/', '<wbr>', '<img src=x>']);
  assert.deepEqual([...new Set(made)], ['wbr'], 'only <wbr> elements are made; the rest is text');
});

test('formatTimeLeft', () => {
  assert.equal(formatTimeLeft(0), 'expired');
  assert.equal(formatTimeLeft(-5000), 'expired');
  assert.equal(formatTimeLeft(NaN), 'expired');
  assert.equal(formatTimeLeft(999), '0 s');
  assert.equal(formatTimeLeft(42_000), '42 s');
  assert.equal(formatTimeLeft(4 * 60_000 + 5_000), '4 min 05 s');
  assert.equal(formatTimeLeft(3600_000 + 4 * 60_000 + 59_000), '1 h 04 min');
});

test('account and role labels', () => {
  const r = { role_arn: 'arn:aws:iam::210987654321:role/ReadOnly', provider_arn: '', account_id: '210987654321', account_alias: 'staging', role_name: 'ReadOnly', duration_seconds: 3600 };
  assert.equal(accountLabel(r), 'staging (210987654321)');
  // The broker sends null for an account with no alias.
  assert.equal(accountLabel({ ...r, account_alias: null }), '210987654321');
  assert.equal(roleLabel({ ...r, account_alias: null }), 'ReadOnly in 210987654321');
  assert.equal(roleLabel(r), 'ReadOnly in staging (210987654321)');
});

test('describeError puts each failure in plain words', () => {
  const expired = describeError(new BrokerError(401, 'credentials_expired', 'Your AWS credentials have expired. Please sign in again.', 'r1', '/saml/login'));
  assert.equal(expired.kind, 'expired');
  assert.equal(expired.title, 'Your session has expired.');
  assert.equal(expired.signIn, true);
  assert.equal(expired.reference, 'r1');

  const notSignedIn = describeError(new BrokerError(401, 'not_signed_in', 'x'));
  assert.equal(notSignedIn.title, 'You are not signed in.');
  assert.equal(notSignedIn.signInLabel, 'Sign in');

  const refused = describeError(new BrokerError(502, 'AccessDenied', 'AWS refused the role.', 'r2'));
  assert.equal(refused.kind, 'refused');
  assert.equal(refused.title, 'AWS refused to issue credentials.');
  assert.equal(refused.detail, 'AWS refused the role.');
  assert.equal(refused.signIn, false);

  const notAllowed = describeError(new BrokerError(403, 'role_not_allowed', 'That role is not allowed.'), 'Switching role');
  assert.equal(notAllowed.kind, 'refused');
  assert.equal(notAllowed.title, 'Switching role: refused.');

  const unreachable = describeError(new BrokerError(0, 'broker_unreachable', 'x'));
  assert.equal(unreachable.kind, 'unreachable');
  assert.equal(unreachable.title, 'The broker cannot be reached.');

  const aws = describeError(new AwsCallError('sts', 403, 'ExpiredToken', 'The security token included in the request is expired', 'aws-req'), 'STS GetCallerIdentity');
  assert.equal(aws.kind, 'aws');
  assert.equal(aws.title, 'STS GetCallerIdentity: the AWS call failed (HTTP 403 ExpiredToken).');
  assert.equal(aws.reference, 'aws-req');

  const stale = describeError(new CredentialsExpiredError(new Date('2026-11-25T12:00:00Z')), 'STS GetCallerIdentity');
  assert.equal(stale.kind, 'expired');
  assert.equal(stale.title, 'STS GetCallerIdentity: not sent, because your AWS credentials have expired.');
  assert.equal(stale.signIn, false);

  const blocked = describeError(new TypeError('Failed to fetch'), 'PING');
  assert.equal(blocked.kind, 'aws');
  assert.match(blocked.title, /^PING: the request could not be sent/);
});

test('truncate keeps short bodies and cuts long ones', () => {
  assert.equal(truncate('abc', 10), 'abc');
  assert.equal(truncate('a'.repeat(15), 10), 'a'.repeat(10) + '\n… (5 more characters)');
});

test('the role picker\'s words (the same as the server\'s role_picker.html)', () => {
  const roles = [
    { role_arn: 'arn:aws:iam::123456789012:role/BrokerDeveloper', provider_arn: '', account_id: '123456789012', account_alias: null, role_name: 'BrokerDeveloper', duration_seconds: 7200 },
    { role_arn: 'arn:aws:iam::210987654321:role/ReadOnly', provider_arn: '', account_id: '210987654321', account_alias: 'staging', role_name: 'ReadOnly', duration_seconds: 3600 },
  ];
  const none = pickerOptions(roles, null);
  assert.deepEqual(none.map((o) => [o.name, o.account, o.meta, o.checked]), [
    ['BrokerDeveloper', '123456789012', 'up to 120 min', true],
    ['ReadOnly', 'staging · 210987654321', 'up to 60 min', false],
  ]);
  const inUse = pickerOptions(roles, 'arn:aws:iam::210987654321:role/ReadOnly');
  assert.deepEqual(inUse.map((o) => [o.meta, o.checked]), [['up to 120 min', false], ['up to 60 min · in use', true]]);
  assert.equal(PICKER_BUTTON, 'Use this role');
  assert.equal(pickerHeading(false), 'Choose an AWS role');
  assert.equal(pickerHeading(true), 'Switch role');
  assert.equal(pickerIntro(3, false), 'Your sign-in allows 3 AWS roles. Choose the one to work with; you can switch later.');
  assert.equal(pickerIntro(3, true), 'Switching gets new credentials for the role you choose.');
});
