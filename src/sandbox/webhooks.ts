import { randomBytes, randomUUID } from 'node:crypto';
import type { HttpSender } from './http-sender';
import type { WebhookObject } from './types';

export interface WebhookInput {
  url?: string;
  retryType?: WebhookObject['retryType'];
  eventTypes?: string[];
  hmac?: string;
  basicAuth?: string;
}

export type WebhookResult = { webhook: WebhookObject } | { error: string };

/** Consecutive failures that switch a `circuit-breaker` webhook off. */
const CIRCUIT_BREAKER_THRESHOLD = 3;

/** Daily's webhook configuration for the domain: at most one webhook, verified before it is saved. */
export class WebhookRegistry {
  private webhook: WebhookObject | undefined;

  constructor(
    private readonly domainId: string,
    private readonly sender: HttpSender,
    private readonly verifyTimeoutMs: number
  ) {}

  list(): WebhookObject[] {
    return this.webhook ? [{ ...this.webhook }] : [];
  }

  get(uuid: string): WebhookObject | undefined {
    return this.webhook?.uuid === uuid ? { ...this.webhook } : undefined;
  }

  /** The live object deliveries update (undefined once deleted or replaced). */
  current(uuid?: string): WebhookObject | undefined {
    return uuid === undefined || this.webhook?.uuid === uuid ? this.webhook : undefined;
  }

  async create(input: WebhookInput & { url: string }): Promise<WebhookResult> {
    if (this.webhook) return { error: 'a webhook already exists for this domain; update or delete it' };
    const verification = await this.verify(input.url, input.basicAuth);
    if (verification) return { error: verification };
    // Re-checked: another create may have won while this one was being verified.
    if (this.webhook) return { error: 'a webhook already exists for this domain; update or delete it' };
    const now = new Date().toISOString();
    this.webhook = {
      uuid: randomUUID(),
      url: input.url,
      hmac: input.hmac ?? randomBytes(32).toString('base64'),
      basicAuth: input.basicAuth ?? null,
      retryType: input.retryType ?? 'circuit-breaker',
      eventTypes: input.eventTypes ?? [],
      state: 'ACTIVE',
      failedCount: 0,
      lastMomentPushed: null,
      domainId: this.domainId,
      createdAt: now,
      updatedAt: now,
    };
    return { webhook: { ...this.webhook } };
  }

  /** Updates and re-activates: verification runs again, and a FAILED webhook is ACTIVE with a clean count after. */
  async update(uuid: string, input: WebhookInput): Promise<WebhookResult | undefined> {
    const existing = this.current(uuid);
    if (!existing) return undefined;
    const url = input.url ?? existing.url;
    const basicAuth = input.basicAuth ?? existing.basicAuth ?? undefined;
    const verification = await this.verify(url, basicAuth);
    if (verification) return { error: verification };
    Object.assign(existing, {
      url,
      basicAuth: basicAuth ?? null,
      retryType: input.retryType ?? existing.retryType,
      eventTypes: input.eventTypes ?? existing.eventTypes,
      hmac: input.hmac ?? existing.hmac,
      state: 'ACTIVE',
      failedCount: 0,
      updatedAt: new Date().toISOString(),
    } satisfies Partial<WebhookObject>);
    return { webhook: { ...existing } };
  }

  delete(uuid: string): boolean {
    if (this.webhook?.uuid !== uuid) return false;
    this.webhook = undefined;
    return true;
  }

  succeeded(webhook: WebhookObject): void {
    webhook.failedCount = 0;
    webhook.lastMomentPushed = new Date().toISOString();
  }

  failed(webhook: WebhookObject): void {
    webhook.failedCount += 1;
    if (webhook.retryType === 'circuit-breaker' && webhook.failedCount >= CIRCUIT_BREAKER_THRESHOLD) {
      webhook.state = 'FAILED';
    }
  }

  /**
   * Daily's handshake: `{"test":"test"}` must get a 200 quickly. The request carries no signature headers (Daily
   * does not document any), only the basic auth the receiver asked for.
   */
  private async verify(url: string, basicAuth: string | undefined): Promise<string | undefined> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (basicAuth) headers.authorization = `Basic ${basicAuth}`;
    const status = await this.sender.post(url, JSON.stringify({ test: 'test' }), headers, this.verifyTimeoutMs);
    if (status === 200) return undefined;
    return status === 'error'
      ? `webhook endpoint ${url} did not answer the test request with 200 in time`
      : `non-200 status code returned from webhook endpoint, recvd ${status}`;
  }
}
