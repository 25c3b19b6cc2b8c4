// The page's DOM: fills the static skeleton of index.html.
//
// Rules kept here: text goes in with textContent only (never innerHTML), no
// inline style attributes (the CSP forbids them; state is shown with classes
// and the `hidden` attribute), and every control has a label.

import type { ApiEndpoint, Session } from './broker';
import { accountLabel, arnParts, formatDateTime, formatTimeLeft, PICKER_BUTTON, pickerHeading, pickerIntro, pickerOptions, type Problem } from './format';
import type { CallerIdentity } from './sigv4';

function byId<T extends HTMLElement>(doc: Document, id: string): T {
  const el = doc.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

function make<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const el = doc.createElement(tag);
  if (text !== undefined) el.textContent = text;
  if (className) el.className = className;
  return el;
}

/**
 * An ARN as DOM nodes: text pieces with a <wbr> after each "/" and ":", so that it wraps only there
 * (with the CSS class `arn`). Text nodes only, never HTML parsed from the string.
 */
export function arnNodes(doc: Pick<Document, 'createTextNode' | 'createElement'>, arn: string): Node[] {
  const nodes: Node[] = [];
  for (const part of arnParts(arn)) {
    nodes.push(doc.createTextNode(part));
    if (part.endsWith('/') || part.endsWith(':')) nodes.push(doc.createElement('wbr'));
  }
  return nodes;
}

/** Fills `el` with an ARN that wraps only after "/" and ":". */
export function setArn(el: HTMLElement, arn: string): void {
  if (el.textContent === arn && el.querySelector('wbr')) return;
  el.replaceChildren(...arnNodes(el.ownerDocument, arn));
  el.classList.add('arn');
}

/** `<code class="arn">` holding an ARN that wraps only after "/" and ":". */
function arnCode(doc: Document, arn: string, className = 'arn'): HTMLElement {
  const code = make(doc, 'code', undefined, className);
  code.append(...arnNodes(doc, arn));
  return code;
}

/** `<time datetime="…">` with the time in the one format (formatDateTime, the person's zone). */
function timeElement(doc: Document, d: Date): HTMLTimeElement {
  const t = make(doc, 'time', formatDateTime(d));
  t.dateTime = d.toISOString();
  return t;
}

/** A <dl> of label/value pairs; values listed in `arns` are ARNs (see arnCode). */
function facts(doc: Document, rows: [string, string][], codeValues = false, arns: string[] = []): HTMLDListElement {
  const dl = make(doc, 'dl', undefined, 'facts');
  for (const [k, v] of rows) {
    dl.append(make(doc, 'dt', k));
    const dd = make(doc, 'dd');
    if (arns.includes(k)) dd.append(arnCode(doc, v));
    else dd.append(codeValues ? make(doc, 'code', v) : doc.createTextNode(v));
    dl.append(dd);
  }
  return dl;
}

export class View {
  private readonly doc: Document;
  readonly loading: HTMLElement;
  readonly error: HTMLElement;
  readonly status: HTMLElement;
  readonly layout: HTMLElement;
  readonly identity: HTMLElement;
  readonly currentRole: HTMLElement;
  readonly roles: HTMLElement;
  readonly rolesHeading: HTMLElement;
  readonly rolesIntro: HTMLElement;
  readonly roleForm: HTMLFormElement;
  readonly roleOptions: HTMLElement;
  readonly switchRole: HTMLButtonElement;
  readonly awsCalls: HTMLElement;
  readonly stsCall: HTMLButtonElement;
  readonly stsResult: HTMLElement;
  readonly apiSection: HTMLElement;
  readonly apiButtons: HTMLElement;
  readonly apiResult: HTMLElement;
  readonly signOut: HTMLButtonElement;
  readonly adminLink: HTMLAnchorElement;
  readonly timeLeft: HTMLElement;
  readonly expiresAt: HTMLElement;
  readonly actionsNote: HTMLElement;

  constructor(doc: Document) {
    this.doc = doc;
    this.loading = byId(doc, 'loading');
    this.error = byId(doc, 'error');
    this.status = byId(doc, 'status');
    this.layout = byId(doc, 'layout');
    this.identity = byId(doc, 'identity');
    this.currentRole = byId(doc, 'current-role');
    this.roles = byId(doc, 'roles');
    this.rolesHeading = byId(doc, 'roles-h');
    this.rolesIntro = byId(doc, 'roles-intro');
    this.roleForm = byId(doc, 'role-form');
    this.roleOptions = byId(doc, 'role-options');
    this.switchRole = byId(doc, 'switch-role');
    this.awsCalls = byId(doc, 'aws-calls');
    this.stsCall = byId(doc, 'sts-call');
    this.stsResult = byId(doc, 'sts-result');
    this.apiSection = byId(doc, 'api-section');
    this.apiButtons = byId(doc, 'api-buttons');
    this.apiResult = byId(doc, 'api-result');
    this.signOut = byId(doc, 'sign-out');
    this.adminLink = byId(doc, 'admin-audit');
    this.timeLeft = byId(doc, 'time-left');
    this.expiresAt = byId(doc, 'expires-at');
    this.actionsNote = byId(doc, 'actions-note');
  }

  /**
   * Turns the AWS call buttons off, with the reason next to them, or back on (reason null). The
   * signed fetch refuses expired credentials on its own; this tells the person before they click.
   */
  setActionsBlocked(reason: string | null): void {
    const buttons = [this.stsCall, ...Array.from(this.apiButtons.querySelectorAll('button'))];
    for (const b of buttons) {
      b.disabled = reason !== null;
      if (reason !== null) b.setAttribute('aria-describedby', 'actions-note');
      else b.removeAttribute('aria-describedby');
    }
    if (this.actionsNote.textContent !== (reason ?? '')) this.actionsNote.textContent = reason ?? '';
    this.actionsNote.hidden = reason === null;
  }

  setLoading(on: boolean): void {
    this.loading.hidden = !on;
  }

  /** First visit, not signed in: a calm panel with a sign-in button (not an error). */
  showSignInPanel(href: string): void {
    const panel = byId(this.doc, 'sign-in-panel');
    byId<HTMLAnchorElement>(this.doc, 'sign-in').href = href;
    const navSignIn = byId<HTMLAnchorElement>(this.doc, 'nav-sign-in');
    navSignIn.href = href;
    navSignIn.hidden = false;
    panel.hidden = false;
    this.layout.hidden = true;
  }

  /** Who is signed in, the admin link and the sign-out button. */
  renderIdentity(s: Session): void {
    byId(this.doc, 'subject').textContent = s.subject;
    byId(this.doc, 'session-name').textContent = s.session_name ?? 'none sent';
    byId(this.doc, 'groups').textContent = s.groups.length ? s.groups.join(', ') : 'none';
    this.adminLink.hidden = !s.is_admin;
    byId(this.doc, 'nav-account').hidden = false;
    byId(this.doc, 'nav-app').hidden = false;
    this.signOut.hidden = false;
    this.identity.hidden = false;
  }

  /** The role in use, or nothing before one is chosen. */
  renderCurrentRole(s: Session): void {
    const role = s.roles.find((r) => r.role_arn === s.role_arn);
    if (!s.role_arn) {
      this.currentRole.hidden = true;
      this.awsCalls.hidden = true;
      return;
    }
    byId(this.doc, 'account').textContent = role ? accountLabel(role) : accountFromArn(s.role_arn);
    byId(this.doc, 'role-name').textContent = role ? role.role_name : roleNameFromArn(s.role_arn);
    const principal = byId(this.doc, 'principal-arn');
    if (s.principal_arn) setArn(principal, s.principal_arn);
    else principal.textContent = 'not known yet';
    byId(this.doc, 'fallback-note').hidden = !s.duration_fallback;
    this.currentRole.hidden = false;
    this.awsCalls.hidden = false;
  }

  /**
   * The role picker (the same component and words as the broker's own pages): prominent and first
   * when no role is chosen yet, after the current role when several roles are allowed, hidden when
   * the only allowed role is in use.
   */
  renderRoles(s: Session): void {
    const choosing = !s.role_arn;
    this.roleOptions.replaceChildren();
    if (s.roles.length === 0) {
      this.rolesHeading.textContent = 'No AWS role';
      this.rolesIntro.textContent = 'Your sign-in did not grant any AWS role. Ask your administrator to add you to a role group.';
      this.roleForm.hidden = true;
      this.roles.hidden = false;
      this.roles.classList.add('prominent');
      this.layout.prepend(this.roles);
      return;
    }
    if (!choosing && s.roles.length < 2) {
      this.roles.hidden = true;
      return;
    }
    for (const o of pickerOptions(s.roles, s.role_arn)) {
      const label = make(this.doc, 'label', undefined, o.meta.endsWith('in use') ? 'role-option current' : 'role-option');
      const radio = make(this.doc, 'input');
      radio.type = 'radio';
      radio.name = 'role_arn';
      radio.value = o.roleArn;
      radio.required = true;
      radio.checked = o.checked;
      label.append(radio, make(this.doc, 'span', o.name, 'role-name'), make(this.doc, 'span', o.account, 'role-account'), make(this.doc, 'span', o.meta, 'role-meta muted'), arnCode(this.doc, o.roleArn, 'arn role-arn'));
      this.roleOptions.append(label);
    }
    this.roleForm.hidden = false;
    this.roles.hidden = false;
    this.roles.classList.toggle('prominent', choosing);
    this.rolesHeading.textContent = pickerHeading(!choosing);
    this.rolesIntro.textContent = pickerIntro(s.roles.length, !choosing);
    this.switchRole.textContent = PICKER_BUTTON;
    if (choosing) this.layout.prepend(this.roles);
    else this.currentRole.after(this.roles);
  }

  /** The role chosen on the picker, or null. */
  chosenRole(): string | null {
    const checked = this.roleOptions.querySelector<HTMLInputElement>('input[name="role_arn"]:checked');
    return checked ? checked.value : null;
  }

  /**
   * The countdown: time left on the credentials and when they end, in the person's time zone
   * ("(until 1 Dec 2026, 22:03 CET)"). `#time-left` has tabular figures and a fixed width (app.css),
   * so the page does not move as it counts down.
   */
  setTimeLeft(ms: number | null, expiration: Date | null): void {
    if (ms === null || expiration === null) {
      this.timeLeft.textContent = 'not fetched yet';
      this.expiresAt.replaceChildren();
      this.timeLeft.classList.remove('warn', 'expired');
      return;
    }
    const text = formatTimeLeft(ms);
    this.timeLeft.textContent = text === 'expired' ? 'expired' : `${text} left`;
    this.timeLeft.classList.toggle('expired', ms <= 0);
    this.timeLeft.classList.toggle('warn', ms > 0 && ms < 60_000);
    const iso = expiration.toISOString();
    if (this.expiresAt.querySelector('time')?.dateTime !== iso) {
      this.expiresAt.replaceChildren('(until ', timeElement(this.doc, expiration), ')');
    }
    this.timeLeft.setAttribute('data-expires', iso);
  }

  /** Puts a problem in the alert region, with a "Sign in again" link when that is the way forward. */
  showError(p: Problem, signInHref: string | null): void {
    const box = this.error;
    box.replaceChildren();
    box.append(make(this.doc, 'p', p.title, 'alert-title'));
    if (p.detail) box.append(make(this.doc, 'p', p.detail));
    if (p.reference) box.append(make(this.doc, 'p', `Reference: ${p.reference}`, 'muted small'));
    if (p.signIn && signInHref) {
      const a = make(this.doc, 'a', p.signInLabel ?? 'Sign in again', 'button');
      a.id = 'sign-in-again';
      a.href = signInHref;
      box.append(a);
    }
    box.setAttribute('data-kind', p.kind);
    box.classList.add('shown');
  }

  clearError(): void {
    this.error.replaceChildren();
    this.error.removeAttribute('data-kind');
    this.error.classList.remove('shown');
  }

  /** A polite, screen-reader-only announcement of something that went well. */
  announce(message: string): void {
    this.status.textContent = message;
  }

  setBusy(region: HTMLElement, text: string): void {
    region.setAttribute('aria-busy', 'true');
    region.className = 'result pending';
    region.replaceChildren(make(this.doc, 'p', text));
  }

  /** Empties a result region (after a role switch, the old results no longer apply). */
  clearResult(region: HTMLElement): void {
    region.removeAttribute('aria-busy');
    region.removeAttribute('data-status');
    region.className = 'result';
    region.replaceChildren();
  }

  private done(region: HTMLElement, ok: boolean): void {
    region.removeAttribute('aria-busy');
    region.className = ok ? 'result ok' : 'result failed';
  }

  renderStsResult(id: CallerIdentity): void {
    this.done(this.stsResult, true);
    this.stsResult.replaceChildren(
      make(this.doc, 'p', 'STS GetCallerIdentity answered:', 'result-title'),
      facts(this.doc, [
        ['Account', id.account],
        ['ARN', id.arn],
        ['User ID', id.userId],
      ], true, ['ARN']),
    );
  }

  renderCallError(region: HTMLElement, p: Problem): void {
    this.done(region, false);
    const parts: HTMLElement[] = [make(this.doc, 'p', p.title, 'result-title')];
    if (p.detail) parts.push(make(this.doc, 'p', p.detail));
    region.replaceChildren(...parts);
  }

  /** One button per configured API Gateway endpoint, each with `data-endpoint="<name>"`. */
  renderApiButtons(endpoints: ApiEndpoint[], onCall: (e: ApiEndpoint, button: HTMLButtonElement) => void): void {
    this.apiButtons.replaceChildren();
    for (const e of endpoints) {
      const b = make(this.doc, 'button', e.name);
      b.type = 'button';
      b.setAttribute('data-endpoint', e.name);
      b.setAttribute('aria-label', `Call ${e.name} (${e.method} ${e.url})`);
      b.title = `${e.method} ${e.url}`;
      b.addEventListener('click', () => onCall(e, b));
      this.apiButtons.append(b);
    }
    this.apiSection.hidden = endpoints.length === 0;
  }

  renderApiResult(name: string, status: number, statusText: string, body: string): void {
    const ok = status >= 200 && status < 300;
    this.done(this.apiResult, ok);
    this.apiResult.setAttribute('data-status', String(status));
    const pre = make(this.doc, 'pre', body || '(empty body)', 'body');
    pre.tabIndex = 0;
    pre.setAttribute('aria-label', `${name} response body`);
    this.apiResult.replaceChildren(make(this.doc, 'p', `${name}: HTTP ${status}${statusText ? ' ' + statusText : ''}`, 'result-title'), pre);
  }
}

function accountFromArn(arn: string): string {
  return arn.split(':')[4] ?? '';
}

function roleNameFromArn(arn: string): string {
  const i = arn.indexOf(':role/');
  return i >= 0 ? arn.slice(i + 6).split('/').pop() ?? arn : arn;
}

