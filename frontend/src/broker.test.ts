import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokerClient, BrokerError } from './broker';

interface Seen {
  url: string;
  init: RequestInit;
}

/** A fetch that records what it was asked and answers from a function. */
function fakeFetch(answer: (url: string, init: RequestInit) => Response | Promise<Response>): { fetch: (url: string, init?: RequestInit) => Promise<Response>; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    fetch: async (url, init = {}) => {
      seen.push({ url, init });
      return answer(url, init);
    },
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

const SESSION = {
  subject: 'bob@example.com',
  session_name: 'bob@example.com',
  groups: ['Developers', 'Operators'],
  roles: [
    {
      role_arn: 'arn:aws:iam::210987654321:role/ReadOnly',
      provider_arn: 'arn:aws:iam::210987654321:saml-provider/DevIdP',
      account_id: '210987654321',
      account_alias: 'staging',
      role_name: 'ReadOnly',
      duration_seconds: 7200,
    },
  ],
  role_arn: 'arn:aws:iam::210987654321:role/ReadOnly',
  principal_arn: 'arn:aws:sts::210987654321:assumed-role/ReadOnly/bob@example.com',
  expiration: '2026-11-26T03:00:00Z',
  credentials_expiration: '2026-11-25T17:00:00Z',
  duration_fallback: false,
  is_admin: false,
  csrf_token: 'csrf-123',
  region: 'us-east-1',
  endpoint_url: null,
};

const CREDS = {
  Version: 1,
  AccessKeyId: 'ASIAEXAMPLE',
  SecretAccessKey: 'secret',
  SessionToken: 'token',
  Expiration: '2026-11-25T17:00:00Z',
  RoleArn: 'arn:aws:iam::210987654321:role/ReadOnly',
  Region: 'us-east-1',
};

async function rejection(p: Promise<unknown>): Promise<BrokerError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BrokerError, `expected a BrokerError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

test('getSession sends a same-origin, uncached JSON GET and parses the session', async () => {
  const f = fakeFetch(() => json(200, SESSION));
  const s = await new BrokerClient({ fetch: f.fetch }).getSession();
  assert.equal(s.subject, 'bob@example.com');
  assert.equal(s.roles[0].account_alias, 'staging');
  assert.equal(s.csrf_token, 'csrf-123');
  assert.equal(s.endpoint_url, null);
  assert.equal(f.seen[0].url, '/api/session');
  assert.equal(f.seen[0].init.credentials, 'same-origin');
  assert.equal(f.seen[0].init.cache, 'no-store');
  assert.equal(new Headers(f.seen[0].init.headers).get('Accept'), 'application/json');
});

test('getSession: 401 not_signed_in becomes a BrokerError', async () => {
  const f = fakeFetch(() => json(401, { error: 'not_signed_in', message: 'You are not signed in.', request_id: 'r-401' }));
  const e = await rejection(new BrokerClient({ fetch: f.fetch }).getSession());
  assert.equal(e.status, 401);
  assert.equal(e.code, 'not_signed_in');
  assert.equal(e.requestId, 'r-401');
  assert.equal(e.loginUrl, null);
});

test('getCredentials: 200 gives the credentials and the broker\'s clock from the Date header', async () => {
  const f = fakeFetch(() => json(200, CREDS, { Date: 'Wed, 25 Nov 2026 16:00:00 GMT' }));
  const a = await new BrokerClient({ fetch: f.fetch }).getCredentials();
  assert.deepEqual(a.credentials, CREDS);
  assert.equal(a.serverTime, Date.parse('2026-11-25T16:00:00Z'));
  assert.equal(f.seen[0].url, '/api/credentials');
  assert.equal(f.seen[0].init.credentials, 'same-origin');
});

test('getCredentials: 401 credentials_expired carries message, request id and login_url', async () => {
  const f = fakeFetch(() =>
    json(401, {
      error: 'credentials_expired',
      message: 'Your AWS credentials have expired. Please sign in again.',
      request_id: 'r-1',
      login_url: '/saml/login?role=arn%3Aaws%3Aiam%3A%3A210987654321%3Arole%2FReadOnly&return_to=%2F',
    }),
  );
  const e = await rejection(new BrokerClient({ fetch: f.fetch }).getCredentials());
  assert.equal(e.status, 401);
  assert.equal(e.code, 'credentials_expired');
  assert.equal(e.message, 'Your AWS credentials have expired. Please sign in again.');
  assert.equal(e.requestId, 'r-1');
  assert.equal(e.loginUrl, '/saml/login?role=arn%3Aaws%3Aiam%3A%3A210987654321%3Arole%2FReadOnly&return_to=%2F');
});

test('getCredentials: 401 not_signed_in without login_url', async () => {
  const f = fakeFetch(() => json(401, { error: 'not_signed_in', message: 'You are not signed in.', request_id: 'r-2' }));
  const e = await rejection(new BrokerClient({ fetch: f.fetch }).getCredentials());
  assert.equal(e.code, 'not_signed_in');
  assert.equal(e.loginUrl, null);
});

test('getCredentials: 409 no_role', async () => {
  const f = fakeFetch(() => json(409, { error: 'no_role', message: 'Choose a role first.', request_id: 'r-3' }));
  const e = await rejection(new BrokerClient({ fetch: f.fetch }).getCredentials());
  assert.equal(e.status, 409);
  assert.equal(e.code, 'no_role');
  assert.equal(e.message, 'Choose a role first.');
});

test('getCredentials: 502 keeps the AWS error code and the plain-words message', async () => {
  const f = fakeFetch(() => json(502, { error: 'AccessDenied', message: 'AWS refused the role: the trust policy does not allow it.', request_id: 'r-4' }));
  const e = await rejection(new BrokerClient({ fetch: f.fetch }).getCredentials());
  assert.equal(e.status, 502);
  assert.equal(e.code, 'AccessDenied');
  assert.equal(e.message, 'AWS refused the role: the trust policy does not allow it.');
  assert.equal(e.requestId, 'r-4');
});

test('a network failure becomes broker_unreachable with status 0', async () => {
  const client = new BrokerClient({
    fetch: async () => {
      throw new TypeError('Failed to fetch');
    },
  });
  const e = await rejection(client.getCredentials());
  assert.equal(e.status, 0);
  assert.equal(e.code, 'broker_unreachable');
  assert.match(e.message, /could not be reached/);
});

test('a non-JSON error page still maps to a BrokerError with the x-request-id header', async () => {
  const f = fakeFetch(() => new Response('<h1>Bad gateway</h1>', { status: 503, headers: { 'Content-Type': 'text/html', 'x-request-id': 'r-5' } }));
  const e = await rejection(new BrokerClient({ fetch: f.fetch }).getSession());
  assert.equal(e.status, 503);
  assert.equal(e.code, 'http_503');
  assert.equal(e.requestId, 'r-5');
});

test('a 200 whose body is not the documented shape is bad_response', async () => {
  const f = fakeFetch(() => new Response('<html>sign in</html>', { status: 200, headers: { 'Content-Type': 'text/html' } }));
  const e = await rejection(new BrokerClient({ fetch: f.fetch }).getCredentials());
  assert.equal(e.code, 'bad_response');
  const g = fakeFetch(() => json(200, { AccessKeyId: 'x' }));
  assert.equal((await rejection(new BrokerClient({ fetch: g.fetch }).getCredentials())).code, 'bad_response');
});

test('chooseRole POSTs JSON with the CSRF token and returns the new session', async () => {
  const f = fakeFetch(() => json(200, { ...SESSION, csrf_token: 'csrf-456' }));
  const s = await new BrokerClient({ fetch: f.fetch }).chooseRole('arn:aws:iam::210987654321:role/ReadOnly', 'csrf-123');
  assert.equal(s.csrf_token, 'csrf-456');
  const { url, init } = f.seen[0];
  const h = new Headers(init.headers);
  assert.equal(url, '/api/role');
  assert.equal(init.method, 'POST');
  assert.equal(init.credentials, 'same-origin');
  assert.equal(h.get('X-CSRF-Token'), 'csrf-123');
  assert.equal(h.get('Content-Type'), 'application/json');
  assert.deepEqual(JSON.parse(init.body as string), { role_arn: 'arn:aws:iam::210987654321:role/ReadOnly' });
});

test('chooseRole: 403 role_not_allowed and 401 sign_in_required map to BrokerErrors', async () => {
  const f = fakeFetch(() => json(403, { error: 'role_not_allowed', message: 'That role is not allowed for you.', request_id: 'r-6' }));
  const e = await rejection(new BrokerClient({ fetch: f.fetch }).chooseRole('arn:x', 't'));
  assert.equal(e.status, 403);
  assert.equal(e.code, 'role_not_allowed');
  const g = fakeFetch(() => json(401, { error: 'sign_in_required', message: 'Sign in again.', request_id: 'r-7', login_url: '/saml/login?role=arn%3Ax&return_to=%2F' }));
  const e2 = await rejection(new BrokerClient({ fetch: g.fetch }).chooseRole('arn:x', 't'));
  assert.equal(e2.code, 'sign_in_required');
  assert.equal(e2.loginUrl, '/saml/login?role=arn%3Ax&return_to=%2F');
});

test('logout POSTs to /logout with the CSRF token and asks for JSON', async () => {
  const f = fakeFetch(() => json(200, { signed_out: true }));
  const r = await new BrokerClient({ fetch: f.fetch }).logout('csrf-123');
  assert.deepEqual(r, { signed_out: true });
  const { url, init } = f.seen[0];
  const h = new Headers(init.headers);
  assert.equal(url, '/logout');
  assert.equal(init.method, 'POST');
  assert.equal(init.credentials, 'same-origin');
  assert.equal(h.get('X-CSRF-Token'), 'csrf-123');
  assert.equal(h.get('Accept'), 'application/json');
});

test('getAppConfig parses region, STS endpoint and API endpoints', async () => {
  const f = fakeFetch(() =>
    json(200, {
      region: 'us-east-1',
      sts_endpoint: 'http://127.0.0.1:5000',
      api_endpoints: [
        { name: 'PING', url: 'https://abc.execute-api.us-east-1.amazonaws.com/prod/ping', region: 'us-east-1', method: 'GET' },
        { name: 'ORDERS', url: 'https://def.execute-api.eu-west-1.amazonaws.com/prod/orders', method: 'get' },
        { name: 'URL', url: 'https://xyz.lambda-url.eu-west-1.on.aws/', region: 'eu-west-1', method: 'GET', service: 'lambda' },
      ],
    }),
  );
  const c = await new BrokerClient({ fetch: f.fetch }).getAppConfig();
  assert.equal(f.seen[0].url, '/api/app-config');
  assert.equal(c.sts_endpoint, 'http://127.0.0.1:5000');
  assert.deepEqual(c.api_endpoints[1], { name: 'ORDERS', url: 'https://def.execute-api.eu-west-1.amazonaws.com/prod/orders', region: 'us-east-1', method: 'GET', service: 'execute-api' });
  // The broker sends each endpoint's SigV4 signing name; the button signs for it.
  assert.equal(c.api_endpoints[2].service, 'lambda');
  assert.equal(c.api_endpoints.length, 3);
});

test('getSession: an account with no alias is null, as the broker sends it', async () => {
  const roles = [{ ...SESSION.roles[0], account_alias: null }];
  const f = fakeFetch(() => json(200, { ...SESSION, roles }));
  const s = await new BrokerClient({ fetch: f.fetch }).getSession();
  assert.equal(s.roles[0].account_alias, null);
});

test('getSession: a session without its expiration is bad_response', async () => {
  const { expiration: _, ...noExpiry } = SESSION;
  const f = fakeFetch(() => json(200, noExpiry));
  assert.equal((await rejection(new BrokerClient({ fetch: f.fetch }).getSession())).code, 'bad_response');
});
