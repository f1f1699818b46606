import { verifyWebhookSignature, webhookTimestampToMs } from '../daily/signature';

/**
 * The webhook `hmac` secret(s): one for every domain, or one per Daily domain id when several Daily domains (each
 * with its own webhook and secret) share a relay.
 */
export type WebhookSecrets = string | Readonly<Record<string, string>>;

export type AuthFailureReason = 'missing_header' | 'bad_timestamp' | 'stale_timestamp' | 'bad_signature';

export type AuthResult = { ok: true } | { ok: false; reason: AuthFailureReason; message: string };

export interface SignedRequest {
  rawBody: Buffer;
  signature: string | undefined;
  timestamp: string | undefined;
  /** The body's `payload.domain_id` when the body parsed and has one; picks that domain's secret. */
  domainId: string | undefined;
}

/** Daily's `hmac` is base64 (its API rejects anything else); a secret that isn't would never verify anything. */
export function isBase64Secret(value: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(value) && value.replace(/=+$/, '').length % 4 !== 1;
}

/**
 * Checks Daily's signature headers against the secrets. A body that names a domain with its own secret is checked
 * against that secret only; otherwise (unparseable body, events without `domain_id` such as `participant.left`, a
 * single shared secret) every secret is tried, each comparison in constant time.
 */
export function createWebhookAuthenticator(
  secrets: WebhookSecrets,
  toleranceSec: number
): (request: SignedRequest) => AuthResult {
  const byDomain = new Map(typeof secrets === 'string' ? [] : Object.entries(secrets));
  const all = typeof secrets === 'string' ? [secrets] : [...byDomain.values()];
  if (all.length === 0) throw new TypeError('the relay needs at least one webhook secret');
  if (!all.every(isBase64Secret)) throw new TypeError('every webhook secret must be base64, as Daily issues them');

  return ({ rawBody, signature, timestamp, domainId }) => {
    if (!signature || !timestamp) {
      return { ok: false, reason: 'missing_header', message: 'X-Webhook-Signature and X-Webhook-Timestamp required' };
    }
    const sentAtMs = webhookTimestampToMs(timestamp);
    if (sentAtMs === undefined) {
      return { ok: false, reason: 'bad_timestamp', message: 'X-Webhook-Timestamp is not an epoch timestamp' };
    }
    // Outside the window a captured request can't be replayed; inside it the workflow dedupes by event id.
    if (Math.abs(Date.now() - sentAtMs) > toleranceSec * 1000) {
      return { ok: false, reason: 'stale_timestamp', message: `timestamp outside ±${toleranceSec}s` };
    }
    const domainSecret = domainId === undefined ? undefined : byDomain.get(domainId);
    const candidates = domainSecret === undefined ? all : [domainSecret];
    if (candidates.some((secret) => verifyWebhookSignature(secret, timestamp, rawBody, signature))) return { ok: true };
    return { ok: false, reason: 'bad_signature', message: 'signature does not match' };
  };
}
