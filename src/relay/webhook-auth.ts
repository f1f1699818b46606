import { verifyWebhookSignature, webhookTimestampToMs } from '../daily/signature';

/**
 * One domain's secret, or its current and previous secrets while a rotation is under way (`[current, previous]`):
 * Daily keeps retrying events signed with the old secret for up to an hour after the switch.
 */
export type DomainSecrets = string | readonly string[];

/**
 * The webhook `hmac` secret(s): one for every domain, or one per Daily domain id when several Daily domains (each
 * with its own webhook and secret) share a relay.
 */
export type WebhookSecrets = DomainSecrets | Readonly<Record<string, DomainSecrets>>;

export type AuthFailureReason = 'missing_header' | 'bad_timestamp' | 'stale_timestamp' | 'bad_signature';

export type AuthResult =
  /** `domainId`: the domain whose secret verified the request (undefined with a single secret for all domains). */
  { ok: true; domainId: string | undefined } | { ok: false; reason: AuthFailureReason; message: string };

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

const list = (secrets: DomainSecrets): readonly string[] => (typeof secrets === 'string' ? [secrets] : secrets);

/**
 * Checks Daily's signature headers against the secrets and says which domain's secret verified the request. A body
 * that names a domain with its own secrets is checked against those only; otherwise (unparseable body, events without
 * `domain_id` such as `participant.left`, a single shared secret) every secret is tried, each comparison in constant
 * time. A domain's previous secret verifies as well as its current one (rotation).
 */
export function createWebhookAuthenticator(
  secrets: WebhookSecrets,
  toleranceSec: number
): (request: SignedRequest) => AuthResult {
  const shared = typeof secrets === 'string' || Array.isArray(secrets);
  const byDomain = new Map<string, readonly string[]>(
    shared ? [] : Object.entries(secrets as Record<string, DomainSecrets>).map(([domain, s]) => [domain, list(s)])
  );
  const everySecret: Array<{ domainId: string | undefined; secret: string }> = shared
    ? list(secrets as DomainSecrets).map((secret) => ({ domainId: undefined, secret }))
    : [...byDomain].flatMap(([domainId, domainSecrets]) => domainSecrets.map((secret) => ({ domainId, secret })));
  if (everySecret.length === 0) throw new TypeError('the relay needs at least one webhook secret');
  if (!everySecret.every((c) => isBase64Secret(c.secret))) {
    throw new TypeError('every webhook secret must be base64, as Daily issues them');
  }

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
    const domainSecrets = domainId === undefined ? undefined : byDomain.get(domainId);
    const candidates =
      domainSecrets === undefined ? everySecret : domainSecrets.map((secret) => ({ domainId, secret }));
    const verified = candidates.find((c) => verifyWebhookSignature(c.secret, timestamp, rawBody, signature));
    if (verified) return { ok: true, domainId: verified.domainId };
    return { ok: false, reason: 'bad_signature', message: 'signature does not match' };
  };
}
