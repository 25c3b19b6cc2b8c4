import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokerError } from './broker';
import { accountLabel, describeError, formatTimeLeft, pickerHeading, pickerIntro, pickerOptions, PICKER_BUTTON, roleLabel, truncate } from './format';
import { AwsCallError, CredentialsExpiredError } from './sigv4';

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
  assert.equal(accountLabel({ ...r, account_alias: '' }), '210987654321');
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
    { role_arn: 'arn:aws:iam::123456789012:role/BrokerDeveloper', provider_arn: '', account_id: '123456789012', account_alias: '', role_name: 'BrokerDeveloper', duration_seconds: 7200 },
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
