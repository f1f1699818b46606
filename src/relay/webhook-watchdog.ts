import type { Logger } from 'pino';
import type { RelayMetrics } from './metrics';
import type { WebhookApi, WebhookSummary } from './webhook-setup';
import { summarizeWebhook, webhookStatus } from './webhook-setup';

export type WatchdogResult =
  | { result: 'active'; webhook: WebhookSummary }
  | { result: 'reactivated'; webhook: WebhookSummary }
  | { result: 'missing' }
  | { result: 'error'; error: unknown };

export interface WebhookWatchdog {
  /** One round now (the timer runs them on its own; tests and the CLI call this directly). */
  check(): Promise<WatchdogResult>;
  /** Stops the timer and waits for a round in progress. */
  stop(): Promise<void>;
}

export interface WatchdogOptions {
  daily: WebhookApi;
  intervalSec: number;
  /** The relay's public URL, when known: picks the webhook among several and reports one pointing elsewhere. */
  url?: string;
  logger?: Logger;
  metrics?: RelayMetrics;
}

/**
 * Daily's `circuit-breaker` retry mode switches a webhook to `FAILED` after 3 failed deliveries and then drops
 * events until someone re-activates it. `setupWebhook` configures `exponential` retries, which never do that, but a
 * webhook created by hand (or by an older setup) may still trip. This watchdog reads the webhook's state every
 * `intervalSec` and re-activates it with `exponential` retries when it finds it `FAILED`, so events are lost for at
 * most one interval instead of until a human notices. Daily re-verifies the URL on re-activation, so it must run
 * where the relay already answers (the relay process).
 */
export function startWebhookWatchdog(opts: WatchdogOptions): WebhookWatchdog {
  let lastReport = '';
  // Repeated rounds find the same problems; log them when they change, not every interval.
  const report = (problems: string[]) => {
    const text = problems.join('; ');
    if (text !== lastReport && text !== '') opts.logger?.warn({ problems }, 'Daily webhook needs attention');
    lastReport = text;
  };

  const check = async (): Promise<WatchdogResult> => {
    try {
      const status = await webhookStatus({ daily: opts.daily, url: opts.url });
      const { webhook } = status;
      if (webhook === undefined) {
        report(status.problems);
        return { result: 'missing' };
      }
      if (webhook.state !== 'FAILED') {
        report(status.problems);
        return { result: 'active', webhook };
      }
      // The URL and event types stay as the operator set them; only the retry mode changes, to one that can't trip.
      const updated = await opts.daily.updateWebhook(webhook.uuid, { url: webhook.url, retryType: 'exponential' });
      opts.metrics?.webhookReactivations.inc();
      opts.logger?.warn(
        { uuid: webhook.uuid, failedCount: webhook.failedCount, state: updated.state },
        'Daily webhook was FAILED (events sent meanwhile are lost); re-activated with exponential retries'
      );
      lastReport = '';
      return { result: 'reactivated', webhook: summarizeWebhook(updated) };
    } catch (error) {
      opts.metrics?.watchdogErrors.inc();
      opts.logger?.error({ err: error }, 'webhook watchdog could not check the Daily webhook');
      return { result: 'error', error };
    }
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<unknown> = Promise.resolve();
  // A timeout chain rather than an interval: a slow Daily API never stacks rounds on top of each other.
  const loop = () => {
    round = check().finally(() => {
      if (!stopped) timer = setTimeout(loop, opts.intervalSec * 1000);
    });
  };
  loop();

  return {
    check,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await round;
    },
  };
}
