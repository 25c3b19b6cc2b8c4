// Pure helpers that turn values into the words the page shows. No DOM here,
// so the unit tests run them under node.

import { BrokerError, type RoleInfo } from './broker';
import { AwsCallError, CredentialsExpiredError } from './sigv4';

/** "1 h 04 min", "4 min 05 s", "42 s", or "expired". */
export function formatTimeLeft(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return 'expired';
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return `${h} h ${pad(m)} min`;
  if (m > 0) return `${m} min ${pad(s)} s`;
  return `${s} s`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The one way the app writes a time: "1 Dec 2026, 22:03 CET", in the person's own time zone (or
 * the one given, e.g. "UTC"), 24-hour, with the zone's short English name ("CET", "BST", "UTC",
 * or "GMT-5" where English has no abbreviation). The broker's pages show times the same way
 * (backend/static/local-time.js; format.test.ts checks that the two agree).
 */
export function formatDateTime(d: Date, timeZone?: string): string {
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
  const get = (t: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === t)?.value ?? '';
  return `${Number(get('day'))} ${MONTHS[Number(get('month')) - 1]} ${get('year')}, ${get('hour')}:${get('minute')} ${get('timeZoneName')}`;
}

/**
 * An ARN cut after each "/" and ":", the only places it may wrap: the page puts a <wbr> between the
 * pieces (ui.ts `arnCode`) and the CSS class `arn` keeps it from breaking anywhere else.
 */
export function arnParts(arn: string): string[] {
  return arn.split(/(?<=[/:])/).filter((p) => p !== '');
}

/** "staging (210987654321)" or the bare id when the account has no alias. */
export function accountLabel(role: Pick<RoleInfo, 'account_alias' | 'account_id'>): string {
  return role.account_alias ? `${role.account_alias} (${role.account_id})` : role.account_id;
}

/**
 * The role picker's words, the same as the broker's server-rendered picker
 * (backend/templates/role_picker.html): heading, intro, each option, button.
 */
export const PICKER_BUTTON = 'Use this role';

export function pickerHeading(inUse: boolean): string {
  return inUse ? 'Switch role' : 'Choose an AWS role';
}

export function pickerIntro(count: number, inUse: boolean): string {
  if (inUse) return 'Switching gets new credentials for the role you choose.';
  return count === 1
    ? 'Your sign-in allows one AWS role. Use it to get credentials.'
    : `Your sign-in allows ${count} AWS roles. Choose the one to work with; you can switch later.`;
}

export interface PickerOption {
  roleArn: string;
  /** "ReadOnly" */
  name: string;
  /** "staging · 210987654321" or "210987654321" */
  account: string;
  /** "up to 120 min", then " · in use" for the role in use */
  meta: string;
  checked: boolean;
}

/** The picker's options: the role in use is checked (and says so); with none in use, the first. */
export function pickerOptions(roles: RoleInfo[], current: string | null): PickerOption[] {
  const inUse = roles.some((r) => r.role_arn === current);
  return roles.map((r, i) => ({
    roleArn: r.role_arn,
    name: r.role_name,
    account: r.account_alias ? `${r.account_alias} · ${r.account_id}` : r.account_id,
    meta: `up to ${Math.floor(r.duration_seconds / 60)} min${r.role_arn === current ? ' · in use' : ''}`,
    checked: inUse ? r.role_arn === current : i === 0,
  }));
}

/** The text of one role in the switcher. */
export function roleLabel(role: RoleInfo): string {
  return `${role.role_name} in ${accountLabel(role)}`;
}

export type ProblemKind = 'expired' | 'refused' | 'unreachable' | 'aws' | 'no_role' | 'stale' | 'other';

export interface Problem {
  kind: ProblemKind;
  /** One sentence saying what happened. */
  title: string;
  /** Plain-words detail, often the broker's own message. */
  detail: string | null;
  /** The request id to quote to an admin. */
  reference: string | null;
  /** True when the way forward is to sign in again. */
  signIn: boolean;
  /** The words on the sign-in button, when not "Sign in again". */
  signInLabel?: string;
}

/** What to tell the person about a failure, in plain words. */
export function describeError(err: unknown, context = ''): Problem {
  const p = classify(err, context);
  return { ...p, title: sentence(p.title) };
}

function classify(err: unknown, context: string): Problem {
  const what = context ? `${context}: ` : '';
  if (err instanceof BrokerError) {
    const ref = err.requestId;
    if (err.code === 'broker_unreachable') {
      return { kind: 'unreachable', title: `${what}the broker cannot be reached.`, detail: 'Check your network connection, then try again.', reference: null, signIn: false };
    }
    if (err.status === 401) {
      if (err.code === 'not_signed_in') {
        return { kind: 'expired', title: 'You are not signed in.', detail: 'Your session has ended, or you have not signed in yet. Sign in to get AWS credentials for this page.', reference: ref, signIn: true, signInLabel: 'Sign in' };
      }
      return { kind: 'expired', title: 'Your session has expired.', detail: err.message || 'Sign in again to get new AWS credentials.', reference: ref, signIn: true };
    }
    if (err.status === 409 && err.code === 'no_role') {
      return { kind: 'no_role', title: 'Choose an AWS role first.', detail: err.message, reference: ref, signIn: false };
    }
    if (err.status === 403 && err.code === 'csrf') {
      return { kind: 'stale', title: 'This page is out of date.', detail: 'Reload the page and try again.', reference: ref, signIn: false };
    }
    if (err.status === 403) {
      return { kind: 'refused', title: `${what}refused.`, detail: err.message, reference: ref, signIn: false };
    }
    if (err.status === 502) {
      return { kind: 'refused', title: 'AWS refused to issue credentials.', detail: err.message, reference: ref, signIn: false };
    }
    return { kind: 'other', title: `${what}the broker answered with an error (HTTP ${err.status || 'none'}).`, detail: err.message, reference: ref, signIn: false };
  }
  if (err instanceof CredentialsExpiredError) {
    return { kind: 'expired', title: `${what}not sent, because your AWS credentials have expired.`, detail: 'Nothing was signed with them. New credentials are being requested; try again when they arrive.', reference: null, signIn: false };
  }
  if (err instanceof AwsCallError) {
    const code = err.code ? ` ${err.code}` : '';
    return { kind: 'aws', title: `${what}the AWS call failed (HTTP ${err.status}${code}).`, detail: err.message, reference: err.requestId, signIn: false };
  }
  if (err instanceof TypeError) {
    // fetch() rejects with a TypeError when the network, CORS or the CSP stops the request.
    return { kind: 'aws', title: `${what}the request could not be sent.`, detail: 'The network, the browser (CORS) or the page\'s security policy blocked it.', reference: null, signIn: false };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { kind: 'other', title: `${what}something went wrong.`, detail: message, reference: null, signIn: false };
}

/** Capitalises the first letter (titles built from a context start lowercase after it). */
export function sentence(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

/** Cuts a response body for display. */
export function truncate(s: string, max = 4000): string {
  return s.length > max ? `${s.slice(0, max)}\n… (${s.length - max} more characters)` : s;
}
