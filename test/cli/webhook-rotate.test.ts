/**
 * `switchboard webhook setup --rotate` against the sandbox and a real relay: Daily is switched to the new secret only
 * once the relay verifies it, and no delivery is refused along the way.
 */
import type { FastifyInstance } from 'fastify';
import { EXIT_CODES, run } from '../../src/client/cli';
import { DailyClient } from '../../src/daily';
import { createRelay, WEBHOOK_PATH } from '../../src/relay/app';
import type { WebhookSecrets } from '../../src/relay/webhook-auth';
import { setupWebhook } from '../../src/relay/webhook-setup';
import type { Sandbox } from '../../src/sandbox';
import { startSandbox } from '../../src/sandbox';
import { waitFor } from '../helpers/wait';
import { SECRET } from '../relay/deliveries';

let sandbox: Sandbox;
let daily: DailyClient;
let relay: FastifyInstance | undefined;
let port = 0;
let hook: string;

async function startRelayWith(secrets: WebhookSecrets): Promise<void> {
  await relay?.close();
  relay = createRelay({
    temporal: { workflow: { getHandle: () => ({ signal: async () => undefined }) }, withDeadline: (_d, fn) => fn() },
    secrets,
    isTemporalReady: async () => true,
  });
  const url = await relay.listen({ port, host: '127.0.0.1' });
  port = Number(new URL(url).port);
  hook = `${url}${WEBHOOK_PATH}`;
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, timing: { triggeredMs: 10, initiatedMs: 20 } });
  daily = new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase });
  await startRelayWith(SECRET);
  await setupWebhook({ daily, url: hook, hmac: SECRET });
});

afterAll(async () => {
  await daily?.close();
  await sandbox?.close();
  await relay?.close();
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: { DAILY_API_KEY: sandbox.apiKey, DAILY_API_URL: sandbox.apiBase },
  });
  return { code, out, err };
}

test('rotates the secret in two runs; Daily switches only once the relay verifies the new one', async () => {
  const started = await cli('--json', 'webhook', 'setup', '--url', hook, '--rotate');
  expect(started.code).toBe(EXIT_CODES.ok);
  const { action, secret } = JSON.parse(started.out) as { action: string; secret: string };
  expect(action).toBe('rotation-started');
  expect(Buffer.from(secret, 'base64')).toHaveLength(32);
  expect(sandbox.webhooks()[0]?.hmac).toBe(SECRET);

  // The relay does not know the new secret yet: Daily is left alone.
  const early = await cli('webhook', 'setup', '--url', hook, '--rotate', '--hmac', secret);
  expect(early.code).toBe(EXIT_CODES.unsuccessful);
  expect(early.err).toContain(`error: the relay at ${hook} does not accept the new secret yet (HTTP 401)`);
  expect(sandbox.webhooks()[0]?.hmac).toBe(SECRET);

  // The relay gets the new secret as current and the old one as previous; now Daily switches.
  await startRelayWith([secret, SECRET]);
  const done = await cli('webhook', 'setup', '--url', hook, '--rotate', '--hmac', secret);
  expect(done).toMatchObject({ code: EXIT_CODES.ok, err: '' });
  expect(done.out).toContain('Daily signs with the new secret now.');
  expect(done.out).not.toContain(secret);
  expect(sandbox.webhooks()[0]).toMatchObject({ hmac: secret, url: hook, retryType: 'exponential' });

  sandbox.createRoom('lobby');
  const { sessionId } = sandbox.addCaller('lobby');
  await daily.sipCallTransfer('lobby', { sessionId, toEndPoint: 'sip:agent@example.com' });
  await waitFor('events to be delivered', () => sandbox.deliveries().length >= 3);
  await sandbox.idle();
  expect(sandbox.deliveries().filter((d) => d.status !== 200)).toEqual([]);
});
