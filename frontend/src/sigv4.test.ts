import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import {
  AwsCallError,
  amzDate,
  createSignedFetch,
  CredentialsExpiredError,
  parseCallerIdentity,
  signRequest,
  stsGetCallerIdentity,
  xmlFields,
  type AwsCredentials,
} from './sigv4';

// ---------------------------------------------------------------------------
// An independent SigV4 signer, written from the specification with node's
// crypto (canonical request, string to sign, derived key), to check the one
// the app uses (aws4fetch over WebCrypto). It knows nothing of aws4fetch.
// ---------------------------------------------------------------------------

const sha256hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ becomes %XX. */
function uriEncode(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9\-_.~]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
    })
    .join('');
}

interface SpecInput {
  method: string;
  host: string;
  /** Raw (decoded) path segments, e.g. ['prod', 'a b']; [] for '/'. */
  segments: string[];
  /** Raw (decoded) query pairs. */
  query: [string, string][];
  /** Lowercase header name to value, the headers to sign besides host. */
  headers: Record<string, string>;
  body: string;
  accessKeyId: string;
  secretAccessKey: string;
  datetime: string;
  region: string;
  service: string;
}

function specSign(i: SpecInput): { authorization: string; canonicalRequest: string } {
  // Canonical URI: every segment URI-encoded twice (services other than S3).
  const canonicalUri = '/' + i.segments.map((s) => uriEncode(uriEncode(s))).join('/');
  const canonicalQuery = i.query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const all: Record<string, string> = { host: i.host, ...i.headers };
  const names = Object.keys(all).sort();
  const canonicalHeaders = names.map((n) => `${n}:${all[n].trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [i.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, sha256hex(i.body)].join('\n');
  const date = i.datetime.slice(0, 8);
  const scope = `${date}/${i.region}/${i.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', i.datetime, scope, sha256hex(canonicalRequest)].join('\n');
  const kDate = hmac('AWS4' + i.secretAccessKey, date);
  const kRegion = hmac(kDate, i.region);
  const kService = hmac(kRegion, i.service);
  const kSigning = hmac(kService, 'aws4_request');
  const signature = createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex');
  return {
    authorization: `AWS4-HMAC-SHA256 Credential=${i.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    canonicalRequest,
  };
}

// AWS's published example credentials and time (the SigV4 test suite).
const EXAMPLE: AwsCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const WHEN = new Date('2015-08-30T12:36:00Z');
const TEMP: AwsCredentials = {
  accessKeyId: 'ASIAEXAMPLEEXAMPLE01',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'FQoGZXIvYXdzEXAMPLE//token+with/odd=chars',
};

test('amzDate formats the SigV4 timestamp', () => {
  assert.equal(amzDate(WHEN), '20150830T123600Z');
});

test('SigV4 test suite "get-vanilla": the published Authorization header', async () => {
  const req = await signRequest(EXAMPLE, { url: 'https://example.amazonaws.com/', service: 'service', region: 'us-east-1' }, WHEN);
  const published =
    'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, ' +
    'Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31';
  assert.equal(req.headers.get('authorization'), published);
  assert.equal(req.headers.get('x-amz-date'), '20150830T123600Z');
  // The independent signer agrees with the published value, so it can be trusted for the cases below.
  const spec = specSign({
    method: 'GET', host: 'example.amazonaws.com', segments: [], query: [], headers: { 'x-amz-date': '20150830T123600Z' },
    body: '', ...EXAMPLE, datetime: '20150830T123600Z', region: 'us-east-1', service: 'service',
  } as SpecInput);
  assert.equal(spec.authorization, published);
});

test('SigV4 test suite "get-vanilla-query-order-key-case": query sorted before signing', async () => {
  const req = await signRequest(EXAMPLE, { url: 'https://example.amazonaws.com/?Param2=value2&Param1=value1', service: 'service', region: 'us-east-1' }, WHEN);
  assert.match(req.headers.get('authorization') ?? '', /Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500$/);
});

test('STS POST with a session token matches an independent SigV4 computation', async () => {
  const body = 'Action=GetCallerIdentity&Version=2011-06-15';
  const req = await signRequest(
    TEMP,
    {
      url: 'https://sts.us-east-1.amazonaws.com',
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body,
      service: 'sts',
      region: 'us-east-1',
    },
    WHEN,
  );
  const expected = specSign({
    method: 'POST',
    host: 'sts.us-east-1.amazonaws.com',
    segments: [],
    query: [],
    // content-type is left unsigned by aws4fetch (allowed: SigV4 only requires host and x-amz-*).
    headers: { 'x-amz-date': '20150830T123600Z', 'x-amz-security-token': TEMP.sessionToken as string },
    body,
    accessKeyId: TEMP.accessKeyId,
    secretAccessKey: TEMP.secretAccessKey,
    datetime: '20150830T123600Z',
    region: 'us-east-1',
    service: 'sts',
  });
  assert.equal(req.headers.get('authorization'), expected.authorization);
  assert.equal(req.headers.get('x-amz-security-token'), TEMP.sessionToken);
  assert.equal(req.method, 'POST');
  assert.equal(await req.text(), body);

  // The same computation with a wrong secret gives another value: the comparison above means something.
  const wrong = specSign({
    method: 'POST', host: 'sts.us-east-1.amazonaws.com', segments: [], query: [],
    headers: { 'x-amz-date': '20150830T123600Z', 'x-amz-security-token': TEMP.sessionToken as string },
    body, accessKeyId: TEMP.accessKeyId, secretAccessKey: TEMP.secretAccessKey + 'x', datetime: '20150830T123600Z', region: 'us-east-1', service: 'sts',
  });
  assert.notEqual(req.headers.get('authorization'), wrong.authorization);
});

test('execute-api GET with an encoded path and a query matches an independent SigV4 computation', async () => {
  const req = await signRequest(
    TEMP,
    {
      url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/items/a%20b?z=last&a=x%20y&a=first',
      headers: { Accept: 'application/json', 'X-Amz-Meta-Note': '  two   spaces ' },
      service: 'execute-api',
      region: 'eu-west-1',
    },
    WHEN,
  );
  const expected = specSign({
    method: 'GET',
    host: 'abc123.execute-api.eu-west-1.amazonaws.com',
    segments: ['prod', 'items', 'a b'],
    query: [['z', 'last'], ['a', 'x y'], ['a', 'first']],
    headers: {
      accept: 'application/json',
      'x-amz-meta-note': '  two   spaces ',
      'x-amz-date': '20150830T123600Z',
      'x-amz-security-token': TEMP.sessionToken as string,
    },
    body: '',
    accessKeyId: TEMP.accessKeyId,
    secretAccessKey: TEMP.secretAccessKey,
    datetime: '20150830T123600Z',
    region: 'eu-west-1',
    service: 'execute-api',
  });
  assert.equal(req.headers.get('authorization'), expected.authorization);
  assert.equal(req.method, 'GET');
});

test('createSignedFetch asks for credentials on every call, signs with the pinned clock, sends no cookies', async () => {
  const sent: Request[] = [];
  let n = 0;
  const creds = [TEMP, { ...TEMP, accessKeyId: 'ASIAROTATEDEXAMPLE02', sessionToken: 'second-token' }];
  const signedFetch = createSignedFetch(async () => creds[Math.min(n++, 1)], {
    fetch: async (r) => {
      sent.push(r);
      return new Response('ok');
    },
    now: () => WHEN,
  });
  await signedFetch({ url: 'https://sts.us-east-1.amazonaws.com/', service: 'sts', region: 'us-east-1', body: 'Action=GetCallerIdentity&Version=2011-06-15' });
  await signedFetch({ url: 'https://sts.us-east-1.amazonaws.com/', service: 'sts', region: 'us-east-1', body: 'Action=GetCallerIdentity&Version=2011-06-15' });
  assert.equal(sent.length, 2);
  assert.equal(sent[0].method, 'POST');
  assert.equal(sent[0].credentials, 'omit');
  assert.equal(sent[0].headers.get('x-amz-date'), '20150830T123600Z');
  assert.match(sent[0].headers.get('authorization') ?? '', /Credential=ASIAEXAMPLEEXAMPLE01\/20150830\/us-east-1\/sts\/aws4_request/);
  assert.match(sent[1].headers.get('authorization') ?? '', /Credential=ASIAROTATEDEXAMPLE02\//);
  assert.equal(sent[1].headers.get('x-amz-security-token'), 'second-token');
});

test('createSignedFetch signs nothing with credentials that have expired by its clock, checked at the call', async () => {
  const sent: Request[] = [];
  let clock = new Date('2026-11-25T12:00:00Z');
  const expiration = new Date('2026-11-25T12:01:30Z');
  const signedFetch = createSignedFetch(async () => ({ ...TEMP, expiration }), {
    fetch: async (r) => {
      sent.push(r);
      return new Response('ok');
    },
    now: () => clock,
  });
  const call = () => signedFetch({ url: 'https://sts.us-east-1.amazonaws.com/', service: 'sts', region: 'us-east-1', body: 'Action=GetCallerIdentity&Version=2011-06-15' });
  await call();
  assert.equal(sent.length, 1, 'valid credentials are used');
  clock = new Date('2026-11-25T12:01:29.999Z');
  await call();
  assert.equal(sent.length, 2, 'still valid one millisecond before expiry');
  clock = new Date('2026-11-25T12:01:30Z');
  await assert.rejects(call(), (e: unknown) => e instanceof CredentialsExpiredError && e.expiration.getTime() === expiration.getTime());
  clock = new Date('2026-11-25T13:00:00Z');
  await assert.rejects(call(), CredentialsExpiredError);
  assert.equal(sent.length, 2, 'nothing was signed or sent with expired credentials');
});

const IDENTITY_XML = `<?xml version="1.0" encoding="UTF-8"?>
<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::210987654321:assumed-role/ReadOnly/bob@example.com</Arn>
    <UserId>AROAEXAMPLEID:bob@example.com</UserId>
    <Account>210987654321</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>`;

const ERROR_XML = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>ExpiredToken</Code>
    <Message>The security token included in the request is expired &amp; cannot be used</Message>
  </Error>
  <RequestId>feedface-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>`;

test('parseCallerIdentity reads Arn, Account and UserId from the STS XML', () => {
  assert.deepEqual(parseCallerIdentity(IDENTITY_XML), {
    arn: 'arn:aws:sts::210987654321:assumed-role/ReadOnly/bob@example.com',
    account: '210987654321',
    userId: 'AROAEXAMPLEID:bob@example.com',
  });
  assert.equal(parseCallerIdentity('<Other/>'), null);
  // Prefixed element names and entities are handled by the fallback parser too.
  assert.deepEqual(xmlFields('<s:R xmlns:s="x"><s:Arn>a&amp;b&#x41;</s:Arn></s:R>', ['Arn', 'Account']), { Arn: 'a&bA', Account: null });
});

test('stsGetCallerIdentity POSTs the form body to the endpoint and parses the answer', async () => {
  const sent: Request[] = [];
  const signedFetch = createSignedFetch(async () => TEMP, {
    fetch: async (r) => {
      sent.push(r);
      return new Response(IDENTITY_XML, { status: 200, headers: { 'Content-Type': 'text/xml' } });
    },
    now: () => WHEN,
  });
  const id = await stsGetCallerIdentity(signedFetch, 'http://127.0.0.1:5000', 'us-east-1');
  assert.equal(id.account, '210987654321');
  assert.equal(sent.length, 1);
  assert.equal(sent[0].url, 'http://127.0.0.1:5000/');
  assert.equal(sent[0].method, 'POST');
  assert.equal(sent[0].headers.get('content-type'), 'application/x-www-form-urlencoded; charset=utf-8');
  assert.equal(await sent[0].text(), 'Action=GetCallerIdentity&Version=2011-06-15');
  assert.match(sent[0].headers.get('authorization') ?? '', /\/us-east-1\/sts\/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/);
});

test('stsGetCallerIdentity turns an AWS error answer into an AwsCallError with status and code', async () => {
  const signedFetch = createSignedFetch(async () => TEMP, { fetch: async () => new Response(ERROR_XML, { status: 403 }) });
  await assert.rejects(stsGetCallerIdentity(signedFetch, 'https://sts.us-east-1.amazonaws.com', 'us-east-1'), (e: unknown) => {
    assert.ok(e instanceof AwsCallError);
    assert.equal(e.status, 403);
    assert.equal(e.code, 'ExpiredToken');
    assert.equal(e.message, 'The security token included in the request is expired & cannot be used');
    assert.equal(e.requestId, 'feedface-0000-0000-0000-000000000000');
    return true;
  });
});
