/**
 * The worker's Prometheus endpoint: the Core SDK's runtime metrics (task slots, schedule-to-start latency, sticky
 * cache, pollers…) and Switchboard's transfer metrics, recorded here from what `./workflow-metrics` observes in the
 * workflows, on the same exporter.
 */
import { Runtime, type InjectedSinks, type TelemetryOptions } from '@temporalio/worker';
import type { MetricMeter } from '@temporalio/common';
import type { TransferMetricsSinks } from './workflow-metrics';

/** Workflow interceptor modules to bundle with the workflow code (`bundleWorkflowCode`'s `workflowInterceptorModules`). */
export const WORKFLOW_METRICS_MODULES: string[] = [require.resolve('./workflow-metrics')];

/** Switchboard's metric names as the endpoint shows them (counters gain `_total` there). */
export const TRANSFER_METRICS = {
  closed: 'switchboard_transfers',
  decision: 'switchboard_transfer_decision_seconds',
  attempts: 'switchboard_transfer_attempts',
  requests: 'switchboard_transfer_requests',
  fallbacks: 'switchboard_transfer_fallbacks',
  attention: 'switchboard_transfers_needing_attention',
} as const;

/**
 * `Runtime.install`'s telemetry for a Prometheus endpoint at `bindAddress` (`host:port`, scraped at `/metrics`).
 * Counters end in `_total` and durations are in seconds, as Prometheus conventions (and the dashboards) expect;
 * the SDK's metrics keep their `temporal_` prefix, which Temporal's own dashboards query.
 */
export function prometheusTelemetry(bindAddress: string): TelemetryOptions {
  return {
    metrics: {
      prometheus: {
        bindAddress,
        countersTotalSuffix: true,
        useSecondsForDurations: true,
        // A decision takes up to the ring timeouts of every destination tried; the default buckets stop at 10 s.
        histogramBucketOverrides: { [TRANSFER_METRICS.decision]: [0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120, 300] },
      },
    },
  };
}

/** Enough closed runs remembered to recognise a retried last workflow task, which comes within seconds. */
const REMEMBERED_RUNS = 10_000;

/**
 * The sink `./workflow-metrics` reports to. A closed transfer is counted once per run even when its last workflow
 * task ran twice (on another worker after a crash it may still count twice: the metrics are for alerting, the
 * workflow's history is the record).
 */
export function transferMetricsSinks(
  meter: MetricMeter = Runtime.instance().metricMeter
): InjectedSinks<TransferMetricsSinks> {
  const closed = meter.createCounter(
    TRANSFER_METRICS.closed,
    undefined,
    'Transfers closed, by final state and deciding outcome'
  );
  const attempts = meter.createCounter(
    TRANSFER_METRICS.attempts,
    undefined,
    'Destinations tried, by method and outcome (outcome="no-answer": ring timeouts)'
  );
  const fallbacks = meter.createCounter(
    TRANSFER_METRICS.fallbacks,
    undefined,
    'onExhausted fallbacks run, by action and success'
  );
  const attention = meter.createCounter(
    TRANSFER_METRICS.attention,
    undefined,
    'Closed transfers the workflow flagged for an operator (the TransferNeedsAttention search attribute says why)'
  );
  const decision = meter.createHistogram(
    TRANSFER_METRICS.decision,
    'float',
    's',
    'From a transfer start to its decision (answered, or every destination tried); recorded when it closes'
  );
  const requests = meter.createCounter(
    TRANSFER_METRICS.requests,
    undefined,
    'Transfer requests to Daily, by result (result="unknown": Daily may have acted, the workflow reconciles)'
  );
  const counted = new Set<string>();
  return {
    transferMetrics: {
      closed: {
        fn(info, transfer) {
          if (counted.has(info.runId)) return;
          counted.add(info.runId);
          if (counted.size > REMEMBERED_RUNS) counted.delete(counted.values().next().value as string);
          const tags = { namespace: info.namespace, task_queue: info.taskQueue };
          closed.add(1, { ...tags, state: transfer.state, outcome: transfer.outcome });
          // Adding 0 too, so that the series exists (at 0) before the first flagged transfer: alerts and panels see
          // a value rather than no data.
          attention.add(transfer.needsAttention ? 1 : 0, tags);
          for (const attempt of transfer.attempts) attempts.add(1, { ...tags, ...attempt });
          if (transfer.fallback) {
            fallbacks.add(1, { ...tags, action: transfer.fallback.action, ok: String(transfer.fallback.ok) });
          }
          if (transfer.decisionSeconds !== undefined) {
            decision.record(transfer.decisionSeconds, { ...tags, outcome: transfer.outcome });
          }
        },
      },
      request: {
        fn(info, result) {
          requests.add(1, { namespace: info.namespace, task_queue: info.taskQueue, result });
        },
      },
    },
  };
}
