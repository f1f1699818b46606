import { signWebhook } from '../daily/signature';
import type { EventSink } from './calls';
import type { HttpSender } from './http-sender';
import type { Scheduler } from './scheduler';
import type { SandboxEvent, SandboxTiming, WebhookDelivery, WebhookFaults, WebhookObject } from './types';
import type { WebhookRegistry } from './webhooks';

/** `exponential` mode: attempts per message before it is dropped. */
const MAX_ATTEMPTS = 5;

export interface DispatcherDeps {
  registry: WebhookRegistry;
  sender: HttpSender;
  scheduler: Scheduler;
  timing: SandboxTiming;
  log: (line: string) => void;
}

/**
 * Delivers emitted events to the domain's webhook the way Daily does: signed raw JSON, at most one attempt per event
 * in `circuit-breaker` mode (3 consecutive failures switch the webhook off and later events are dropped), up to 5
 * attempts with exponential backoff in `exponential` mode. Deliveries run concurrently: Daily promises no order.
 */
export class WebhookDispatcher implements EventSink {
  private faults: WebhookFaults = {};
  /** Events of unsettled transfers, held while `reorder` is on. */
  private readonly held = new Map<string, SandboxEvent[]>();
  private records: WebhookDelivery[] = [];
  /** Bumped by reset/close so that work started before it records and retries nothing. */
  private epoch = 0;

  constructor(private readonly deps: DispatcherDeps) {}

  emit(events: SandboxEvent[], group?: string): void {
    if (!this.faults.reorder) {
      this.dispatch(events, false);
    } else if (group) {
      const held = this.held.get(group);
      if (held) held.push(...events);
      else {
        this.held.set(group, [...events]);
        const holdMs = this.faults.reorderHoldMs;
        if (holdMs !== undefined) this.deps.scheduler.after(holdMs, () => this.settle(group));
      }
    } else {
      this.dispatch([...events].reverse(), true);
    }
  }

  settle(group: string): void {
    const held = this.held.get(group);
    if (!held) return;
    this.held.delete(group);
    this.dispatch(held.reverse(), true);
  }

  setFaults(faults: WebhookFaults): void {
    this.faults = { ...faults };
  }

  deliveries(): WebhookDelivery[] {
    return [...this.records];
  }

  reset(): void {
    this.epoch += 1;
    this.faults = {};
    this.held.clear();
    this.records = [];
  }

  /**
   * Sends one batch. `inOrder` (reordered batches) sends each event's first attempt only after the previous one's
   * has finished, so the receiver sees exactly the reversed order; retries still run on their own.
   */
  private dispatch(events: SandboxEvent[], inOrder: boolean): void {
    if (events.length === 0 || !this.deps.registry.current()) return;
    const epoch = this.epoch;
    const copies = 1 + Math.max(0, this.faults.duplicate ?? 0);
    const run = async (): Promise<void> => {
      const pending: Array<Promise<void>> = [];
      for (const event of events) {
        for (let copy = 0; copy < copies; copy += 1) {
          const attempt = this.attempt(event, 1, epoch);
          if (inOrder) await attempt;
          else pending.push(attempt);
        }
      }
      await Promise.all(pending);
    };
    const delayMs = this.faults.delayMs ?? 0;
    if (delayMs > 0) this.deps.scheduler.after(delayMs, () => this.deps.scheduler.track(run()));
    else this.deps.scheduler.track(run());
  }

  private async attempt(event: SandboxEvent, attempt: number, epoch: number): Promise<void> {
    const webhook = this.deps.registry.current();
    if (!webhook || epoch !== this.epoch || !subscribed(webhook, event.type)) return;
    if (webhook.state === 'FAILED') {
      // Daily does not queue events while a webhook is switched off: they are lost.
      this.record(event, webhook, attempt - 1, 'dropped');
      return;
    }
    const nowMs = Date.now();
    const body = JSON.stringify({
      version: '1.0.0',
      type: event.type,
      id: event.id,
      payload: event.payload,
      event_ts: nowMs / 1000,
    });
    const timestamp = Math.floor(nowMs / 1000).toString();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-webhook-signature': signWebhook(webhook.hmac, timestamp, body),
      'x-webhook-timestamp': timestamp,
    };
    if (webhook.basicAuth) headers.authorization = `Basic ${webhook.basicAuth}`;
    const sentAt = performance.now();
    const status = await this.deps.sender.post(webhook.url, body, headers, this.deps.timing.webhookTimeoutMs);
    const durationMs = performance.now() - sentAt;
    // A webhook deleted or replaced meanwhile is not charged for this attempt; a reset forgets it.
    if (epoch !== this.epoch || this.deps.registry.current(webhook.uuid) !== webhook) return;
    this.record(event, webhook, attempt, status, nowMs, durationMs);
    if (status === 200) {
      this.deps.registry.succeeded(webhook);
      return;
    }
    this.deps.registry.failed(webhook);
    this.deps.log(`webhook delivery of ${event.type} ${event.id} failed (attempt ${attempt}: ${status})`);
    if (webhook.retryType !== 'exponential') return;
    if (attempt >= MAX_ATTEMPTS) {
      this.record(event, webhook, attempt, 'dropped');
      return;
    }
    const { retryBaseMs, retryCapMs } = this.deps.timing;
    const backoffMs = Math.min(retryCapMs, retryBaseMs * 2 ** (attempt - 1));
    this.deps.scheduler.after(backoffMs, () => this.deps.scheduler.track(this.attempt(event, attempt + 1, epoch)));
  }

  private record(
    event: SandboxEvent,
    webhook: WebhookObject,
    attempt: number,
    status: WebhookDelivery['status'],
    at = Date.now(),
    durationMs?: number
  ): void {
    this.records.push({
      eventId: event.id,
      type: event.type,
      attempt,
      status,
      at,
      ...(durationMs === undefined ? {} : { durationMs }),
      webhookUuid: webhook.uuid,
    });
  }
}

function subscribed(webhook: WebhookObject, type: string): boolean {
  return webhook.eventTypes.length === 0 || webhook.eventTypes.includes(type);
}
