import { signWebhook } from '../../src/daily/signature';

export const SECRET = Buffer.from('switchboard relay test secret').toString('base64');

export interface Delivery {
  body: string;
  headers: Record<string, string>;
}

let counter = 0;

/** A Daily envelope around a transfer payload, with Daily's quirks (string `timestamp`). */
export function transferEvent(
  type: string,
  payload: Record<string, unknown>,
  overrides: Record<string, unknown> = {}
): Record<string, unknown> {
  counter += 1;
  return {
    version: '1.0.0',
    type,
    id: `${counter}-${type}-${payload.session_id as string}`,
    payload: { domain_id: 'domain-a', timestamp: '1770005095', ...payload },
    event_ts: 1770005095.25,
    ...overrides,
  };
}

/** Signs a body exactly as Daily does: HMAC over `<timestamp>.<raw body>` with the base64-decoded secret. */
export function signed(event: unknown, opts: { secret?: string; timestamp?: string; body?: string } = {}): Delivery {
  const body = opts.body ?? JSON.stringify(event);
  const timestamp = opts.timestamp ?? String(Math.floor(Date.now() / 1000));
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-webhook-timestamp': timestamp,
      'x-webhook-signature': signWebhook(opts.secret ?? SECRET, timestamp, body),
    },
  };
}

/** POSTs a delivery over a real socket. */
export async function post(url: string, delivery: Delivery): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/webhooks/daily`, { method: 'POST', ...delivery });
  return { status: response.status, body: await response.json() };
}
