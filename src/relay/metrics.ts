import { Counter, Histogram, Registry } from 'prom-client';

/** The relay's Prometheus metrics, on a registry of their own so several relays can live in one process (tests). */
export interface RelayMetrics {
  readonly registry: Registry;
  /** Authenticated deliveries (and Daily's verification requests as `type="verification"`). */
  readonly received: Counter<'type'>;
  /** Deliveries answered with an error status: the reason is the error code in the response body. */
  readonly rejected: Counter<'reason'>;
  /** Events Temporal accepted as a signal. */
  readonly signaled: Counter<'type'>;
  /** Events acknowledged without a signal: no running transfer for the leg, or a type Switchboard ignores. */
  readonly unmatched: Counter<'reason'>;
  /** From the request's arrival to Temporal accepting the signal. */
  readonly signalLatency: Histogram;
  /** Times the watchdog found Daily's webhook `FAILED` and re-activated it. */
  readonly webhookReactivations: Counter;
  /** Watchdog rounds that could not read or update the webhook. */
  readonly watchdogErrors: Counter;
}

export function createRelayMetrics(registry: Registry = new Registry()): RelayMetrics {
  const prefix = 'switchboard_relay_';
  return {
    registry,
    received: new Counter({
      name: `${prefix}webhooks_received_total`,
      help: 'Authenticated webhook deliveries by event type',
      labelNames: ['type'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: `${prefix}webhooks_rejected_total`,
      help: 'Webhook deliveries answered with an error status, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    signaled: new Counter({
      name: `${prefix}webhooks_signaled_total`,
      help: 'Events delivered to a transfer workflow as a signal, by event type',
      labelNames: ['type'],
      registers: [registry],
    }),
    unmatched: new Counter({
      name: `${prefix}webhooks_unmatched_total`,
      help: 'Events acknowledged without a signal, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    signalLatency: new Histogram({
      name: `${prefix}signal_latency_seconds`,
      help: 'Time from receiving a webhook to Temporal accepting its signal',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    webhookReactivations: new Counter({
      name: `${prefix}webhook_reactivations_total`,
      help: 'Times the watchdog re-activated a FAILED Daily webhook',
      registers: [registry],
    }),
    watchdogErrors: new Counter({
      name: `${prefix}webhook_watchdog_errors_total`,
      help: 'Watchdog rounds that failed to read or update the Daily webhook',
      registers: [registry],
    }),
  };
}
