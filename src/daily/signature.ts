import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Daily's webhook signature: HMAC-SHA256 keyed with the base64-decoded `hmac` secret, over
 * `<X-Webhook-Timestamp> + "." + <raw body>`, sent base64-encoded in `X-Webhook-Signature`.
 */
export function signWebhook(secretBase64: string, timestamp: string, rawBody: string | Buffer): string {
  return createHmac('sha256', Buffer.from(secretBase64, 'base64'))
    .update(`${timestamp}.`)
    .update(rawBody)
    .digest('base64');
}

/** Constant-time check of a received signature; false (never a throw) for any mismatch. */
export function verifyWebhookSignature(
  secretBase64: string,
  timestamp: string,
  rawBody: string | Buffer,
  signature: string
): boolean {
  const expected = Buffer.from(signWebhook(secretBase64, timestamp, rawBody));
  const received = Buffer.from(signature);
  return expected.length === received.length && timingSafeEqual(expected, received);
}

/**
 * Daily does not document the timestamp header's unit. Read it as epoch seconds, or milliseconds when it is too
 * large to be seconds (anything past the year 5138 in seconds).
 */
export function webhookTimestampToMs(header: string): number | undefined {
  if (!/^\d+(\.\d+)?$/.test(header.trim())) return undefined;
  return epochToMs(Number(header));
}

/** Epoch seconds, or milliseconds when too large to be seconds, to milliseconds. */
export function epochToMs(value: number): number {
  return value > 1e11 ? value : value * 1000;
}
