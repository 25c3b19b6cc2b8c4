// The browser app: loads the session and the app config from the broker,
// keeps AWS credentials fresh in memory, and wires the page's controls.

import { BrokerClient, BrokerError, type ApiEndpoint, type AppConfig, type Session } from './broker';
import { CredentialStore, handOverTarget, signInTarget } from './credentials';
import { describeError, formatDateTime, roleLabel, truncate } from './format';
import { AwsCallError, createSignedFetch, stsGetCallerIdentity, type SignedFetch } from './sigv4';
import { View } from './ui';

/** While expired credentials are held, ask the broker for new ones at most this often. */
const EXPIRED_RETRY_MS = 10_000;

/** When `/api/app-config` is missing or fails: STS from the session's region and endpoint, no API buttons. */
function fallbackConfig(s: Session): AppConfig {
  const region = s.region || 'us-east-1';
  return { region, sts_endpoint: s.endpoint_url ?? `https://sts.${region}.amazonaws.com`, api_endpoints: [] };
}

/** Pretty-prints a JSON body; other bodies are shown as they came. */
function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** The AWS error of an API endpoint's answer (API Gateway by default): `x-amzn-ErrorType` and the JSON `message`, when present. */
function apiError(e: ApiEndpoint, res: Response, body: string): AwsCallError {
  let message = `${e.name} answered HTTP ${res.status}.`;
  try {
    const j: unknown = JSON.parse(body);
    if (j && typeof j === 'object') {
      const m = (j as Record<string, unknown>).message ?? (j as Record<string, unknown>).Message;
      if (typeof m === 'string' && m) message = m;
    }
  } catch {
    // not JSON: keep the generic message
  }
  const type = res.headers.get('x-amzn-ErrorType');
  return new AwsCallError(e.service, res.status, type ? type.split(':')[0] : null, message, res.headers.get('x-amzn-RequestId'));
}

class App {
  private readonly view: View;
  private readonly broker = new BrokerClient();
  private readonly store: CredentialStore;
  private readonly signedFetch: SignedFetch;
  private session: Session | null = null;
  private config: AppConfig | null = null;
  /** Set once the broker said the session is over: the page stops fetching. */
  private ended = false;
  private lastExpiration: Date | null = null;
  /** Whether the error on show came from a background refresh (cleared when one succeeds). */
  private errorFromRefresh = false;
  private busy = { role: false, sts: false, api: false, signOut: false };
  /** When the page last asked for new credentials because the held ones had run out. */
  private lastExpiredRetry = 0;

  constructor(view: View) {
    this.view = view;
    this.store = new CredentialStore(this.broker);
    this.signedFetch = createSignedFetch(() => this.store.get(), { now: () => new Date(Date.now() + this.store.skewMs) });
    // Credentials ran out while the app was in use and the broker cannot renew
    // them: the broker's hand-over page says so, then sends the person through
    // sign-in and back to this page.
    this.store.on('expired', (e) => {
      this.fail(e);
      if (!describeError(e, '').signIn) return;
      const target = signInTarget(e instanceof BrokerError ? e.loginUrl : null, this.here());
      window.location.assign(handOverTarget(target));
    });
    this.store.on('refreshed', (c) => {
      this.lastExpiration = c.expiration;
      if (this.errorFromRefresh) {
        this.view.clearError();
        this.errorFromRefresh = false;
      }
      this.tick();
    });
    this.store.on('refresh-failed', (e) => {
      this.fail(e, 'Renewing your AWS credentials');
      this.errorFromRefresh = true;
    });
  }

  private here(): { pathname: string; hash: string } {
    return { pathname: window.location.pathname, hash: window.location.hash };
  }

  /** Shows a failure in the alert region; on a 401 the session is over and the page offers to sign in again. */
  private fail(err: unknown, context = ''): void {
    const p = describeError(err, context);
    const href = p.signIn ? signInTarget(err instanceof BrokerError ? err.loginUrl : null, this.here()) : null;
    this.errorFromRefresh = false;
    this.view.showError(p, href);
    if (p.signIn) {
      this.ended = true;
      this.store.clear();
      this.tick();
    }
  }

  private tick(): void {
    if (this.ended) {
      this.view.setTimeLeft(this.lastExpiration ? 0 : null, this.lastExpiration);
      this.view.setActionsBlocked('These calls are off: your AWS session has ended. Sign in again to get new credentials.');
      return;
    }
    const c = this.store.peek();
    const left = this.store.msLeft();
    this.view.setTimeLeft(left, c ? c.expiration : null);
    if (c && left !== null && left <= 0) {
      this.view.setActionsBlocked(`These calls are off: your AWS credentials expired at ${formatDateTime(c.expiration)}. Getting new ones…`);
      this.retryExpired();
    } else {
      this.view.setActionsBlocked(null);
    }
  }

  /** The held credentials have run out (a timer slept, a renewal failed): ask again, now and then. */
  private retryExpired(): void {
    const now = Date.now();
    if (now - this.lastExpiredRetry < EXPIRED_RETRY_MS) return;
    this.lastExpiredRetry = now;
    this.store.get().catch((e) => {
      // A 401 ends the session through the 'expired' event.
      if (e instanceof BrokerError && e.status === 401) return;
      this.fail(e, 'Renewing your AWS credentials');
      this.errorFromRefresh = true;
    });
  }

  async start(): Promise<void> {
    this.wire();
    let session: Session;
    try {
      session = await this.broker.getSession();
    } catch (e) {
      this.view.setLoading(false);
      if (e instanceof BrokerError && e.status === 401) {
        // Not signed in yet (or the session ended while the page was closed):
        // nothing went wrong, so a sign-in panel rather than an error.
        this.ended = true;
        this.view.showSignInPanel(signInTarget(e.loginUrl, this.here()));
        return;
      }
      this.fail(e);
      return;
    }
    try {
      this.config = await this.broker.getAppConfig();
    } catch {
      this.config = fallbackConfig(session);
    }
    this.view.setLoading(false);
    this.view.renderApiButtons(this.config.api_endpoints, (e, b) => void this.callApi(e, b));
    this.show(session);
    window.setInterval(() => this.tick(), 1000);
    document.addEventListener('visibilitychange', () => {
      // Timers sleep in background tabs; catch up when the person comes back.
      if (document.visibilityState === 'visible' && !this.ended && this.session?.role_arn) {
        this.store.get().catch((e) => this.fail(e, 'Renewing your AWS credentials'));
      }
    });
    if (session.role_arn) await this.loadCredentials();
  }

  private show(s: Session): void {
    this.session = s;
    this.view.renderIdentity(s);
    this.view.renderCurrentRole(s);
    this.view.renderRoles(s);
    if (s.credentials_expiration) this.lastExpiration = new Date(s.credentials_expiration);
    this.tick();
  }

  private async loadCredentials(): Promise<void> {
    try {
      const c = await this.store.get();
      this.lastExpiration = c.expiration;
      this.tick();
    } catch (e) {
      this.fail(e, 'Getting your AWS credentials');
    }
  }

  private wire(): void {
    const v = this.view;
    v.roleForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.switchRole();
    });
    v.stsCall.addEventListener('click', () => void this.callSts());
    v.signOut.addEventListener('click', () => void this.signOut());
  }

  private async switchRole(): Promise<void> {
    const s = this.session;
    if (!s || this.busy.role || this.ended) return;
    const wanted = s.roles.find((r) => r.role_arn === this.view.chosenRole());
    if (!wanted) return;
    const arn = wanted.role_arn;
    if (arn === s.role_arn) {
      this.view.announce(`${roleLabel(wanted)} is already in use.`);
      return;
    }
    const first = !s.role_arn;
    this.busy.role = true;
    this.view.switchRole.setAttribute('aria-disabled', 'true');
    this.view.clearError();
    this.view.announce(`Switching to ${roleLabel(wanted)}…`);
    try {
      const next = await this.broker.chooseRole(arn, s.csrf_token);
      this.store.clear();
      this.view.clearResult(this.view.stsResult);
      this.view.clearResult(this.view.apiResult);
      this.show(next);
      await this.loadCredentials();
      if (!this.ended) this.view.announce(`Now using ${roleLabel(wanted)}.`);
      // The switcher moved (or its options were rebuilt): put focus somewhere predictable.
      const target = first ? document.getElementById('current-role-h') : this.view.roleOptions.querySelector<HTMLElement>('input:checked');
      target?.focus();
    } catch (e) {
      this.fail(e, 'Switching role');
    } finally {
      this.busy.role = false;
      this.view.switchRole.removeAttribute('aria-disabled');
    }
  }

  private async callSts(): Promise<void> {
    const cfg = this.config;
    if (!cfg || this.busy.sts || this.ended) return;
    this.busy.sts = true;
    this.view.setBusy(this.view.stsResult, 'Calling STS GetCallerIdentity…');
    try {
      const id = await stsGetCallerIdentity(this.signedFetch, cfg.sts_endpoint, cfg.region);
      this.view.renderStsResult(id);
    } catch (e) {
      this.view.renderCallError(this.view.stsResult, describeError(e, 'STS GetCallerIdentity'));
      this.fail(e, 'STS GetCallerIdentity');
    } finally {
      this.busy.sts = false;
    }
  }

  private async callApi(e: ApiEndpoint, button: HTMLButtonElement): Promise<void> {
    if (this.busy.api || this.ended) return;
    this.busy.api = true;
    button.setAttribute('aria-disabled', 'true');
    this.view.setBusy(this.view.apiResult, `Calling ${e.name}…`);
    try {
      const res = await this.signedFetch({
        url: e.url,
        method: e.method,
        headers: { Accept: 'application/json, text/plain;q=0.9, */*;q=0.5' },
        service: e.service,
        region: e.region,
      });
      const body = await res.text();
      this.view.renderApiResult(e.name, res.status, res.statusText, truncate(pretty(body)));
      if (!res.ok) this.fail(apiError(e, res, body), e.name);
    } catch (err) {
      this.view.renderCallError(this.view.apiResult, describeError(err, e.name));
      this.fail(err, e.name);
    } finally {
      this.busy.api = false;
      button.removeAttribute('aria-disabled');
    }
  }

  private async signOut(): Promise<void> {
    const s = this.session;
    if (!s || this.busy.signOut) return;
    this.busy.signOut = true;
    try {
      await this.broker.logout(s.csrf_token);
    } catch (e) {
      // Already signed out on the broker (401) is as good as signing out now.
      if (!(e instanceof BrokerError && e.status === 401)) {
        this.busy.signOut = false;
        this.fail(e, 'Signing out');
        return;
      }
    }
    this.store.clear();
    this.session = null;
    window.location.assign('/signed-out');
  }
}

function boot(): void {
  const app = new App(new View(document));
  void app.start();
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', boot);
} else {
  boot();
}
