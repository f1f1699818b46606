/**
 * Coexisting with the customer's own webhook, over real HTTP: Daily (the sandbox) allows one webhook per domain and it
 * already points at the customer's receiver. Setup refuses to take it silently; with `forwardTo` it takes it over and
 * the relay delivers every event to that receiver — verbatim, re-signed with the receiver's own secret, retried from
 * the spool while the receiver is down — besides signaling the transfer.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { DailyClient } from '../../src/daily';
import { verifyWebhookSignature } from '../../src/daily/signature';
import { createRelay, WEBHOOK_PATH } from '../../src/relay/app';
import { createRelayMetrics } from '../../src/relay/metrics';
import type { SignalClient } from '../../src/relay/app';
import { setupWebhook, WebhookInUseError } from '../../src/relay/webhook-setup';
import type { Sandbox } from '../../src/sandbox';
import { startSandbox } from '../../src/sandbox';
import type { DailyEvent } from '../../src/shared';
import { TRANSFER_EVENT_TYPES } from '../../src/shared';
import { waitFor } from '../helpers/wait';
import { SECRET } from './deliveries';

const CUSTOMER_SECRET = Buffer.from("the customer's own receiver secret").toString('base64');

interface Received {
  body: string;
  verified: boolean;
}

/** The customer's existing webhook receiver: checks Daily's signature with its own secret, can be made to fail. */
function startReceiver(): Promise<{ url: string; received: Received[]; failing: { on: boolean }; server: Server }> {
  const received: Received[] = [];
  const failing = { on: false };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (body === '{"test":"test"}') return res.writeHead(200).end();
      if (failing.on) return res.writeHead(503).end();
      const timestamp = String(req.headers['x-webhook-timestamp'] ?? '');
      const signature = String(req.headers['x-webhook-signature'] ?? '');
      const verified = verifyWebhookSignature(CUSTOMER_SECRET, timestamp, body, signature);
      received.push({ body, verified });
      res.writeHead(verified ? 200 : 401).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received, failing, server })
    )
  );
}

let sandbox: Sandbox;
let daily: DailyClient;
let relay: FastifyInstance;
let relayHook: string;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const signaled: DailyEvent[] = [];
const metrics = createRelayMetrics();

beforeAll(async () => {
  receiver = await startReceiver();
  sandbox = await startSandbox({
    port: 0,
    timing: { triggeredMs: 10, initiatedMs: 20, retryBaseMs: 100, retryCapMs: 200 },
    defaultScenario: { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 },
  });
  daily = new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase });
  const temporal: SignalClient = {
    workflow: { getHandle: () => ({ signal: async (_def, ...events) => void signaled.push(...events) }) },
    withDeadline: (_deadline, fn) => fn(),
  };
  relay = createRelay({
    temporal,
    secrets: SECRET,
    isTemporalReady: async () => true,
    metrics,
    forward: { url: receiver.url, secret: CUSTOMER_SECRET, retryBaseMs: 50, retryCapMs: 200, maxAttempts: 100 },
  });
  relayHook = `${await relay.listen({ port: 0, host: '127.0.0.1' })}${WEBHOOK_PATH}`;
});

afterAll(async () => {
  await daily?.close();
  await sandbox?.close();
  await relay?.close();
  await new Promise((resolve) => receiver?.server.close(resolve));
});

test("setup never silently replaces the customer's webhook; with forwardTo the receiver keeps getting every event", async () => {
  // The customer's integration: every event type (no list), signed with their secret.
  await daily.createWebhook({ url: receiver.url, hmac: CUSTOMER_SECRET, retryType: 'exponential' });

  const refused = setupWebhook({ daily, url: relayHook, hmac: SECRET });
  await expect(refused).rejects.toBeInstanceOf(WebhookInUseError);
  await expect(refused).rejects.toThrow(`RELAY_FORWARD_URL=${receiver.url}`);
  expect(sandbox.webhooks()).toMatchObject([{ url: receiver.url, hmac: CUSTOMER_SECRET }]);

  const taken = await setupWebhook({ daily, url: relayHook, hmac: SECRET, forwardTo: receiver.url });
  expect(taken).toMatchObject({ action: 'updated', webhook: { url: relayHook, eventTypes: [] } });
  expect(await setupWebhook({ daily, url: relayHook, hmac: SECRET })).toMatchObject({ action: 'unchanged' });

  // The receiver is down for a while: Daily must not notice, and nothing may be lost.
  receiver.failing.on = true;
  sandbox.createRoom('front-desk');
  const { sessionId } = sandbox.addCaller('front-desk');
  await daily.sipCallTransfer('front-desk', { sessionId, toEndPoint: 'sip:agent@example.com' });
  await waitFor('the transfer to end', () => sandbox.emittedEvents().some((e) => e.type === 'calltransfer.completed'));
  await sandbox.idle();
  expect((await metrics.forwardRetries.get()).values[0]?.value).toBeGreaterThan(0);
  receiver.failing.on = false;

  const emitted = sandbox.emittedEvents();
  expect(emitted.map((e) => e.type)).toEqual(expect.arrayContaining(['participant.left', 'calltransfer.answered']));
  await waitFor('the receiver to get every event', () => receiver.received.length >= emitted.length);
  expect(receiver.received.every((r) => r.verified)).toBe(true);
  const forwarded = receiver.received.map((r) => JSON.parse(r.body) as { id: string; type: string; payload: unknown });
  expect(forwarded.map((e) => e.id).sort()).toEqual(emitted.map((e) => e.id).sort());
  for (const event of emitted) {
    expect(forwarded.find((f) => f.id === event.id)).toMatchObject({ type: event.type, payload: event.payload });
  }
  expect(sandbox.deliveries().filter((d) => d.status !== 200)).toEqual([]);

  // And Switchboard still got its own: every transfer event, signaled.
  const transferEvents = emitted.filter((e) => (TRANSFER_EVENT_TYPES as readonly string[]).includes(e.type));
  await waitFor('the signals', () => signaled.length >= transferEvents.length);
  expect(signaled.map((e) => e.id).sort()).toEqual(transferEvents.map((e) => e.id).sort());
});
