import type { DailyClient, WebhookSettings } from '../daily/client';
import type { DailyWebhook } from '../daily/schemas';
import { TRANSFER_EVENT_TYPES } from '../shared';

/** The webhook endpoints of Daily's REST API (a `DailyClient`, pointed at Daily or the sandbox). */
export type WebhookApi = Pick<DailyClient, 'listWebhooks' | 'createWebhook' | 'updateWebhook'>;

/** What the webhook looks like, without its secret: safe to print and log. */
export interface WebhookSummary {
  uuid: string;
  url: string;
  state?: string;
  retryType: string;
  eventTypes: string[];
  failedCount?: number;
}

export interface WebhookStatus {
  webhook?: WebhookSummary;
  /** Everything that would make Switchboard miss events; empty when the webhook is fine. */
  problems: string[];
}

/**
 * The domain's only webhook points somewhere else (the customer's own receiver): taking it over would silently cut
 * that receiver off, so `setupWebhook` refuses unless told to forward to it or to replace it.
 */
export class WebhookInUseError extends Error {
  public readonly name = 'WebhookInUseError';
  constructor(public readonly existing: WebhookSummary) {
    super(
      `the domain's webhook already points at ${existing.url} (${existing.eventTypes.length > 0 ? existing.eventTypes.join(', ') : 'all event types'}; ` +
        `${existing.state ?? 'state unknown'}), and Daily allows one webhook per domain. Keep that receiver: configure ` +
        `the relay with RELAY_FORWARD_URL=${existing.url} and RELAY_FORWARD_SECRET=<its secret>, then run again with ` +
        `--forward-to ${existing.url}. Or take it over with --replace (that receiver gets nothing more).`
    );
  }
}

export interface SetupResult {
  action: 'created' | 'updated' | 'unchanged';
  webhook: WebhookSummary;
  /**
   * The secret the relay must verify with (`DAILY_WEBHOOK_SECRET`): the one passed in, or the one Daily generated.
   * Show it to the operator once; never log it.
   */
  secret?: string;
}

export function summarizeWebhook(webhook: DailyWebhook): WebhookSummary {
  return {
    uuid: webhook.uuid,
    url: webhook.url,
    state: webhook.state ?? undefined,
    // Daily's default when a webhook is created without one.
    retryType: webhook.retryType ?? 'circuit-breaker',
    eventTypes: [...(webhook.eventTypes ?? [])],
    failedCount: webhook.failedCount ?? undefined,
  };
}

/** Daily keeps one webhook per domain ("currently"): prefer the one pointing at us, else the only one. */
function pickWebhook(webhooks: readonly DailyWebhook[], url?: string): DailyWebhook | undefined {
  return webhooks.find((webhook) => webhook.url === url) ?? webhooks[0];
}

function problemsOf(webhook: WebhookSummary, url: string | undefined, eventTypes: readonly string[]): string[] {
  const problems: string[] = [];
  if (webhook.state !== 'ACTIVE') problems.push(`state is ${webhook.state ?? 'unknown'}: Daily may not be delivering`);
  if (webhook.retryType !== 'exponential') {
    problems.push(`retryType is ${webhook.retryType}: 3 failed deliveries switch the webhook off (use exponential)`);
  }
  // A webhook with no event types gets every type.
  const missing =
    webhook.eventTypes.length === 0 ? [] : eventTypes.filter((type) => !webhook.eventTypes.includes(type));
  if (missing.length > 0) problems.push(`not subscribed to ${missing.join(', ')}`);
  if (url !== undefined && webhook.url !== url) problems.push(`url is ${webhook.url}, expected ${url}`);
  return problems;
}

/**
 * Points the domain's webhook at the relay with `exponential` retries (per-message retries that never switch the
 * webhook off, unlike Daily's default `circuit-breaker`) and Switchboard's event types: creates it, or updates the
 * existing one, which also re-activates it when it is `FAILED`. Daily verifies the URL during the call (it POSTs
 * `{"test":"test"}` and needs a 200), so the relay must already be reachable at `url`.
 */
export async function setupWebhook(opts: {
  daily: WebhookApi;
  url: string;
  eventTypes?: readonly string[];
  /** base64; Daily generates one when omitted. */
  hmac?: string;
  /**
   * The URL of the receiver the domain's webhook points at now, which the relay forwards every event to
   * (`RELAY_FORWARD_URL`): the webhook is taken over and subscribed to that receiver's event types as well.
   */
  forwardTo?: string;
  /** Take over a webhook that points elsewhere, cutting its receiver off. */
  replace?: boolean;
}): Promise<SetupResult> {
  let eventTypes = [...(opts.eventTypes ?? TRANSFER_EVENT_TYPES)];
  const existing = pickWebhook(await opts.daily.listWebhooks(), opts.url);
  if (existing !== undefined && existing.url !== opts.url && !opts.replace) {
    if (opts.forwardTo !== existing.url) throw new WebhookInUseError(summarizeWebhook(existing));
    // The receiver keeps getting what it subscribed to (no list means every type), through the relay.
    const theirs = existing.eventTypes ?? [];
    eventTypes = theirs.length === 0 ? [] : [...new Set([...eventTypes, ...theirs])];
  }
  const settings: WebhookSettings = { url: opts.url, retryType: 'exponential', eventTypes };
  if (opts.hmac !== undefined) settings.hmac = opts.hmac;

  if (existing === undefined) {
    const created = await opts.daily.createWebhook(settings);
    return { action: 'created', webhook: summarizeWebhook(created), secret: created.hmac ?? opts.hmac };
  }
  const sameSecret = opts.hmac === undefined || opts.hmac === existing.hmac;
  if (sameSecret && problemsOf(summarizeWebhook(existing), opts.url, eventTypes).length === 0) {
    return { action: 'unchanged', webhook: summarizeWebhook(existing), secret: existing.hmac ?? undefined };
  }
  const updated = await opts.daily.updateWebhook(existing.uuid, settings);
  return {
    action: 'updated',
    webhook: summarizeWebhook(updated),
    secret: updated.hmac ?? opts.hmac ?? existing.hmac ?? undefined,
  };
}

/** The domain's webhook and what is wrong with it for Switchboard, if anything. */
export async function webhookStatus(opts: {
  daily: WebhookApi;
  /** The relay's public URL, when known: a webhook pointing elsewhere is a problem. */
  url?: string;
  eventTypes?: readonly string[];
}): Promise<WebhookStatus> {
  const webhook = pickWebhook(await opts.daily.listWebhooks(), opts.url);
  if (webhook === undefined) return { problems: ['no webhook configured: run `switchboard webhook setup`'] };
  const summary = summarizeWebhook(webhook);
  return { webhook: summary, problems: problemsOf(summary, opts.url, opts.eventTypes ?? TRANSFER_EVENT_TYPES) };
}
