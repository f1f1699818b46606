import { randomBytes, randomUUID } from 'node:crypto';
import { request } from 'undici';
import { signWebhook } from '../daily/signature';
import type { SetupResult, WebhookApi } from './webhook-setup';
import { summarizeWebhook } from './webhook-setup';

/**
 * A signed request the relay answers 200 without keeping or forwarding it: proof that it verifies a given secret.
 * Daily never sends this type.
 */
export const PROBE_EVENT_TYPE = 'switchboard.probe';

/** A new webhook secret as Daily makes them: 32 random bytes, base64. */
export function newWebhookSecret(): string {
  return randomBytes(32).toString('base64');
}

/** The relay at the webhook URL does not (yet) accept the new secret: switching Daily to it would cause 401s. */
export class RotationNotReadyError extends Error {
  public readonly name = 'RotationNotReadyError';
  constructor(
    public readonly url: string,
    public readonly answer: string
  ) {
    super(
      `the relay at ${url} does not accept the new secret yet (${answer}): give every relay ` +
        'DAILY_WEBHOOK_SECRET=<new> and DAILY_WEBHOOK_SECRET_PREVIOUS=<current>, restart them, and run this again'
    );
  }
}

/** POSTs `times` probes signed with `secret` to the webhook URL (behind a load balancer, several reach several relays). */
export async function probeRelay(url: string, secret: string, times = 5): Promise<void> {
  for (let i = 0; i < times; i += 1) {
    const body = JSON.stringify({ version: '1.0.0', type: PROBE_EVENT_TYPE, id: randomUUID(), payload: {} });
    const timestamp = String(Math.floor(Date.now() / 1000));
    let answer: string;
    try {
      const response = await request(url, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'x-webhook-timestamp': timestamp,
          'x-webhook-signature': signWebhook(secret, timestamp, body),
        },
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      await response.body.dump();
      if (response.statusCode === 200) continue;
      answer = `HTTP ${response.statusCode}`;
    } catch (err) {
      answer = (err as Error).message;
    }
    throw new RotationNotReadyError(url, answer);
  }
}

/**
 * The last step of a rotation: once the relays at `url` verify `newSecret` (probed first), Daily's webhook is switched
 * to sign with it. The relays keep the previous secret for Daily's retries of events signed before the switch.
 */
export async function rotateWebhookSecret(opts: {
  daily: WebhookApi;
  url: string;
  newSecret: string;
  probes?: number;
}): Promise<SetupResult> {
  const existing = (await opts.daily.listWebhooks()).find((webhook) => webhook.url === opts.url);
  if (existing === undefined) {
    throw new Error(`no webhook points at ${opts.url}: run \`switchboard webhook setup --url ${opts.url}\` first`);
  }
  await probeRelay(opts.url, opts.newSecret, opts.probes);
  const updated = await opts.daily.updateWebhook(existing.uuid, {
    url: existing.url,
    hmac: opts.newSecret,
    ...(existing.retryType === 'exponential' || existing.retryType === 'circuit-breaker'
      ? { retryType: existing.retryType }
      : {}),
    ...(existing.eventTypes ? { eventTypes: [...existing.eventTypes] } : {}),
  });
  return { action: 'updated', webhook: summarizeWebhook(updated), secret: opts.newSecret };
}
