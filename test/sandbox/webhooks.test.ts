import { createHmac, randomBytes } from 'node:crypto';
import type { Sandbox } from '../../src/sandbox';
import { api, createWebhook, startReceiver, startTestSandbox, transfer, waitFor } from './helpers';
import type { Receiver } from './helpers';

// Written from Daily's documented scheme, independently of src/daily/signature.ts: HMAC-SHA256 keyed with the
// base64-decoded secret over `<timestamp>.<raw body>`, base64-encoded.
function expectedSignature(secretBase64: string, timestamp: string, rawBody: string): string {
  return createHmac('sha256', Buffer.from(secretBase64, 'base64')).update(`${timestamp}.${rawBody}`).digest('base64');
}

describe('sandbox webhooks', () => {
  let sandbox: Sandbox;
  let receiver: Receiver | undefined;

  beforeAll(async () => {
    sandbox = await startTestSandbox();
  });
  afterAll(() => sandbox.close());
  beforeEach(async () => {
    for (const webhook of sandbox.webhooks()) await api(sandbox, 'DELETE', `/webhooks/${webhook.uuid}`);
    sandbox.reset();
    sandbox.createRoom('w');
  });
  afterEach(async () => {
    await sandbox.idle();
    await receiver?.close();
    receiver = undefined;
  });

  describe('configuration', () => {
    it('verifies the url with an unsigned {"test":"test"} request, then creates one webhook with a generated hmac', async () => {
      receiver = await startReceiver();
      const res = await api(sandbox, 'POST', '/webhooks', { url: receiver.url });
      expect(res.status).toBe(200);
      expect(receiver.received).toHaveLength(1);
      expect(receiver.received[0]?.raw).toBe('{"test":"test"}');
      expect(receiver.received[0]?.headers['content-type']).toBe('application/json');
      expect(receiver.received[0]?.headers['x-webhook-signature']).toBeUndefined();

      const webhook = res.body;
      expect(webhook).toEqual({
        uuid: expect.any(String),
        url: receiver.url,
        hmac: expect.stringMatching(/^[A-Za-z0-9+/]+={0,2}$/),
        basicAuth: null,
        retryType: 'circuit-breaker',
        eventTypes: [],
        state: 'ACTIVE',
        failedCount: 0,
        lastMomentPushed: null,
        domainId: expect.any(String),
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect(Buffer.from(String(webhook.hmac), 'base64')).toHaveLength(32);

      expect((await api(sandbox, 'GET', '/webhooks')).body).toEqual([webhook]);
      expect((await api(sandbox, 'GET', `/webhooks/${String(webhook.uuid)}`)).body).toEqual(webhook);

      const second = await api(sandbox, 'POST', '/webhooks', { url: receiver.url });
      expect(second.status).toBe(400);
      expect(second.body.error).toBe('invalid-request-error');
      expect(sandbox.webhooks()).toHaveLength(1);

      const deleted = await api(sandbox, 'DELETE', `/webhooks/${String(webhook.uuid)}`);
      expect(deleted.body).toEqual({ deleted: true, uuid: webhook.uuid });
      expect((await api(sandbox, 'GET', '/webhooks')).body).toEqual([]);
      expect((await api(sandbox, 'GET', `/webhooks/${String(webhook.uuid)}`)).status).toBe(404);
    });

    it('does not create the webhook when the test request fails, hangs or cannot connect', async () => {
      receiver = await startReceiver(() => 500);
      const failing = await api(sandbox, 'POST', '/webhooks', { url: receiver.url });
      expect(failing.status).toBe(400);
      expect(failing.body.error).toBe('invalid-request-error');
      await receiver.close();

      receiver = await startReceiver(() => new Promise<number>(() => undefined));
      expect((await api(sandbox, 'POST', '/webhooks', { url: receiver.url })).status).toBe(400);
      const unreachable = receiver.url;
      await receiver.close();
      receiver = undefined;

      expect((await api(sandbox, 'POST', '/webhooks', { url: unreachable })).status).toBe(400);
      expect(sandbox.webhooks()).toEqual([]);
    });

    it.each([
      [{}, 'url'],
      [{ url: 'ftp://example.com/x' }, 'url'],
      [{ url: 'http://127.0.0.1:1/x', hmac: 'not base64!' }, 'hmac'],
      [{ url: 'http://127.0.0.1:1/x', retryType: 'linear' }, 'retryType'],
      [{ url: 'http://127.0.0.1:1/x', eventTypes: 'participant.left' }, 'eventTypes'],
    ])('rejects %j with a 400 naming %s', async (body, field) => {
      const res = await api(sandbox, 'POST', '/webhooks', body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid-request-error');
      expect(String(res.body.info)).toContain(field);
    });
  });

  describe('delivery', () => {
    it("signs each event the way Daily documents, with seconds in X-Webhook-Timestamp and Daily's envelope", async () => {
      receiver = await startReceiver();
      const hmac = randomBytes(32).toString('base64');
      await createWebhook(sandbox, { url: receiver.url, hmac, basicAuth: 'dXNlcjpwYXNz' });
      const { sessionId } = sandbox.addCaller('w');
      await sandbox.idle();

      const deliveries = receiver.received.slice(1);
      expect(deliveries).toHaveLength(2);
      for (const delivery of deliveries) {
        const timestamp = String(delivery.headers['x-webhook-timestamp']);
        expect(timestamp).toMatch(/^\d+$/);
        expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(600);
        expect(delivery.headers['x-webhook-signature']).toBe(expectedSignature(hmac, timestamp, delivery.raw));
        expect(delivery.headers['x-webhook-signature']).not.toBe(
          expectedSignature(hmac, timestamp, `${delivery.raw} `)
        );
        expect(delivery.headers['content-type']).toBe('application/json');
        expect(delivery.headers.authorization).toBe('Basic dXNlcjpwYXNz');
      }
      const envelopes = receiver.envelopes();
      expect(envelopes.map((e) => e.type).sort()).toEqual(['dialin.connected', 'participant.joined']);
      for (const envelope of envelopes) {
        expect(envelope).toEqual({
          version: '1.0.0',
          type: expect.any(String),
          id: expect.any(String),
          payload: expect.objectContaining({ session_id: sessionId, room: 'w' }),
          event_ts: expect.any(Number),
        });
      }
      expect(envelopes.map((e) => e.id).sort()).toEqual(
        sandbox
          .emittedEvents()
          .map((e) => e.id)
          .sort()
      );
      expect(sandbox.deliveries().every((d) => d.status === 200 && d.attempt === 1)).toBe(true);
      // The receiver's ack latency as the sender saw it (the bench's ack figures).
      expect(sandbox.deliveries().every((d) => d.durationMs !== undefined && d.durationMs >= 0)).toBe(true);
      expect(sandbox.webhooks()[0]?.lastMomentPushed).toEqual(expect.any(String));
    });

    it('delivers only the subscribed event types', async () => {
      receiver = await startReceiver();
      await createWebhook(sandbox, { url: receiver.url, eventTypes: ['participant.joined'] });
      sandbox.addCaller('w');
      await sandbox.idle();
      expect(receiver.envelopes().map((e) => e.type)).toEqual(['participant.joined']);
      expect(sandbox.deliveries().map((d) => d.type)).toEqual(['participant.joined']);
    });

    it('circuit-breaker: 3 consecutive failures put the webhook in FAILED; later events are dropped until re-activation', async () => {
      let status = 200;
      receiver = await startReceiver(() => status);
      const webhook = await createWebhook(sandbox, { url: receiver.url, eventTypes: ['participant.joined'] });
      const joinOne = async (): Promise<void> => {
        sandbox.addCaller('w');
        await sandbox.idle();
      };

      status = 500;
      await joinOne();
      await joinOne();
      expect(sandbox.webhooks()[0]).toMatchObject({ state: 'ACTIVE', failedCount: 2 });
      status = 200;
      await joinOne(); // a success resets the count
      expect(sandbox.webhooks()[0]).toMatchObject({ state: 'ACTIVE', failedCount: 0 });

      status = 500;
      await joinOne();
      await joinOne();
      await joinOne();
      expect(sandbox.webhooks()[0]).toMatchObject({ state: 'FAILED', failedCount: 3 });
      expect(sandbox.deliveries().every((d) => d.attempt === 1)).toBe(true); // no retries in this mode

      status = 200;
      const receivedBefore = receiver.received.length;
      await joinOne();
      expect(receiver.received).toHaveLength(receivedBefore);
      expect(sandbox.deliveries().at(-1)).toMatchObject({ status: 'dropped', attempt: 0, webhookUuid: webhook.uuid });

      status = 500;
      const refused = await api(sandbox, 'POST', `/webhooks/${webhook.uuid}`, {});
      expect(refused.status).toBe(400);
      expect(sandbox.webhooks()[0]?.state).toBe('FAILED');

      status = 200;
      const reactivated = await api(sandbox, 'POST', `/webhooks/${webhook.uuid}`, {});
      expect(reactivated.status).toBe(200);
      expect(reactivated.body).toMatchObject({ uuid: webhook.uuid, state: 'ACTIVE', failedCount: 0 });
      await joinOne();
      expect(sandbox.deliveries().at(-1)).toMatchObject({ status: 200, type: 'participant.joined' });
      expect(receiver.envelopes().at(-1)?.type).toBe('participant.joined');
    });

    it('exponential: a failed message is retried until the receiver takes it', async () => {
      const attemptsById = new Map<string, number>();
      receiver = await startReceiver((req) => {
        const body = JSON.parse(req.raw) as { id?: string; test?: string };
        if (body.test) return 200;
        const n = (attemptsById.get(String(body.id)) ?? 0) + 1;
        attemptsById.set(String(body.id), n);
        return n <= 2 ? 503 : 200;
      });
      await createWebhook(sandbox, { url: receiver.url, retryType: 'exponential', eventTypes: ['participant.joined'] });
      sandbox.addCaller('w');
      await sandbox.idle();

      expect(sandbox.deliveries().map((d) => [d.attempt, d.status])).toEqual([
        [1, 503],
        [2, 503],
        [3, 200],
      ]);
      expect(new Set(receiver.envelopes().map((e) => e.id)).size).toBe(1);
      expect(sandbox.webhooks()[0]).toMatchObject({ state: 'ACTIVE', failedCount: 0 });
    });

    it('exponential: after 5 failed attempts the message is dropped, and the webhook never goes FAILED', async () => {
      receiver = await startReceiver((req) => (req.raw.includes('"test"') ? 200 : 500));
      await createWebhook(sandbox, { url: receiver.url, retryType: 'exponential', eventTypes: ['participant.joined'] });
      sandbox.addCaller('w');
      sandbox.addCaller('w');
      await sandbox.idle();

      const deliveries = sandbox.deliveries();
      const eventIds = [...new Set(deliveries.map((d) => d.eventId))];
      expect(eventIds).toHaveLength(2);
      for (const id of eventIds) {
        expect(deliveries.filter((d) => d.eventId === id).map((d) => [d.attempt, d.status])).toEqual([
          [1, 500],
          [2, 500],
          [3, 500],
          [4, 500],
          [5, 500],
          [5, 'dropped'],
        ]);
      }
      expect(receiver.envelopes()).toHaveLength(10);
      expect(sandbox.webhooks()[0]).toMatchObject({ state: 'ACTIVE', failedCount: 10 });
    });

    it('a receiver slower than the delivery timeout counts as a failure', async () => {
      const slow = await startTestSandbox({ timing: { webhookTimeoutMs: 100 } });
      let first = true;
      receiver = await startReceiver((req) => {
        if (req.raw.includes('"test"')) return 200;
        if (!first) return 200;
        first = false;
        return new Promise<number>(() => undefined);
      });
      try {
        await createWebhook(slow, { url: receiver.url, retryType: 'exponential', eventTypes: ['participant.joined'] });
        slow.createRoom('w');
        slow.addCaller('w');
        await slow.idle();
        expect(slow.deliveries().map((d) => [d.attempt, d.status])).toEqual([
          [1, 'error'],
          [2, 200],
        ]);
      } finally {
        await slow.close();
      }
    });
  });

  describe('webhook faults', () => {
    it('duplicate: each event arrives 1 + n times under the same id; emitted once', async () => {
      receiver = await startReceiver();
      await createWebhook(sandbox, { url: receiver.url });
      sandbox.setWebhookFaults({ duplicate: 2 });
      sandbox.addCaller('w');
      await sandbox.idle();

      expect(sandbox.emittedEvents()).toHaveLength(2);
      const ids = receiver.envelopes().map((e) => e.id);
      expect(ids).toHaveLength(6);
      for (const event of sandbox.emittedEvents()) expect(ids.filter((id) => id === event.id)).toHaveLength(3);
    });

    it("reorder: a transfer's events arrive in reverse order of emission", async () => {
      receiver = await startReceiver();
      await createWebhook(sandbox, { url: receiver.url });
      const { sessionId } = sandbox.addCaller('w');
      await sandbox.idle();
      const before = receiver.envelopes().length;
      const emittedBefore = sandbox.emittedEvents().length;

      sandbox.setWebhookFaults({ reorder: true });
      sandbox.setScenario('+15551230000', { kind: 'answer', afterMs: 10, hangUpAfterMs: 10 });
      expect((await transfer(sandbox, 'w', { sessionId, toEndPoint: '+15551230000' })).status).toBe(200);
      await sandbox.idle();

      const emitted = sandbox
        .emittedEvents()
        .slice(emittedBefore)
        .map((e) => e.id);
      expect(emitted).toHaveLength(6);
      expect(
        receiver
          .envelopes()
          .slice(before)
          .map((e) => e.id)
      ).toEqual([...emitted].reverse());
      expect(receiver.envelopes().slice(before)[0]?.type).toBe('calltransfer.completed');
    });

    it('reorderHoldMs: held events go out reversed once the hold ends, before the transfer settles', async () => {
      const held = await startReceiver();
      receiver = held;
      await createWebhook(sandbox, { url: held.url });
      const { sessionId } = sandbox.addCaller('w');
      await sandbox.idle();
      const before = held.envelopes().length;

      sandbox.setWebhookFaults({ reorder: true, reorderHoldMs: 100 });
      // Nobody answers: the transfer never settles, so only the hold can release its events.
      sandbox.setScenario('+15551230000', { kind: 'no-answer' });
      expect((await transfer(sandbox, 'w', { sessionId, toEndPoint: '+15551230000' })).status).toBe(200);
      const released = await waitFor(() => {
        const types = held
          .envelopes()
          .slice(before)
          .map((e) => e.type);
        return types.includes('calltransfer.triggered') && types;
      }, 'the held events');

      // Still ringing, yet its events are out, newest first.
      expect(sandbox.participant('w', sessionId)?.state).not.toBe('ended');
      expect(released).not.toContain('calltransfer.completed');
      expect(released[0]).not.toBe('calltransfer.triggered');
      expect(released.at(-1)).toBe('calltransfer.triggered');
    });

    it('delayMs: each delivery waits at least that long', async () => {
      receiver = await startReceiver();
      await createWebhook(sandbox, { url: receiver.url });
      sandbox.setWebhookFaults({ delayMs: 150 });
      const start = Date.now();
      sandbox.addCaller('w');
      await sandbox.idle();
      const arrivals = receiver.received.slice(1);
      expect(arrivals).toHaveLength(2);
      for (const arrival of arrivals) expect(arrival.at - start).toBeGreaterThanOrEqual(140);
    });
  });
});
