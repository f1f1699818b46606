import type { FastifyInstance } from 'fastify';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createRelay } from '../../src/relay/app';
import type { RelayDeps, SignalClient } from '../../src/relay/app';
import { createRelayMetrics } from '../../src/relay/metrics';
import type { RelayMetrics } from '../../src/relay/metrics';
import { Spool } from '../../src/relay/spool';
import type { DailyEvent } from '../../src/shared';
import { waitFor } from '../helpers/wait';
import type { Delivery } from './deliveries';
import { SECRET, signed, transferEvent } from './deliveries';

// HTTP behaviour only, over real sockets (Fastify's `inject` pulls in an ESM-only module Jest on Node 20 can't load):
// Temporal is replaced by a recorder here. test/relay/temporal.test.ts runs the same path against a real server.
interface Sent {
  workflowId: string;
  event: DailyEvent;
}

function recordingTemporal(fail?: (workflowId: string) => Error | undefined): { temporal: SignalClient; sent: Sent[] } {
  const sent: Sent[] = [];
  const temporal: SignalClient = {
    workflow: {
      getHandle: (workflowId) => ({
        signal: async (_definition, ...events) => {
          const error = fail?.(workflowId);
          if (error) throw error;
          for (const event of events) sent.push({ workflowId, event });
        },
      }),
    },
    withDeadline: (_deadline, fn) => fn(),
  };
  return { temporal, sent };
}

let apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.map((app) => app.close()));
  apps = [];
});

interface Relay {
  url: string;
  sent: Sent[];
  metrics: RelayMetrics;
  spool: Spool;
}

async function build(overrides: Partial<RelayDeps> = {}): Promise<Relay> {
  const { temporal, sent } = recordingTemporal();
  const metrics = createRelayMetrics();
  const spool = new Spool(':memory:');
  const app = createRelay({
    temporal,
    secrets: SECRET,
    isTemporalReady: async () => true,
    metrics,
    spool,
    retryBaseMs: 10,
    retryCapMs: 50,
    ...overrides,
  });
  apps.push(app);
  app.addHook('onClose', async () => spool.close());
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, sent, metrics, spool };
}

/** The 200 comes when the event is spooled; the signal follows. Waits until the spool holds nothing to do. */
async function drained(relay: Relay): Promise<void> {
  await waitFor('the spool to drain', async () => (await counter(relay.metrics, 'spool_pending_events')) === 0);
}

interface Answer {
  statusCode: number;
  headers: Headers;
  json(): unknown;
  body: string;
}

async function call(url: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${url}${path}`, init);
  const body = await response.text();
  return { statusCode: response.status, headers: response.headers, body, json: () => JSON.parse(body) };
}

function deliver(relay: Relay, delivery: Delivery): Promise<Answer> {
  return call(relay.url, '/webhooks/daily', { method: 'POST', body: delivery.body, headers: delivery.headers });
}

async function counter(metrics: RelayMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics.registry.getSingleMetric(`switchboard_relay_${name}`);
  const values = (await metric?.get())?.values ?? [];
  const match = values.find((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value));
  return match?.value ?? 0;
}

const initiated = () =>
  transferEvent('calltransfer.initiated', {
    room: 'support',
    session_id: 'leg-1',
    to_endpoint: 'sip:agent@example.com',
    from_endpoint: 'sip:caller@example.com',
    is_sip_refer: false,
  });

describe('POST /webhooks/daily', () => {
  test('spools a verified transfer event, answers 200, then signals it, normalised, to the workflow of its leg', async () => {
    const relay = await build();
    const event = initiated();
    const res = await deliver(relay, signed(event));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, outcome: 'accepted' });
    await drained(relay);
    expect(relay.sent).toEqual([
      {
        workflowId: 'transfer:support:leg-1',
        event: {
          id: event.id,
          type: 'calltransfer.initiated',
          room: 'support',
          sessionId: 'leg-1',
          occurredAtMs: 1770005095000,
          sentAtMs: 1770005095250,
          toEndPoint: 'sip:agent@example.com',
          isSipRefer: false,
          // The domain that verified it (one secret for all: what the verified body says).
          domainId: 'domain-a',
        },
      },
    ]);
    expect(await counter(relay.metrics, 'webhooks_signaled_total', { type: 'calltransfer.initiated' })).toBe(1);
    expect(await counter(relay.metrics, 'webhooks_received_total', { type: 'calltransfer.initiated' })).toBe(1);
  });

  test("answers Daily's verification request with 200, signed or not, and signals nothing", async () => {
    const relay = await build();
    const unsigned = await call(relay.url, '/webhooks/daily', { method: 'POST', body: '{"test":"test"}' });
    expect(unsigned.statusCode).toBe(200);
    expect(unsigned.json()).toEqual({ ok: true, outcome: 'verification' });
    expect((await deliver(relay, signed({ test: 'test' }))).statusCode).toBe(200);
    expect(relay.sent).toEqual([]);
  });

  test.each([
    ['a forged signature', (d: Delivery) => ({ ...d.headers, 'x-webhook-signature': 'Zm9yZ2Vk' })],
    [
      'a signature of another body',
      (d: Delivery) => ({ ...d.headers, 'x-webhook-signature': signed({}).headers['x-webhook-signature'] ?? '' }),
    ],
  ])('rejects %s with 401', async (_name, tamper) => {
    const relay = await build();
    const delivery = signed(initiated());
    const res = await deliver(relay, { ...delivery, headers: tamper(delivery) });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'bad_signature' });
    expect(relay.sent).toEqual([]);
    expect(await counter(relay.metrics, 'webhooks_rejected_total', { reason: 'bad_signature' })).toBe(1);
  });

  test('rejects a body signed with another secret', async () => {
    const relay = await build();
    const other = Buffer.from('someone else').toString('base64');
    const res = await deliver(relay, signed(initiated(), { secret: other }));
    expect(res.statusCode).toBe(401);
    expect(relay.sent).toEqual([]);
  });

  test.each(['x-webhook-signature', 'x-webhook-timestamp'])('rejects a delivery without %s with 401', async (name) => {
    const relay = await build();
    const delivery = signed(initiated());
    const headers = Object.fromEntries(Object.entries(delivery.headers).filter(([key]) => key !== name));
    const res = await deliver(relay, { ...delivery, headers });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'missing_header' });
    expect(relay.sent).toEqual([]);
    expect(await counter(relay.metrics, 'webhooks_rejected_total', { reason: 'missing_header' })).toBe(1);
  });

  const nowSec = () => Math.floor(Date.now() / 1000);
  test.each([
    ['seconds, 3901 s old', () => String(nowSec() - 3901)],
    ['seconds, 3901 s ahead', () => String(nowSec() + 3901)],
    ['milliseconds, 3901 s old', () => String(Date.now() - 3901_000)],
  ])('rejects a correctly signed timestamp outside the replay window (%s) with 401', async (_name, timestamp) => {
    const relay = await build();
    const res = await deliver(relay, signed(initiated(), { timestamp: timestamp() }));
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'stale_timestamp' });
    expect(relay.sent).toEqual([]);
    expect(await counter(relay.metrics, 'webhooks_rejected_total', { reason: 'stale_timestamp' })).toBe(1);
  });

  test("accepts a timestamp an hour old: Daily's exponential retries span up to 4 × 15 minutes", async () => {
    const relay = await build();
    expect((await deliver(relay, signed(initiated(), { timestamp: String(nowSec() - 3600) }))).statusCode).toBe(200);
  });

  test('accepts the timestamp header in milliseconds and fractional seconds', async () => {
    const relay = await build();
    expect((await deliver(relay, signed(initiated(), { timestamp: String(Date.now()) }))).statusCode).toBe(200);
    expect((await deliver(relay, signed(initiated(), { timestamp: String(Date.now() / 1000) }))).statusCode).toBe(200);
    await drained(relay);
    expect(relay.sent).toHaveLength(2);
  });

  test('honours a custom timestamp tolerance', async () => {
    const relay = await build({ timestampToleranceSec: 10 });
    const res = await deliver(relay, signed(initiated(), { timestamp: String(nowSec() - 30) }));
    expect(res.statusCode).toBe(401);
  });

  test('rejects a timestamp that is not a number with 401', async () => {
    const relay = await build();
    const res = await deliver(relay, signed(initiated(), { timestamp: '2026-01-01T00:00:00Z' }));
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'bad_timestamp' });
  });

  test('dead-letters correctly signed malformed JSON with 200 (a retry could not fix it); unsigned is 401', async () => {
    const relay = await build();
    const body = '{"type": "calltransfer.initiated",';
    const res = await deliver(relay, signed(undefined, { body }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, outcome: 'dead_lettered' });
    expect(relay.spool.deadLetters()).toEqual([
      expect.objectContaining({ reason: 'malformed_json', detail: 'body is not JSON', body }),
    ]);
    expect(await counter(relay.metrics, 'dead_lettered_total', { reason: 'malformed_json' })).toBe(1);
    expect(await counter(relay.metrics, 'dead_letters', { reason: 'malformed_json' })).toBe(1);
    const unsigned = await call(relay.url, '/webhooks/daily', { method: 'POST', body });
    expect(unsigned.statusCode).toBe(401);
    expect(relay.spool.deadLetters()).toHaveLength(1);
  });

  test('dead-letters a signed transfer event it cannot route (no session_id) with 200, once per event id', async () => {
    const relay = await build();
    const event = transferEvent('calltransfer.answered', { room: 'support' });
    const res = await deliver(relay, signed(event));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, outcome: 'dead_lettered' });
    expect((await deliver(relay, signed(event))).json()).toEqual({ ok: true, outcome: 'duplicate' });
    expect(relay.spool.deadLetters()).toEqual([
      expect.objectContaining({
        eventId: event.id,
        type: 'calltransfer.answered',
        domainId: 'domain-a',
        reason: 'invalid_event',
        detail: expect.stringContaining('session_id'),
      }),
    ]);
    await drained(relay);
    expect(relay.sent).toEqual([]);
  });

  test('answers the same event id once as accepted, then as duplicate, and signals it once', async () => {
    const relay = await build();
    const event = initiated();
    const outcomes = [];
    for (let i = 0; i < 3; i += 1) outcomes.push((await deliver(relay, signed(event))).json());
    expect(outcomes).toEqual([
      { ok: true, outcome: 'accepted' },
      { ok: true, outcome: 'duplicate' },
      { ok: true, outcome: 'duplicate' },
    ]);
    await drained(relay);
    expect(relay.sent).toHaveLength(1);
    expect(await counter(relay.metrics, 'webhooks_duplicate_total')).toBe(2);
  });

  test('rejects a body over the limit with 413 before reading it', async () => {
    const relay = await build({ bodyLimitBytes: 1024 });
    const event = { ...initiated(), padding: 'x'.repeat(2048) };
    const res = await deliver(relay, signed(event));
    expect(res.statusCode).toBe(413);
    expect(relay.sent).toEqual([]);
    expect(await counter(relay.metrics, 'webhooks_rejected_total', { reason: 'body_too_large' })).toBe(1);
  });

  test('takes the raw body whatever the content type says', async () => {
    const relay = await build();
    const delivery = signed(initiated());
    const res = await deliver(relay, { ...delivery, headers: { ...delivery.headers, 'content-type': 'text/plain' } });
    expect(res.statusCode).toBe(200);
    await drained(relay);
    expect(relay.sent).toHaveLength(1);
  });

  test.each(['participant.joined', 'dialin.connected', 'recording.ready-to-download'])(
    'dead-letters %s (a type Switchboard does not act on) with 200 and signals nothing',
    async (type) => {
      const relay = await build();
      const res = await deliver(relay, signed(transferEvent(type, { room: 'support', session_id: 'leg-1' })));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ ok: true, outcome: 'dead_lettered' });
      expect(relay.spool.deadLetters()).toEqual([expect.objectContaining({ type, reason: 'ignored_type' })]);
      expect(relay.sent).toEqual([]);
      expect(await counter(relay.metrics, 'webhooks_unmatched_total', { reason: 'ignored_type' })).toBe(1);
      expect(await counter(relay.metrics, 'webhooks_received_total', { type: 'other' })).toBe(1);
    }
  );

  test('dead-letters an event for a leg with no running transfer once Temporal says so', async () => {
    const { temporal } = recordingTemporal(
      (workflowId) => new WorkflowNotFoundError('workflow execution already completed', workflowId, undefined)
    );
    const relay = await build({ temporal });
    const event = initiated();
    const res = await deliver(relay, signed(event));
    expect(res.json()).toEqual({ ok: true, outcome: 'accepted' });
    await drained(relay);
    expect(relay.spool.deadLetters()).toEqual([
      expect.objectContaining({ eventId: event.id, reason: 'no_running_transfer' }),
    ]);
    expect(await counter(relay.metrics, 'webhooks_unmatched_total', { reason: 'no_running_transfer' })).toBe(1);
  });

  test('answers 200 while Temporal refuses signals, retries, and delivers each leg in order once it is back', async () => {
    let down = true;
    const { temporal, sent } = recordingTemporal(() =>
      down ? new Error('14 UNAVAILABLE: connection refused') : undefined
    );
    const relay = await build({ temporal });
    const legA = ['calltransfer.triggered', 'calltransfer.initiated', 'calltransfer.answered'].map((type) =>
      transferEvent(type, { room: 'support', session_id: 'leg-a' })
    );
    const legB = ['calltransfer.triggered', 'calltransfer.initiated'].map((type) =>
      transferEvent(type, { room: 'support', session_id: 'leg-b' })
    );
    for (const event of [legA[0], legB[0], legA[1], legB[1], legA[2]]) {
      expect((await deliver(relay, signed(event))).json()).toEqual({ ok: true, outcome: 'accepted' });
    }
    await waitFor('retries', async () => (await counter(relay.metrics, 'signal_retries_total')) >= 4);
    expect(sent).toEqual([]);
    expect(await counter(relay.metrics, 'spool_pending_events')).toBe(5);
    expect(await counter(relay.metrics, 'webhooks_rejected_total', { reason: 'temporal_unavailable' })).toBe(0);
    down = false;
    await drained(relay);
    const ids = (workflowId: string) => sent.filter((s) => s.workflowId === workflowId).map((s) => s.event.id);
    expect(ids('transfer:support:leg-a')).toEqual(legA.map((e) => e.id));
    expect(ids('transfer:support:leg-b')).toEqual(legB.map((e) => e.id));
  });

  test('a leg whose transfer keeps failing does not hold back the others', async () => {
    const { temporal, sent } = recordingTemporal((workflowId) =>
      workflowId.endsWith(':stuck') ? new Error('deadline exceeded') : undefined
    );
    const relay = await build({ temporal });
    await deliver(relay, signed(transferEvent('calltransfer.triggered', { room: 'r', session_id: 'stuck' })));
    await deliver(relay, signed(transferEvent('calltransfer.triggered', { room: 'r', session_id: 'fine' })));
    await waitFor('the healthy leg to be signaled', () => sent.length === 1);
    expect(sent[0]?.workflowId).toBe('transfer:r:fine');
    expect(await counter(relay.metrics, 'spool_pending_events')).toBe(1);
  });

  test('answers 503 only when the event cannot be written to the spool', async () => {
    const relay = await build();
    relay.spool.close();
    const res = await deliver(relay, signed(initiated()));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'spool_unavailable' });
    expect(await counter(relay.metrics, 'webhooks_rejected_total', { reason: 'spool_unavailable' })).toBe(1);
  });
});

describe('several Daily domains on one relay', () => {
  const secretA = Buffer.from('domain a secret').toString('base64');
  const secretB = Buffer.from('domain b secret').toString('base64');
  const secrets = { 'domain-a': secretA, 'domain-b': secretB };
  const forDomain = (domain: string) =>
    transferEvent('calltransfer.triggered', { room: 'sales', session_id: 'leg-9', domain_id: domain });

  test("verifies each domain's events with that domain's secret", async () => {
    const relay = await build({ secrets });
    expect((await deliver(relay, signed(forDomain('domain-a'), { secret: secretA }))).statusCode).toBe(200);
    expect((await deliver(relay, signed(forDomain('domain-b'), { secret: secretB }))).statusCode).toBe(200);
    await drained(relay);
    expect(relay.sent).toHaveLength(2);
  });

  test("rejects an event signed with another domain's secret", async () => {
    const relay = await build({ secrets });
    const res = await deliver(relay, signed(forDomain('domain-b'), { secret: secretA }));
    expect(res.statusCode).toBe(401);
    expect(relay.sent).toEqual([]);
  });

  test('tries every secret when the body names no known domain', async () => {
    const relay = await build({ secrets });
    const left = transferEvent('participant.left', { room: 'sales', session_id: 'leg-9', duration: 12.5 });
    delete (left.payload as Record<string, unknown>).domain_id;
    expect((await deliver(relay, signed(left, { secret: secretB }))).statusCode).toBe(200);
    await drained(relay);
    expect(relay.sent[0]?.event).toMatchObject({ type: 'participant.left', durationSec: 12.5 });
    // A body claiming a domain that did not sign it never reaches a transfer.
    const unknownDomain = await deliver(relay, signed(forDomain('domain-z'), { secret: secretA }));
    expect(unknownDomain.json()).toEqual({ ok: true, outcome: 'dead_lettered' });
    expect(relay.spool.deadLetters({ reason: 'domain_mismatch' })).toEqual([
      expect.objectContaining({
        domainId: 'domain-a',
        detail: 'payload.domain_id domain-z but signed with the secret of domain domain-a',
      }),
    ]);
    const junk = await deliver(relay, signed(undefined, { body: 'not json', secret: secretB }));
    expect(junk.json()).toEqual({ ok: true, outcome: 'dead_lettered' });
    const forged = await deliver(relay, signed(undefined, { body: 'not json', secret: SECRET }));
    expect(forged.statusCode).toBe(401);
  });

  test("accepts a domain's previous secret during a rotation, and files the event under the domain that signed it", async () => {
    const newA = Buffer.from('domain a, rotated').toString('base64');
    const relay = await build({ secrets: { 'domain-a': [newA, secretA], 'domain-b': secretB } });
    expect((await deliver(relay, signed(forDomain('domain-a'), { secret: newA }))).statusCode).toBe(200);
    expect((await deliver(relay, signed(forDomain('domain-a'), { secret: secretA }))).statusCode).toBe(200);
    expect((await deliver(relay, signed(forDomain('domain-a'), { secret: secretB }))).statusCode).toBe(401);
    const left = transferEvent('participant.left', { room: 'sales', session_id: 'leg-9' });
    delete (left.payload as Record<string, unknown>).domain_id;
    left.type = 'participant.joined';
    expect((await deliver(relay, signed(left, { secret: newA }))).json()).toEqual({
      ok: true,
      outcome: 'dead_lettered',
    });
    expect(relay.spool.deadLetters()).toEqual([
      expect.objectContaining({ domainId: 'domain-a', reason: 'ignored_type' }),
    ]);
    await drained(relay);
    expect(relay.sent).toHaveLength(2);
  });

  test('a single secret may have a previous one too', async () => {
    const rotated = Buffer.from('rotated').toString('base64');
    const relay = await build({ secrets: [rotated, SECRET] });
    expect((await deliver(relay, signed(initiated(), { secret: rotated }))).statusCode).toBe(200);
    expect((await deliver(relay, signed(initiated()))).statusCode).toBe(200);
    expect((await deliver(relay, signed(initiated(), { secret: secretA }))).statusCode).toBe(401);
  });

  test('refuses to start without a secret, or with one that is not base64', () => {
    const { temporal } = recordingTemporal();
    const deps = { temporal, isTemporalReady: async () => true };
    expect(() => createRelay({ ...deps, secrets: {} })).toThrow(/at least one/);
    expect(() => createRelay({ ...deps, secrets: 'not base64!' })).toThrow(/base64/);
  });
});

describe('routes and methods', () => {
  test.each(['GET', 'PUT', 'DELETE', 'PATCH'] as const)(
    '%s /webhooks/daily is 405 with Allow: POST',
    async (method) => {
      const relay = await build();
      const res = await call(relay.url, '/webhooks/daily', { method });
      expect(res.statusCode).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
  );

  test('POST /healthz is 405 with Allow: GET, HEAD; an unknown path is 404', async () => {
    const relay = await build();
    const res = await call(relay.url, '/healthz', { method: 'POST' });
    expect(res.statusCode).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect((await call(relay.url, '/nope')).statusCode).toBe(404);
  });

  test('/healthz is 200 while the process is up', async () => {
    const relay = await build({ isTemporalReady: async () => false });
    const res = await call(relay.url, '/healthz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });

  test('/readyz follows Temporal reachability', async () => {
    let ready = true;
    const relay = await build({ isTemporalReady: async () => ready });
    expect((await call(relay.url, '/readyz')).statusCode).toBe(200);
    ready = false;
    expect((await call(relay.url, '/readyz')).statusCode).toBe(503);
    const throwing = await build({ isTemporalReady: () => Promise.reject(new Error('boom')) });
    expect((await call(throwing.url, '/readyz')).statusCode).toBe(503);
  });

  test('/metrics serves the Prometheus text of this relay only', async () => {
    const relay = await build();
    await deliver(relay, signed(initiated()));
    await drained(relay);
    const other = await build();
    const res = await call(relay.url, '/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.body).toContain('switchboard_relay_webhooks_signaled_total{type="calltransfer.initiated"} 1');
    expect(res.body).toContain('switchboard_relay_signal_latency_seconds_count 1');
    expect(res.body).toContain('switchboard_relay_webhook_reactivations_total 0');
    expect(res.body).toContain('switchboard_relay_ack_latency_seconds_count 1');
    expect(res.body).toContain('switchboard_relay_spool_pending_events 0');
    expect(res.body).toContain('switchboard_relay_spool_oldest_pending_age_seconds 0');
    const otherRes = await call(other.url, '/metrics');
    expect(otherRes.body).not.toContain('switchboard_relay_webhooks_signaled_total{');
  });
});
