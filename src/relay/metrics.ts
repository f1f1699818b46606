import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the spool gauges read at each scrape. */
export interface SpoolObserver {
  pending(): number;
  oldestReceivedAtMs(): number | undefined;
  deadLetters(): Record<string, number>;
}

/** The relay's Prometheus metrics, on a registry of their own so several relays can live in one process (tests). */
export interface RelayMetrics {
  readonly registry: Registry;
  /** Authenticated deliveries (and Daily's verification requests as `type="verification"`). */
  readonly received: Counter<'type'>;
  /** Deliveries answered with an error status: the reason is the error code in the response body. */
  readonly rejected: Counter<'reason'>;
  /** Verified events written to the spool and answered 200, from receipt to the answer. */
  readonly ackLatency: Histogram;
  /** Deliveries of an event id the spool already holds (Daily's retries and duplicates): answered 200, not kept. */
  readonly duplicates: Counter;
  /** Verified events kept in the dead-letter table, by reason. */
  readonly deadLettered: Counter<'reason'>;
  /** Signals that failed and were left in the spool to try again. */
  readonly signalRetries: Counter;
  /** Events delivered to the customer's own receiver (`RELAY_FORWARD_URL`). */
  readonly forwarded: Counter;
  /** Forwarding attempts that failed and stay in the spool to be retried. */
  readonly forwardRetries: Counter;
  /** Makes the spool's gauges (pending events, oldest pending age, dead letters kept) read from it. */
  observeSpool(observer: SpoolObserver): void;
  /** Events Temporal accepted as a signal. */
  readonly signaled: Counter<'type'>;
  /** Events dead-lettered without a signal: no running transfer for the leg, or a type Switchboard ignores. */
  readonly unmatched: Counter<'reason'>;
  /** From the request's arrival to Temporal accepting the signal (spool and retries included). */
  readonly signalLatency: Histogram;
  /** Times the watchdog found Daily's webhook `FAILED` and re-activated it. */
  readonly webhookReactivations: Counter;
  /** Watchdog rounds that could not read or update the webhook. */
  readonly watchdogErrors: Counter;
}

export function createRelayMetrics(registry: Registry = new Registry()): RelayMetrics {
  const prefix = 'switchboard_relay_';
  let spool: SpoolObserver | undefined;
  new Gauge({
    name: `${prefix}spool_pending_events`,
    help: 'Jobs in the spool not done yet (signals Temporal has not accepted, forwards not delivered)',
    registers: [registry],
    collect() {
      if (spool) this.set(spool.pending());
    },
  });
  new Gauge({
    name: `${prefix}spool_oldest_pending_age_seconds`,
    help: 'Age of the oldest job in the spool not done yet (0 when none)',
    registers: [registry],
    collect() {
      const oldest = spool?.oldestReceivedAtMs();
      this.set(oldest === undefined ? 0 : (Date.now() - oldest) / 1000);
    },
  });
  new Gauge({
    name: `${prefix}dead_letters`,
    help: 'Verified events kept in the dead-letter table now, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of Object.entries(spool?.deadLetters() ?? {})) this.set({ reason }, count);
    },
  });
  return {
    registry,
    observeSpool(observer) {
      spool = observer;
    },
    ackLatency: new Histogram({
      name: `${prefix}ack_latency_seconds`,
      help: 'Time from receiving a verified webhook to answering it, spool write included',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
    duplicates: new Counter({
      name: `${prefix}webhooks_duplicate_total`,
      help: 'Deliveries of an event id already accepted, answered 200 and not kept again',
      registers: [registry],
    }),
    deadLettered: new Counter({
      name: `${prefix}dead_lettered_total`,
      help: 'Verified events dead-lettered, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    forwarded: new Counter({
      name: `${prefix}webhooks_forwarded_total`,
      help: "Events delivered to the customer's own webhook receiver",
      registers: [registry],
    }),
    forwardRetries: new Counter({
      name: `${prefix}forward_retries_total`,
      help: 'Forwarding attempts that failed and stay in the spool to be retried',
      registers: [registry],
    }),
    signalRetries: new Counter({
      name: `${prefix}signal_retries_total`,
      help: 'Signals that failed and stay in the spool to be retried',
      registers: [registry],
    }),
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
      help: 'Events dead-lettered without a signal, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    signalLatency: new Histogram({
      name: `${prefix}signal_latency_seconds`,
      help: 'Time from receiving a webhook to Temporal accepting its signal',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30, 300, 3600],
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
