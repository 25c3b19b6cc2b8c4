// CredentialStore: the page's AWS credentials, in memory only.
//
// Credentials never go to localStorage, sessionStorage, cookies or the URL;
// they live in this object and are dropped on sign-out, role switch or expiry.
// `get()` hands out the current credentials and fetches new ones from the
// broker when they are due; a timer does the same ahead of time so a call
// rarely waits. Concurrent refreshes share one broker request.
//
// When a refresh is due: credentials received with L ms left are refreshed
// `min(marginMs, L / 2)` before they expire (5 minutes by default, half the
// lifetime for short-lived ones such as the emulator's 90 s). The broker
// itself only re-exchanges within 60 s of expiry and hands back the same
// credentials before that, so the interval halves until new ones come.
//
// The broker's clock decides expiry: when its answer carries a `Date` header
// that differs from the browser's clock, the difference (`skewMs`) is applied
// both to expiry times here and to the signing time in sigv4.ts.

import { BrokerError, type CredentialsAnswer } from './broker';
import type { AwsCredentials } from './sigv4';

/** Credentials as handed out by the store. */
export interface Credentials extends AwsCredentials {
  sessionToken: string;
  /** Expiry by the broker's clock, as it sent it. */
  expiration: Date;
  roleArn: string;
  region: string;
}

export interface CredentialSource {
  getCredentials(): Promise<CredentialsAnswer>;
}

export type TimerHandle = unknown;

export interface CredentialStoreOptions {
  /** Milliseconds since the epoch; `Date.now` by default. */
  now?: () => number;
  setTimeout?: (fn: () => void, ms: number) => TimerHandle;
  clearTimeout?: (handle: TimerHandle) => void;
  /** Refresh this long before expiry at most (default 5 minutes). */
  marginMs?: number;
  /** Never schedule a refresh sooner than this after the last one (default 5 s), to avoid a tight loop. */
  minDelayMs?: number;
  /** After a failed background refresh, retry after at most this long (default 30 s). */
  retryMs?: number;
  /** A skew below this is treated as none (the Date header has 1 s resolution). Default 2 s. */
  skewThresholdMs?: number;
}

export interface CredentialEvents {
  refreshed: Credentials;
  /** The broker answered 401: the session or the credentials cannot be renewed; sign in again. */
  expired: BrokerError;
  /** A background refresh failed for another reason; the current credentials are still in use. */
  'refresh-failed': unknown;
}

type Listener<K extends keyof CredentialEvents> = (payload: CredentialEvents[K]) => void;

interface Held {
  creds: Credentials;
  /** Expiry on the local clock. */
  localExpiry: number;
  /** When to fetch new ones, on the local clock. */
  refreshAt: number;
}

/** How long before a usable credential's expiry we stop handing it out while a refresh fails. */
const HARD_FLOOR_MS = 10_000;

export class CredentialStore {
  private readonly source: CredentialSource;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => TimerHandle;
  private readonly clearTimer: (handle: TimerHandle) => void;
  private readonly marginMs: number;
  private readonly minDelayMs: number;
  private readonly retryMs: number;
  private readonly skewThresholdMs: number;

  private held: Held | null = null;
  private inflight: Promise<Credentials> | null = null;
  private timer: TimerHandle | null = null;
  /** Bumped by clear(): an answer that arrives for an older generation is thrown away. */
  private generation = 0;
  private readonly listeners: { [K in keyof CredentialEvents]: Set<Listener<K>> } = {
    refreshed: new Set(),
    expired: new Set(),
    'refresh-failed': new Set(),
  };

  /** Broker clock minus browser clock, in ms (0 when within the threshold or unknown). */
  skewMs = 0;

  constructor(source: CredentialSource, options: CredentialStoreOptions = {}) {
    this.source = source;
    this.now = options.now ?? (() => Date.now());
    this.setTimer = options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    this.marginMs = options.marginMs ?? 5 * 60_000;
    this.minDelayMs = options.minDelayMs ?? 5_000;
    this.retryMs = options.retryMs ?? 30_000;
    this.skewThresholdMs = options.skewThresholdMs ?? 2_000;
  }

  on<K extends keyof CredentialEvents>(event: K, listener: Listener<K>): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  private emit<K extends keyof CredentialEvents>(event: K, payload: CredentialEvents[K]): void {
    for (const l of [...this.listeners[event]]) {
      try {
        l(payload);
      } catch {
        // A listener's failure must not break the store.
      }
    }
  }

  /** The credentials held now, without asking the broker (null when none). */
  peek(): Credentials | null {
    return this.held?.creds ?? null;
  }

  /** Milliseconds until the held credentials expire (negative once expired), or null when none are held. */
  msLeft(): number | null {
    return this.held ? this.held.localExpiry - this.now() : null;
  }

  /** When the next refresh is due on the local clock, or null. For tests and diagnostics. */
  refreshDueAt(): number | null {
    return this.held?.refreshAt ?? null;
  }

  /**
   * Current credentials, fetched or refreshed when due. While a refresh fails for a reason other
   * than 401 and the held credentials still have more than 10 s left, those are returned.
   */
  async get(): Promise<Credentials> {
    const held = this.held;
    const now = this.now();
    if (held && now < held.refreshAt) return held.creds;
    if (held && now < held.localExpiry - HARD_FLOOR_MS) {
      try {
        return await this.refresh();
      } catch (e) {
        if (e instanceof BrokerError && (e.status === 401 || e.status === 409)) throw e;
        if (this.held === held) return held.creds;
        throw e;
      }
    }
    return this.refresh();
  }

  /** Fetches new credentials now; concurrent callers share one broker request. */
  refresh(): Promise<Credentials> {
    if (this.inflight) return this.inflight;
    const p = this.load().finally(() => {
      if (this.inflight === p) this.inflight = null;
    });
    this.inflight = p;
    return p;
  }

  /** Drops the credentials and any pending refresh (sign-out, role switch, expiry). */
  clear(): void {
    this.generation++;
    this.held = null;
    this.inflight = null;
    this.cancelTimer();
  }

  private async load(): Promise<Credentials> {
    const gen = this.generation;
    let answer: CredentialsAnswer;
    try {
      answer = await this.source.getCredentials();
    } catch (e) {
      if (gen !== this.generation) throw e;
      if (e instanceof BrokerError && e.status === 401) {
        this.clear();
        this.emit('expired', e);
      } else if (e instanceof BrokerError && e.status === 409) {
        // No role chosen: nothing to hold until the person picks one.
        this.clear();
      } else {
        this.scheduleRetry();
      }
      throw e;
    }
    if (gen !== this.generation) {
      // Cleared while the request was out (e.g. a role switch): these may be the old role's.
      return this.get();
    }
    const received = this.now();
    const c = answer.credentials;
    const skew = answer.serverTime === null ? 0 : answer.serverTime - received;
    this.skewMs = Math.abs(skew) >= this.skewThresholdMs ? skew : 0;
    const expiration = new Date(c.Expiration);
    const localExpiry = expiration.getTime() - this.skewMs;
    const lifetime = Math.max(0, localExpiry - received);
    const margin = Math.min(this.marginMs, lifetime / 2);
    const refreshAt = Math.max(received + this.minDelayMs, localExpiry - margin);
    const creds: Credentials = {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration,
      roleArn: c.RoleArn,
      region: c.Region,
    };
    this.held = { creds, localExpiry, refreshAt };
    this.schedule(refreshAt);
    this.emit('refreshed', creds);
    return creds;
  }

  private schedule(at: number): void {
    this.cancelTimer();
    const delay = Math.max(0, at - this.now());
    this.timer = this.setTimer(() => {
      this.timer = null;
      this.refresh().catch((e) => {
        if (!(e instanceof BrokerError && (e.status === 401 || e.status === 409))) this.emit('refresh-failed', e);
      });
    }, delay);
  }

  /** After a transient failure, try again while the held credentials can still be used. */
  private scheduleRetry(): void {
    const held = this.held;
    if (!held) return;
    const left = held.localExpiry - this.now();
    if (left <= 0) return;
    this.schedule(this.now() + Math.max(1_000, Math.min(this.retryMs, left / 2)));
  }

  private cancelTimer(): void {
    if (this.timer !== null) {
      this.clearTimer(this.timer);
      this.timer = null;
    }
  }
}

/**
 * True for a same-origin relative path: one leading '/', not '//' or '/\', no backslash and no
 * control character anywhere. Absolute URLs, `javascript:` and protocol-relative URLs are refused.
 */
export function isSafeRelativePath(value: string): boolean {
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096) return false;
  if (value[0] !== '/') return false;
  if (value[1] === '/' || value[1] === '\\') return false;
  if (value.includes('\\')) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return false;
  try {
    const base = 'https://broker.invalid';
    return new URL(value, base).origin === base;
  } catch {
    return false;
  }
}

/**
 * Where to send a person whose session or credentials expired: the broker's `login_url` when it is a
 * same-origin relative path, otherwise `/saml/login`. Either way its `return_to` is this page
 * (`pathname + hash`), so after the new sign-in the person lands back where they were; the broker
 * only knows where the sign-in started, which may be `/`.
 */
export function signInTarget(loginUrl: string | null | undefined, loc: { pathname: string; hash: string }): string {
  let back = loc.pathname + loc.hash;
  if (!isSafeRelativePath(back)) back = '/';
  if (loginUrl && isSafeRelativePath(loginUrl)) {
    const u = new URL(loginUrl, 'https://broker.invalid');
    if (u.pathname !== '/saml/login') return loginUrl;
    u.searchParams.set('return_to', back);
    return u.pathname + u.search;
  }
  return '/saml/login?return_to=' + encodeURIComponent(back);
}

/**
 * The broker page that says "Your AWS session ended; signing you in again…" and then follows
 * `target` (a `/saml/login` URL): the hand-over explains itself before the IdP's page appears.
 */
export function handOverTarget(target: string): string {
  return '/signing-in?next=' + encodeURIComponent(target);
}
