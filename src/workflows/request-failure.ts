/**
 * What a failed Daily request tells about whether Daily acted on it: the one classification behind every request
 * the workflow must not repeat blindly (transfers, dialOut/start).
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import type { DailyFailureDetails } from '../activities';
import { FailureTypes } from '../shared';
import type { RequestResult } from './leg';

export function classifyRequestFailure(err: unknown, what: string): { result: RequestResult; retryAfterMs?: number } {
  if (!(err instanceof ActivityFailure)) throw err;
  const cause = err.cause;
  if (cause instanceof TimeoutFailure) {
    return { result: { kind: 'unknown', detail: `${what} timed out (worker lost?)` } };
  }
  if (!(cause instanceof ApplicationFailure)) {
    return { result: { kind: 'unknown', detail: cause?.message ?? err.message } };
  }
  const detail = `Daily: ${cause.message}`;
  switch (cause.type) {
    case FailureTypes.rateLimited:
      return {
        result: { kind: 'not-sent', detail },
        retryAfterMs: (cause.details?.[0] as DailyFailureDetails | undefined)?.retryAfterMs,
      };
    case FailureTypes.networkError:
      return { result: { kind: 'not-sent', detail } };
    // A 2xx is success whatever its body: Daily took the request.
    case FailureTypes.invalidResponse:
      return { result: { kind: 'accepted' } };
    case FailureTypes.outcomeUnknown:
    case FailureTypes.serverError:
      return { result: { kind: 'unknown', detail } };
    default:
      return { result: { kind: 'refused', type: cause.type ?? 'unknown', detail } };
  }
}
