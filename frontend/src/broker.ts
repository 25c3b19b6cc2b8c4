// A typed client for the broker's JSON API (docs/api.md).
//
// Every call goes to the page's own origin with the session cookie
// (`credentials: 'same-origin'`) and is never cached. Every failure becomes a
// `BrokerError` carrying the broker's `error` code, its plain-words `message`,
// the `request_id` to quote to an admin, and `login_url` when a fresh sign-in
// is the way forward. A request that never got an answer becomes the code
// `broker_unreachable`.

// The JSON shapes come from the broker's Rust types: api-types.ts is generated
// from backend/src/web/api_types.rs, never edited by hand.
import type { ApiEndpoint, ApiErrorJson, AppConfig, CredentialsJson, RoleInfo, RoleRequest, Session, SignedOut } from './api-types';

export type { ApiEndpoint, ApiErrorJson, AppConfig, CredentialsJson, RoleInfo, RoleRequest, Session, SignedOut };

/** Credentials plus the broker's clock when it answered (from the `Date` header), to correct a skewed browser clock. */
export interface CredentialsAnswer {
  credentials: CredentialsJson;
  /** Milliseconds since the epoch by the broker's clock, or null when the answer had no usable `Date` header. */
  serverTime: number | null;
}

/** A broker call that did not succeed. `status` is 0 when no answer came back. */
export class BrokerError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  readonly loginUrl: string | null;

  constructor(status: number, code: string, message: string, requestId: string | null = null, loginUrl: string | null = null) {
    super(message);
    this.name = 'BrokerError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.loginUrl = loginUrl;
  }
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface BrokerClientOptions {
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** Prefix for every path; '' (the page's origin) by default. */
  baseUrl?: string;
}

const UNREACHABLE_MESSAGE = 'The broker could not be reached. Check your network connection, then try again.';
const BAD_ANSWER_MESSAGE = 'The broker sent an answer this page does not understand. Reload the page and try again.';

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Turns a non-2xx answer into a BrokerError, using the documented JSON error shape when the body has it. */
async function errorFrom(res: Response): Promise<BrokerError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (isObject(body)) {
    // Any field may be missing or mistyped in an answer that did not come from the broker.
    const b: { [K in keyof ApiErrorJson]?: unknown } = body;
    return new BrokerError(
      res.status,
      str(b.error) ?? `http_${res.status}`,
      str(b.message) ?? defaultMessage(res.status),
      str(b.request_id),
      str(b.login_url),
    );
  }
  return new BrokerError(res.status, `http_${res.status}`, defaultMessage(res.status), res.headers.get('x-request-id'));
}

function defaultMessage(status: number): string {
  if (status === 401) return 'You are not signed in.';
  if (status === 403) return 'The broker refused this request.';
  if (status >= 500) return `The broker had a problem (HTTP ${status}). Try again in a moment.`;
  return `The broker answered HTTP ${status}.`;
}

export class BrokerClient {
  private readonly fetchImpl: FetchLike;
  private readonly baseUrl: string;
  /** The session's CSRF token, remembered from the last session answer. */
  private csrf: string | null = null;

  constructor(options: BrokerClientOptions = {}) {
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.baseUrl = options.baseUrl ?? '';
  }

  /** Sends one request and returns the response when it is 2xx; throws a BrokerError otherwise. */
  private async send(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has('Accept')) headers.set('Accept', 'application/json');
    let res: Response;
    try {
      res = await this.fetchImpl(this.baseUrl + path, {
        ...init,
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch {
      throw new BrokerError(0, 'broker_unreachable', UNREACHABLE_MESSAGE);
    }
    if (!res.ok) throw await errorFrom(res);
    return res;
  }

  private async json(res: Response): Promise<Record<string, unknown>> {
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!isObject(body)) throw new BrokerError(res.status, 'bad_response', BAD_ANSWER_MESSAGE);
    return body;
  }

  /** `GET /api/session`: who is signed in. Throws a 401 BrokerError (`not_signed_in`) without a session. */
  async getSession(): Promise<Session> {
    const res = await this.send('/api/session');
    const session = parseSession(await this.json(res), res.status);
    this.csrf = session.csrf_token;
    return session;
  }

  /**
   * `GET /api/credentials`. Throws a BrokerError for 401 (`not_signed_in`, `credentials_expired`, with
   * `loginUrl` when the broker sends one), 409 (`no_role`) and 502 (an AWS error code, `message` says why).
   */
  async getCredentials(): Promise<CredentialsAnswer> {
    // The broker renews credentials on this call near expiry, which changes
    // state; it does so only for a request carrying the session's CSRF token.
    const res = await this.send('/api/credentials', this.csrf ? { headers: { 'X-CSRF-Token': this.csrf } } : {});
    const body = await this.json(res);
    const creds = parseCredentials(body, res.status);
    const date = res.headers.get('Date');
    const parsed = date ? Date.parse(date) : NaN;
    return { credentials: creds, serverTime: Number.isFinite(parsed) ? parsed : null };
  }

  /** `POST /api/role`: switch to another allowed role. Answers with the new session. */
  async chooseRole(roleArn: string, csrf: string): Promise<Session> {
    const request: RoleRequest = { role_arn: roleArn };
    const res = await this.send('/api/role', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(request),
    });
    const session = parseSession(await this.json(res), res.status);
    this.csrf = session.csrf_token;
    return session;
  }

  /** `POST /logout`: ends the session on the broker. */
  async logout(csrf: string): Promise<SignedOut> {
    const res = await this.send('/logout', {
      method: 'POST',
      headers: { 'X-CSRF-Token': csrf },
    });
    const body = await this.json(res);
    return { signed_out: body.signed_out === true };
  }

  /** `GET /api/app-config`: where the page sends its AWS calls. */
  async getAppConfig(): Promise<AppConfig> {
    const res = await this.send('/api/app-config');
    return parseAppConfig(await this.json(res), res.status);
  }
}

function bad(status: number): BrokerError {
  return new BrokerError(status, 'bad_response', BAD_ANSWER_MESSAGE);
}

function parseSession(b: Record<string, unknown>, status: number): Session {
  if (typeof b.subject !== 'string' || typeof b.csrf_token !== 'string' || typeof b.expiration !== 'string' || !Array.isArray(b.roles)) throw bad(status);
  const roles: RoleInfo[] = [];
  for (const r of b.roles) {
    if (!isObject(r) || typeof r.role_arn !== 'string') throw bad(status);
    roles.push({
      role_arn: r.role_arn,
      provider_arn: typeof r.provider_arn === 'string' ? r.provider_arn : '',
      account_id: typeof r.account_id === 'string' ? r.account_id : '',
      account_alias: str(r.account_alias),
      role_name: typeof r.role_name === 'string' ? r.role_name : r.role_arn,
      duration_seconds: typeof r.duration_seconds === 'number' ? r.duration_seconds : 0,
    });
  }
  return {
    subject: b.subject,
    session_name: str(b.session_name),
    groups: Array.isArray(b.groups) ? b.groups.filter((g): g is string => typeof g === 'string') : [],
    roles,
    role_arn: str(b.role_arn),
    principal_arn: str(b.principal_arn),
    expiration: b.expiration,
    credentials_expiration: str(b.credentials_expiration),
    duration_fallback: b.duration_fallback === true,
    is_admin: b.is_admin === true,
    csrf_token: b.csrf_token,
    region: typeof b.region === 'string' ? b.region : 'us-east-1',
    endpoint_url: str(b.endpoint_url),
  };
}

function parseCredentials(b: Record<string, unknown>, status: number): CredentialsJson {
  const { AccessKeyId, SecretAccessKey, SessionToken, Expiration, RoleArn, Region } = b;
  if (
    typeof AccessKeyId !== 'string' ||
    AccessKeyId === '' ||
    typeof SecretAccessKey !== 'string' ||
    SecretAccessKey === '' ||
    typeof SessionToken !== 'string' ||
    typeof Expiration !== 'string' ||
    !Number.isFinite(Date.parse(Expiration))
  ) {
    throw bad(status);
  }
  return {
    Version: typeof b.Version === 'number' ? b.Version : 1,
    AccessKeyId,
    SecretAccessKey,
    SessionToken,
    Expiration,
    RoleArn: typeof RoleArn === 'string' ? RoleArn : '',
    Region: typeof Region === 'string' ? Region : '',
  };
}

function parseAppConfig(b: Record<string, unknown>, status: number): AppConfig {
  if (typeof b.region !== 'string' || typeof b.sts_endpoint !== 'string') throw bad(status);
  const endpoints: ApiEndpoint[] = [];
  if (Array.isArray(b.api_endpoints)) {
    for (const e of b.api_endpoints) {
      if (!isObject(e) || typeof e.name !== 'string' || typeof e.url !== 'string') throw bad(status);
      endpoints.push({
        name: e.name,
        url: e.url,
        region: typeof e.region === 'string' ? e.region : b.region,
        method: typeof e.method === 'string' ? e.method.toUpperCase() : 'GET',
        service: str(e.service) ?? 'execute-api',
      });
    }
  }
  return { region: b.region, sts_endpoint: b.sts_endpoint, api_endpoints: endpoints };
}
