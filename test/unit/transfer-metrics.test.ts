/**
 * The worker side of the transfer metrics: what one closed transfer adds, and that a run's last workflow task running
 * twice (the server refused its completion because a signal arrived) counts the transfer once.
 */
import type { MetricMeter } from '@temporalio/common';
import type { WorkflowInfo } from '@temporalio/workflow';
import { TRANSFER_METRICS, transferMetricsSinks } from '../../src/telemetry/metrics';
import type { ClosedTransfer } from '../../src/telemetry/workflow-metrics';

/** Records every value a metric receives, by metric name. */
function recordingMeter() {
  const values: Record<string, { value: number; tags: Record<string, unknown> }[]> = {};
  const metric = (name: string) => {
    const record = (value: number, tags: Record<string, unknown> = {}) => (values[name] ??= []).push({ value, tags });
    return { add: record, record };
  };
  const meter = { createCounter: metric, createHistogram: metric } as unknown as MetricMeter;
  return { meter, values };
}

const info = (runId: string) => ({ runId, namespace: 'default', taskQueue: 'switchboard' }) as WorkflowInfo;

const rolledBack: ClosedTransfer = {
  state: 'rolled_back',
  outcome: 'no-answer',
  attempts: [
    { method: 'sipCallTransfer', outcome: 'busy' },
    { method: 'sipRefer', outcome: 'no-answer' },
  ],
  fallback: { action: 'rollback', ok: true },
  decisionSeconds: 31.5,
  needsAttention: true,
};

test('a closed transfer counts its state, each attempt, its fallback and its time to decision', async () => {
  const { meter, values } = recordingMeter();
  await transferMetricsSinks(meter).transferMetrics.closed.fn(info('run-1'), rolledBack);
  const tags = { namespace: 'default', task_queue: 'switchboard' };
  expect(values[TRANSFER_METRICS.closed]).toEqual([
    { value: 1, tags: { ...tags, state: 'rolled_back', outcome: 'no-answer' } },
  ]);
  expect(values[TRANSFER_METRICS.attempts]).toEqual([
    { value: 1, tags: { ...tags, method: 'sipCallTransfer', outcome: 'busy' } },
    { value: 1, tags: { ...tags, method: 'sipRefer', outcome: 'no-answer' } },
  ]);
  expect(values[TRANSFER_METRICS.fallbacks]).toEqual([{ value: 1, tags: { ...tags, action: 'rollback', ok: 'true' } }]);
  expect(values[TRANSFER_METRICS.decision]).toEqual([{ value: 31.5, tags: { ...tags, outcome: 'no-answer' } }]);
  expect(values[TRANSFER_METRICS.attention]).toEqual([{ value: 1, tags }]);
});

test('a run is counted once however often its last task runs; other runs still count', async () => {
  const { meter, values } = recordingMeter();
  const { closed } = transferMetricsSinks(meter).transferMetrics;
  await closed.fn(info('run-1'), rolledBack);
  await closed.fn(info('run-1'), rolledBack);
  await closed.fn(info('run-2'), { state: 'error', outcome: 'none', attempts: [], needsAttention: false });
  expect(values[TRANSFER_METRICS.closed]?.map(({ tags }) => tags.state)).toEqual(['rolled_back', 'error']);
  expect(values[TRANSFER_METRICS.attempts]).toHaveLength(2);
  expect(values[TRANSFER_METRICS.attention]?.map(({ value }) => value)).toEqual([1, 0]);
});

test('transfer requests count by result', async () => {
  const { meter, values } = recordingMeter();
  const { request } = transferMetricsSinks(meter).transferMetrics;
  await request.fn(info('run-1'), 'unknown');
  await request.fn(info('run-1'), 'sent');
  expect(values[TRANSFER_METRICS.requests]?.map(({ tags }) => tags.result)).toEqual(['unknown', 'sent']);
});
