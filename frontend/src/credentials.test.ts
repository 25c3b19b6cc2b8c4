import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokerError, type CredentialsAnswer } from './broker';
import { CredentialStore, handOverTarget, isSafeRelativePath, signInTarget, type Credentials } from './credentials';

const T0 = Date.parse('2026-11-25T16:00:00Z');
const MIN = 60_000;

/** A clock and timers that move only when told to. */
class FakeTime {
  nowMs = T0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now = () => this.nowMs;
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.next++;
    this.timers.set(id, { at: this.nowMs + ms, fn });
    return id;
  };
  clearTimeout = (id: unknown) => {
    this.timers.delete(id as number);
  };
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }
  /** Moves the clock forward, firing due timers in order, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.nowMs + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.nowMs = Math.max(this.nowMs, due[1].at);
      due[1].fn();
      await settle();
    }
    this.nowMs = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A broker whose answers the test decides; counts calls. */
class FakeBroker {
  calls = 0;
  answers: Array<(() => Promise<CredentialsAnswer>) | CredentialsAnswer | BrokerError> = [];
  /** When set, calls wait on this until the test releases them. */
  gate: Promise<void> | null = null;
  async getCredentials(): Promise<CredentialsAnswer> {
    this.calls++;
    if (this.gate) await this.gate;
    const a = this.answers.length > 1 ? this.answers.shift() : this.answers[0];
    if (a === undefined) throw new Error('no answer queued');
    if (a instanceof BrokerError) throw a;
    if (typeof a === 'function') return a();
    return a;
  }
}

function creds(expiresAtMs: number, key = 'ASIAONE', serverTime: number | null = null): CredentialsAnswer {
  return {
    credentials: {
      Version: 1,
      AccessKeyId: key,
      SecretAccessKey: 'secret-' + key,
      SessionToken: 'token-' + key,
      Expiration: new Date(expiresAtMs).toISOString(),
      RoleArn: 'arn:aws:iam::210987654321:role/ReadOnly',
      Region: 'us-east-1',
    },
    serverTime,
  };
}

function store(time: FakeTime, broker: FakeBroker): CredentialStore {
  return new CredentialStore(broker, { now: time.now, setTimeout: time.setTimeout, clearTimeout: time.clearTimeout });
}

test('first get() fetches; later get() calls reuse the credentials until the refresh is due', async () => {
  const time = new FakeTime();
  const broker = new FakeBroker();
  broker.answers = [creds(T0 + 60 * MIN)];
  const s = store(time, broker);
  const a = await s.get();
  assert.equal(a.accessKeyId, 'ASIAONE');
  assert.equal(a.sessionToken, 'token-ASIAONE');
  await time.advance(54 * MIN);
  const b = await s.get();
  assert.equal(b, a);
  assert.equal(broker.calls, 1);
  assert.equal(s.msLeft(), 6 * MIN);
});

test('hour-long credentials are refreshed 5 minutes before expiry, by the timer', async () => {
  const time = new FakeTime();
  const broker = new FakeBroker();
  broker.answers = [creds(T0 + 60 * MIN, 'ASIAONE'), creds(T0 + 120 * MIN, 'ASIATWO')];
  const s = store(time, broker);
  const refreshed: Credentials[] = [];
  s.on('refreshed', (c) => refreshed.push(c));
  await s.get();
  assert.equal(s.refreshDueAt(), T0 + 55 * MIN);
  assert.deepEqual(time.pending(), [T0 + 55 * MIN]);
  await time.advance(55 * MIN - 1);
  assert.equal(broker.calls, 1);
  await time.advance(1);
  assert.equal(broker.calls, 2);
  assert.equal(s.peek()?.accessKeyId, 'ASIATWO');
  assert.deepEqual(refreshed.map((c) => c.accessKeyId), ['ASIAONE', 'ASIATWO']);
  assert.equal(s.refreshDueAt(), T0 + 115 * MIN);
});

test('short-lived credentials (the emulator\'s 90 s) are refreshed at half their lifetime', async () => {
  const time = new FakeTime();
  const broker = new FakeBroker();
  broker.answers = [creds(T0 + 90_000, 'ASIAONE'), creds(T0 + 45_000 + 90_000, 'ASIATWO')];
  const s = store(time, broker);
  await s.get();
  assert.equal(s.refreshDueAt(), T0 + 45_000);
  await time.advance(45_000);
  assert.equal(broker.calls, 2);
  assert.equal(s.peek()?.accessKeyId, 'ASIATWO');
  assert.equal(s.refreshDueAt(), T0 + 45_000 + 45_000);
});

test('when the broker hands back the same credentials, the next refresh comes after half of what is left', async () => {
  const time = new FakeTime();
  const broker = new FakeBroker();
  // The broker only re-exchanges within 60 s of expiry, so at 55 min it answers with the same credentials.
  broker.answers = [creds(T0 + 60 * MIN)];
  const s = store(time, broker);
  await s.get();
  await time.advance(55 * MIN);
  assert.equal(broker.calls, 2);
  assert.equal(s.refreshDueAt(), T0 + 55 * MIN + 2.5 * MIN);
});

test('a get() that finds the credentials due waits for fresh ones', async () => {
  const time = new FakeTime();
  const broker = new FakeBroker();
  broker.answers = [creds(T0 + 60 * MIN, 'ASIAONE'), creds(T0 + 120 * MIN, 'ASIATWO')];
  const s = new CredentialStore(broker, { now: time.now, setTimeout: () => 0, clearTimeout: () => undefined }); // timers never fire
  await s.get();
  time.nowMs = T0 + 56 * MIN;
  const c = await s.get();
  assert.equal(c.accessKeyId, 'ASIATWO');
  assert.equal(broker.calls, 2);
});

test('concurrent get() and refresh() calls share one broker request', async () => {
  const time = new FakeTime();
  const broker = new FakeBroker();
  let release!: () => void;
  broker.gate = new Promise<void>((r) => (release = r));
  broker.answers = [creds(T0 + 60 * MIN)];
  const s = store(time, broker);
  const all = Promise.all([s.get(), s.get(), s.refresh(), s.get()]);
  await settle();
  assert.equal(broker.calls, 1);
  release();
  const [a, b, c, d] = await all;
  assert.equal(broker.calls, 1);
  assert.ok(a === b && b === c && c === d);
  // Once settled, a new refresh() makes a new request.
  broker.gate = null;
  await s.refresh();
  assert.equal(broker.calls, 2);
});

test('a 401 from the broker emits "expired" with the login URL, drops the credentials and rejects', async () => {
  const time = new FakeTime();
  const broker = new FakeBroker();
  const expiredErr = new BrokerError(401, 'credentials_expired', 'Your AWS credentials have expired.', 'req-1', '/saml/login?role=arn&return_to=%2Fapp%2F');
  broker.answers = [creds(T0 + 60 * MIN), expiredErr];
  const s = store(time, broker);
  const events: BrokerError[] = [];
  s.on('expired', (e) => events.push(e));
  await s.get();
  await time.advance(55 * MIN); // the timer's refresh gets the 401
  assert.equal(events.length, 1);
  assert.equal(events[0].code, 'credentials_expired');
  assert.equal(events[0].loginUrl, '/saml/login?role=arn&return_to=%2Fapp%2F');
  assert.equal(s.peek(), null);
  assert.deepEqual(time.pending(), []);
  await assert.rejects(s.get(), (e: unknown) => e instanceof BrokerError && e.status === 401);
  assert.equal(events.length, 2);
  // The redirect target is the broker's own same-origin login URL.
  assert.equal(signInTarget(events[0].loginUrl, { pathname: '/app/', hash: '' }), '/saml/login?role=arn&return_to=%2Fapp%2F');
});

test('a failed background refresh keeps the still-valid credentials, reports it and retries', async () => {
  const time = new FakeTime();
  const broker = new FakeBroker();
  broker.answers = [creds(T0 + 60 * MIN, 'ASIAONE'), new BrokerError(0, 'broker_unreachable', 'down'), creds(T0 + 120 * MIN, 'ASIATWO')];
  const s = store(time, broker);
  const failures: unknown[] = [];
  s.on('refresh-failed', (e) => failures.push(e));
  await s.get();
  await time.advance(55 * MIN);
  assert.equal(broker.calls, 2);
  assert.equal(failures.length, 1);
  assert.equal(s.peek()?.accessKeyId, 'ASIAONE');
  // get() still hands out the old credentials rather than failing the AWS call... (broker still down)
  broker.answers.unshift(new BrokerError(0, 'broker_unreachable', 'down'));
  assert.equal((await s.get()).accessKeyId, 'ASIAONE');
  // ...and the retry timer (at most 30 s later) picks up new ones once the broker is back.
  await time.advance(30_000);
  assert.equal(s.peek()?.accessKeyId, 'ASIATWO');
});

test('credentials from before a clear() (role switch) are thrown away', async () => {
  const time = new FakeTime();
  const broker = new FakeBroker();
  let release!: () => void;
  broker.gate = new Promise<void>((r) => (release = r));
  broker.answers = [creds(T0 + 60 * MIN, 'ASIAOLDROLE'), creds(T0 + 60 * MIN, 'ASIANEWROLE')];
  const s = store(time, broker);
  const pending = s.get();
  await settle();
  s.clear();
  broker.gate = null;
  release();
  const c = await pending;
  assert.equal(c.accessKeyId, 'ASIANEWROLE');
  assert.equal(s.peek()?.accessKeyId, 'ASIANEWROLE');
  assert.equal(broker.calls, 2);
});

test('a skewed browser clock is corrected with the broker\'s Date header', async () => {
  const time = new FakeTime();
  const broker = new FakeBroker();
  // The broker's clock is 10 minutes ahead of the browser's; its credentials last 60 minutes by its clock.
  const server = T0 + 10 * MIN;
  broker.answers = [creds(server + 60 * MIN, 'ASIAONE', server)];
  const s = store(time, broker);
  await s.get();
  assert.equal(s.skewMs, 10 * MIN);
  assert.equal(s.msLeft(), 60 * MIN);
  assert.equal(s.refreshDueAt(), T0 + 55 * MIN);
  // A skew under 2 s (the Date header's resolution) is ignored.
  broker.answers = [creds(T0 + 60 * MIN, 'ASIATWO', T0 + 1500)];
  await s.refresh();
  assert.equal(s.skewMs, 0);
});

test('no role chosen (409) rejects without an "expired" event', async () => {
  const time = new FakeTime();
  const broker = new FakeBroker();
  broker.answers = [new BrokerError(409, 'no_role', 'Choose a role first.')];
  const s = store(time, broker);
  let expired = 0;
  s.on('expired', () => expired++);
  await assert.rejects(s.get(), (e: unknown) => e instanceof BrokerError && e.code === 'no_role');
  assert.equal(expired, 0);
});

test('isSafeRelativePath accepts same-origin paths only', () => {
  for (const ok of ['/', '/app/', '/app/x?y=1#z', '/saml/login?role=arn%3Aaws&return_to=%2F', '/a%2Fb']) {
    assert.equal(isSafeRelativePath(ok), true, ok);
  }
  for (const bad of ['', 'app', '//evil.example', '/\\evil.example', '/app\\..\\x', 'https://evil.example/', 'javascript:alert(1)', ' /app', '/app\n/x', '/app\t', 'http:/evil']) {
    assert.equal(isSafeRelativePath(bad), false, JSON.stringify(bad));
  }
});

test('signInTarget: the broker\'s login_url when it is same-origin, else /saml/login; return_to is always this page', () => {
  const here = { pathname: '/app/', hash: '#roles' };
  // The broker's return_to (where the sign-in started, often /) gives way to this page.
  assert.equal(signInTarget('/saml/login?role=x&return_to=%2F', here), '/saml/login?role=x&return_to=%2Fapp%2F%23roles');
  assert.equal(signInTarget('/saml/login?role=arn%3Aaws%3Aiam%3A%3A1%3Arole%2FDev', { pathname: '/app/', hash: '' }), '/saml/login?role=arn%3Aaws%3Aiam%3A%3A1%3Arole%2FDev&return_to=%2Fapp%2F');
  assert.equal(new URL(signInTarget('/saml/login?return_to=%2F', here), 'https://b.invalid').searchParams.get('return_to'), '/app/#roles');
  assert.equal(signInTarget(null, here), '/saml/login?return_to=%2Fapp%2F%23roles');
  assert.equal(signInTarget(undefined, { pathname: '/app/', hash: '' }), '/saml/login?return_to=%2Fapp%2F');
  for (const evil of ['https://evil.example/saml/login', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)']) {
    assert.equal(signInTarget(evil, here), '/saml/login?return_to=%2Fapp%2F%23roles', evil);
  }
  // A page reached through an odd path never makes the return_to leave the origin.
  assert.equal(signInTarget(null, { pathname: '//evil.example/', hash: '' }), '/saml/login?return_to=%2F');
});

test('handOverTarget: the broker\'s explaining page, carrying the sign-in URL', () => {
  const t = handOverTarget('/saml/login?role=x&return_to=%2Fapp%2F');
  assert.equal(t, '/signing-in?next=%2Fsaml%2Flogin%3Frole%3Dx%26return_to%3D%252Fapp%252F');
  assert.equal(new URL(t, 'https://b.invalid').searchParams.get('next'), '/saml/login?role=x&return_to=%2Fapp%2F');
});
