// SigV4-signed fetch for any AWS service, over aws4fetch's AwsClient.
//
// `createSignedFetch(getCredentials)` returns `signedFetch`, which asks for
// credentials on every call (so a CredentialStore can refresh them), signs
// the request for the given service and region, and sends it with the
// browser's fetch: no cookies, no cache, no automatic retries (aws4fetch's
// own `fetch` retries 5xx ten times, which a person clicking a button does
// not want). This module knows nothing of the broker; reuse it with any
// credentials source.

import { AwsClient } from 'aws4fetch';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** When set, the signed fetch refuses to sign with these credentials at or after this time (by `now`). */
  expiration?: Date;
}

/** Thrown by the signed fetch, before anything is signed or sent, when the credentials have run out. */
export class CredentialsExpiredError extends Error {
  readonly expiration: Date;

  constructor(expiration: Date) {
    super(`The AWS credentials expired at ${expiration.toISOString()}; nothing was signed or sent.`);
    this.name = 'CredentialsExpiredError';
    this.expiration = expiration;
  }
}

export type SigningBody = string | ArrayBuffer | ArrayBufferView;

export interface SignedRequest {
  url: string;
  /** Defaults to GET, or POST when there is a body. */
  method?: string;
  headers?: HeadersInit;
  /** Must be a string or bytes: SigV4 hashes the payload. */
  body?: SigningBody | null;
  /** The signing name, e.g. 'sts', 's3', 'execute-api', 'dynamodb'. */
  service: string;
  region: string;
  signal?: AbortSignal;
}

export type SignedFetch = (request: SignedRequest) => Promise<Response>;

export interface SignedFetchOptions {
  /** Defaults to the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
  /** The signing time; defaults to the browser clock. Pass a skew-corrected clock, or a pinned one in tests. */
  now?: () => Date;
}

/** `20150830T123600Z` from a Date. */
export function amzDate(d: Date): string {
  return d.toISOString().replace(/[:-]|\.\d{3}/g, '');
}

/** Builds a signed Request without sending it. */
export async function signRequest(creds: AwsCredentials, req: SignedRequest, when?: Date, cache?: Map<string, ArrayBuffer>): Promise<Request> {
  const client = new AwsClient({
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    sessionToken: creds.sessionToken || undefined,
    service: req.service,
    region: req.region,
    cache,
    retries: 0,
  });
  const init: RequestInit = {
    method: req.method ?? (req.body != null ? 'POST' : 'GET'),
    headers: req.headers,
    credentials: 'omit',
    cache: 'no-store',
    redirect: 'follow',
    referrerPolicy: 'no-referrer',
  };
  if (req.body != null) init.body = req.body as BodyInit;
  if (req.signal) init.signal = req.signal;
  return client.sign(req.url, {
    ...init,
    aws: { service: req.service, region: req.region, datetime: when ? amzDate(when) : undefined },
  });
}

export function createSignedFetch(getCredentials: () => Promise<AwsCredentials>, options: SignedFetchOptions = {}): SignedFetch {
  const send = options.fetch ?? ((r: Request) => fetch(r));
  // Derived signing keys, kept per secret; dropped when the credentials change.
  let cache = new Map<string, ArrayBuffer>();
  let cachedFor = '';
  return async (req: SignedRequest): Promise<Response> => {
    const creds = await getCredentials();
    if (creds.accessKeyId !== cachedFor) {
      cache = new Map();
      cachedFor = creds.accessKeyId;
    }
    // Checked here, right before signing (not by a countdown that may lag, or
    // a timer that slept in a background tab): expired credentials sign nothing.
    const when = options.now ? options.now() : new Date();
    if (creds.expiration && when.getTime() >= creds.expiration.getTime()) throw new CredentialsExpiredError(creds.expiration);
    const signed = await signRequest(creds, req, options.now ? when : undefined, cache);
    return send(signed);
  };
}

/** An AWS call that answered with an error status, with the AWS error code and message when the body had them. */
export class AwsCallError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly requestId: string | null;
  readonly service: string;

  constructor(service: string, status: number, code: string | null, message: string, requestId: string | null = null) {
    super(message);
    this.name = 'AwsCallError';
    this.service = service;
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

export interface CallerIdentity {
  arn: string;
  account: string;
  userId: string;
}

/** The text of the first element with this local name, by DOMParser in browsers and a small regex elsewhere. */
export function xmlFields(xml: string, names: string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (typeof DOMParser !== 'undefined') {
    const doc = new DOMParser().parseFromString(xml, 'application/xml');
    const broken = doc.getElementsByTagName('parsererror').length > 0;
    for (const n of names) {
      const el = broken ? null : doc.getElementsByTagNameNS('*', n)[0];
      out[n] = el ? (el.textContent ?? '').trim() : null;
    }
    return out;
  }
  for (const n of names) out[n] = regexField(xml, n);
  return out;
}

function regexField(xml: string, name: string): string | null {
  const m = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:[A-Za-z_][\\w.-]*:)?${name}\\s*>`).exec(xml);
  return m ? decodeXmlText(m[1]).trim() : null;
}

function decodeXmlText(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    switch (e) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default: {
        const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return Number.isFinite(cp) && cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
      }
    }
  });
}

/** Parses an AWS query-protocol error body (`<ErrorResponse><Error><Code>…`) into an AwsCallError. */
export function awsErrorFromXml(service: string, status: number, body: string): AwsCallError {
  const f = xmlFields(body, ['Code', 'Message', 'RequestId']);
  const message = f.Message || (body.trim() && !body.trim().startsWith('<') ? body.trim().slice(0, 300) : `HTTP ${status}`);
  return new AwsCallError(service, status, f.Code, message, f.RequestId);
}

/** Parses a GetCallerIdentity answer. */
export function parseCallerIdentity(xml: string): CallerIdentity | null {
  const f = xmlFields(xml, ['Arn', 'Account', 'UserId']);
  if (!f.Arn || !f.Account) return null;
  return { arn: f.Arn, account: f.Account, userId: f.UserId ?? '' };
}

/** Calls STS GetCallerIdentity at `endpoint` (e.g. https://sts.us-east-1.amazonaws.com) with the signed fetch. */
export async function stsGetCallerIdentity(signedFetch: SignedFetch, endpoint: string, region: string): Promise<CallerIdentity> {
  const res = await signedFetch({
    url: endpoint,
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: 'Action=GetCallerIdentity&Version=2011-06-15',
    service: 'sts',
    region,
  });
  const text = await res.text();
  if (!res.ok) throw awsErrorFromXml('sts', res.status, text);
  const id = parseCallerIdentity(text);
  if (!id) throw new AwsCallError('sts', res.status, null, 'STS answered without an Arn and Account.');
  return id;
}
