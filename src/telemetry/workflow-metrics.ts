/**
 * Switchboard's transfer metrics, observed by a workflow interceptor bundled with the workflow code and recorded by
 * the worker (`./metrics`) on the Core SDK's Prometheus endpoint.
 *
 * An interceptor rather than code in the workflow: it observes only what the workflow already exposes (its
 * `requestTransfer` activity results and its final result, both public contracts), so the metrics survive rewrites
 * of the workflow. It hands them to a sink rather than to the workflow's `metricMeter` because a workflow's last task
 * can run twice without being a replay (the server refuses the completion when a signal arrived meanwhile, a common
 * case: Daily's events keep coming after an answer), and only the worker side can count a closed transfer once.
 * Deterministic like workflow code: it reads workflow time and results, and does no I/O.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  TimeoutFailure,
  proxySinks,
  workflowInfo,
  type Sinks,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import { FailureTypes, TRANSFER_WORKFLOW_TYPE, type TransferResult } from '../shared';

/** What a closed transfer contributes to the metrics: no endpoints, rooms or sessions (no personal data). */
export interface ClosedTransfer {
  /** The final state; `error`, `invalid-input` or `canceled` when the workflow threw instead of returning. */
  state: string;
  /** The deciding attempt's outcome, `none` without one. */
  outcome: string;
  attempts: { method: string; outcome: string }[];
  fallback?: { action: string; ok: boolean };
  /** The workflow flagged it for an operator (its `TransferNeedsAttention` search attribute). */
  needsAttention: boolean;
  /** From the transfer start to its decision (the end of the last destination tried). */
  decisionSeconds?: number;
}

/**
 * A transfer request's result as the workflow reads it: `sent`; `unknown` (a timeout, or a 5xx or reset after
 * sending: Daily may have acted, the workflow reconciles); `rate-limited`; `not-sent` (no connection); `rejected`.
 */
export type RequestResult = 'sent' | 'unknown' | 'rate-limited' | 'not-sent' | 'rejected' | 'error';

export interface TransferMetricsSinks extends Sinks {
  transferMetrics: {
    closed(transfer: ClosedTransfer): void;
    request(result: RequestResult): void;
  };
}

const { transferMetrics } = proxySinks<TransferMetricsSinks>();

function requestResult(err: unknown): RequestResult {
  if (!(err instanceof ActivityFailure)) return 'error';
  const cause = err.cause;
  // A timeout (the worker died mid-request) or a failure after sending: Daily may or may not have acted.
  if (cause instanceof TimeoutFailure || !(cause instanceof ApplicationFailure)) return 'unknown';
  switch (cause.type) {
    case FailureTypes.outcomeUnknown:
    case FailureTypes.serverError:
      return 'unknown';
    case FailureTypes.rateLimited:
      return 'rate-limited';
    case FailureTypes.networkError:
      return 'not-sent';
    default:
      return 'rejected';
  }
}

function closedTransfer(result: TransferResult): ClosedTransfer {
  const endedAtMs = result.attempts.map((attempt) => Date.parse(attempt.endedAt ?? '')).filter(Number.isFinite);
  const decidedAtMs = endedAtMs.length > 0 ? Math.max(...endedAtMs) : undefined;
  return {
    state: result.state,
    outcome: result.outcome ?? 'none',
    attempts: result.attempts.map((attempt) => ({ method: attempt.method, outcome: attempt.outcome ?? 'none' })),
    fallback: result.fallback && { action: result.fallback.action, ok: result.fallback.ok },
    needsAttention: result.needsAttention !== undefined,
    decisionSeconds:
      decidedAtMs === undefined ? undefined : Math.max(0, (decidedAtMs - workflowInfo().startTime.getTime()) / 1000),
  };
}

function failedState(err: unknown): string {
  if (err instanceof CancelledFailure) return 'canceled';
  if (err instanceof ApplicationFailure && err.type === FailureTypes.invalidInput) return 'invalid-input';
  return 'error';
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  if (workflowInfo().workflowType !== TRANSFER_WORKFLOW_TYPE) return {};
  return {
    inbound: [
      {
        async execute(input, next) {
          let result: TransferResult;
          try {
            result = (await next(input)) as TransferResult;
          } catch (err) {
            transferMetrics.closed({ state: failedState(err), outcome: 'none', attempts: [], needsAttention: false });
            throw err;
          }
          transferMetrics.closed(closedTransfer(result));
          return result;
        },
      },
    ],
    outbound: [
      {
        async scheduleActivity(input, next) {
          if (input.activityType !== 'requestTransfer') return next(input);
          try {
            const result = await next(input);
            transferMetrics.request('sent');
            return result;
          } catch (err) {
            transferMetrics.request(requestResult(err));
            throw err;
          }
        },
      },
    ],
  };
};
