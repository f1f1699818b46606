import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { DailyBadRequestError, DailyClient } from '../../src/daily';
import { freePort } from '../../src/local/dev-server';
import { WEBHOOK_PATH } from '../../src/relay/app';
import { createRelayMetrics } from '../../src/relay/metrics';
import type { RunningRelay } from '../../src/relay/server';
import { startRelay } from '../../src/relay/server';
import { TRANSFER_EVENT_TYPES } from '../../src/shared';
import { setupWebhook, webhookStatus } from '../../src/relay/webhook-setup';
import { startWebhookWatchdog } from '../../src/relay/webhook-watchdog';
import type { Sandbox } from '../../src/sandbox';
import { startSandbox } from '../../src/sandbox';
import { waitFor } from '../helpers/wait';
import { SECRET } from './deliveries';

// Daily's webhook API and deliveries come from the sandbox; the relay's Temporal is a closed port (the relay spools
// what it gets and answers 200 regardless).
const silent = pino({ level: 'silent' });
const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-relay-webhook-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

let sandbox: Sandbox;
let daily: DailyClient;
let relay: RunningRelay | undefined;
let hookUrl: string;

async function startTestRelay(opts: { watchdog?: boolean; port?: number } = {}): Promise<RunningRelay> {
  relay = await startRelay(
    {
      temporal: { address: `127.0.0.1:${await freePort()}`, namespace: 'default' },
      port: opts.port ?? 0,
      host: '127.0.0.1',
      secrets: SECRET,
      daily: opts.watchdog ? { apiKey: sandbox.apiKey, apiUrl: sandbox.apiBase } : undefined,
      watchdogIntervalSec: 0.2,
      spoolPath: path.join(dataDir, 'relay-spool.sqlite'),
    },
    { logger: silent }
  );
  hookUrl = `${relay.url}${WEBHOOK_PATH}`;
  return relay;
}

beforeEach(async () => {
  sandbox = await startSandbox({ port: 0, timing: { triggeredMs: 10, initiatedMs: 20, roomAnswerMs: 50 } });
  daily = new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase });
});

afterEach(async () => {
  await relay?.close();
  relay = undefined;
  await daily.close();
  await sandbox.close();
});

/** A transfer whose six webhooks (triggered … dialin.stopped) Daily tries to deliver. */
async function transferThroughSandbox(): Promise<void> {
  sandbox.createRoom('lobby');
  const { sessionId } = sandbox.addCaller('lobby');
  await daily.sipCallTransfer('lobby', { sessionId, toEndPoint: 'sip:agent@example.com' });
}

describe('setupWebhook / webhookStatus', () => {
  test("creates the domain's webhook with exponential retries and Switchboard's event types", async () => {
    await startTestRelay();
    const result = await setupWebhook({ daily, url: hookUrl, hmac: SECRET });
    expect(result).toMatchObject({
      action: 'created',
      webhook: { url: hookUrl, state: 'ACTIVE', retryType: 'exponential', eventTypes: [...TRANSFER_EVENT_TYPES] },
      secret: SECRET,
    });
    expect(sandbox.webhooks()).toMatchObject([{ url: hookUrl, retryType: 'exponential', hmac: SECRET }]);
    expect(await webhookStatus({ daily, url: hookUrl })).toEqual({ webhook: result.webhook, problems: [] });
    expect(await setupWebhook({ daily, url: hookUrl, hmac: SECRET })).toMatchObject({ action: 'unchanged' });
  });

  test('returns the secret Daily generated when none is given', async () => {
    await startTestRelay();
    const result = await setupWebhook({ daily, url: hookUrl });
    expect(result.secret).toBe(sandbox.webhooks()[0]?.hmac);
  });

  test('reports what is wrong with a hand-made webhook, and fixes it', async () => {
    await startTestRelay();
    await daily.createWebhook({ url: hookUrl, eventTypes: ['participant.joined'], hmac: SECRET });
    const status = await webhookStatus({ daily, url: hookUrl });
    expect(status.problems).toEqual([
      expect.stringMatching(/^retryType is circuit-breaker/),
      expect.stringMatching(/^not subscribed to calltransfer.triggered, /),
    ]);
    expect(await setupWebhook({ daily, url: hookUrl, hmac: SECRET })).toMatchObject({
      action: 'updated',
      webhook: { retryType: 'exponential', eventTypes: [...TRANSFER_EVENT_TYPES] },
    });
    expect((await webhookStatus({ daily, url: hookUrl })).problems).toEqual([]);
  });

  test('reports a missing webhook', async () => {
    expect(await webhookStatus({ daily })).toEqual({ problems: [expect.stringMatching(/^no webhook configured/)] });
  });

  test('fails, creating nothing, when Daily cannot verify the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}${WEBHOOK_PATH}`;
    await expect(setupWebhook({ daily, url })).rejects.toBeInstanceOf(DailyBadRequestError);
    expect(sandbox.webhooks()).toEqual([]);
  });
});

describe('the watchdog', () => {
  test('re-activates a circuit-breaker webhook that a relay outage switched off', async () => {
    // Without the watchdog: the relay is down, three deliveries fail and Daily's circuit breaker switches it off.
    await startTestRelay();
    await daily.createWebhook({ url: hookUrl, retryType: 'circuit-breaker', hmac: SECRET });
    const { port } = new URL(hookUrl);
    await relay?.close();
    await transferThroughSandbox();
    await waitFor('the webhook to be FAILED', () => sandbox.webhooks()[0]?.state === 'FAILED');

    // The relay process runs the watchdog when it has a Daily API key: it puts the webhook back, for good.
    const withWatchdog = await startTestRelay({ watchdog: true, port: Number(port) });
    await waitFor('the watchdog to re-activate the webhook', () => sandbox.webhooks()[0]?.state === 'ACTIVE');
    expect(sandbox.webhooks()[0]).toMatchObject({ retryType: 'exponential', failedCount: 0 });
    const metrics = await (await fetch(`${withWatchdog.url}/metrics`)).text();
    expect(metrics).toMatch(/^switchboard_relay_webhook_reactivations_total 1$/m);
  });

  test('reports each round: active, missing, or an error reading the webhook', async () => {
    await startTestRelay();
    const metrics = createRelayMetrics();
    const watchdog = startWebhookWatchdog({ daily, intervalSec: 3600, metrics });
    expect(await watchdog.check()).toEqual({ result: 'missing' });
    await setupWebhook({ daily, url: hookUrl, hmac: SECRET });
    expect(await watchdog.check()).toMatchObject({ result: 'active', webhook: { state: 'ACTIVE' } });
    await watchdog.stop();

    const unauthorized = new DailyClient({ apiKey: 'wrong-key', baseUrl: sandbox.apiBase });
    const failing = startWebhookWatchdog({ daily: unauthorized, intervalSec: 3600, metrics });
    expect(await failing.check()).toMatchObject({ result: 'error' });
    await failing.stop();
    await unauthorized.close();
    expect((await metrics.watchdogErrors.get()).values[0]?.value).toBe(2);
    expect((await metrics.webhookReactivations.get()).values[0]?.value).toBe(0);
  });
});
