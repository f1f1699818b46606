import { ApplicationFailure } from '@temporalio/activity';
import { DailyApiError, DailyOutcomeUnknownError, DailyRateLimitedError, DailyServerError } from '../daily';

/**
 * How an activity's Daily request behaves when repeated. `at-most-once`: the transfer POSTs, which Daily does not
 * deduplicate. `idempotent`: reads and eject, which are harmless to repeat.
 */
export type RequestSafety = 'at-most-once' | 'idempotent';

/** What an activity failure carries about Daily's reply: no request headers, no API key. */
export interface DailyFailureDetails {
  status?: number;
  code?: string;
  info?: string;
  /**
   * Daily's Retry-After, for a 429. The workflow reads it here: `nextRetryDelay` does not survive the trip from
   * activity to workflow (the SDK's failure converter rebuilds the failure without it).
   */
  retryAfterMs?: number;
}

/**
 * Turns a client error into the `ApplicationFailure` Temporal records. Retryability follows the client's verdict,
 * adjusted for what a repeat would do: after a 5xx a transfer may still have taken effect (a proxy can fail after
 * Daily acted), so the workflow reconciles instead of Temporal retrying; a read or an eject with an unknown outcome
 * is simply asked again.
 */
export function toApplicationFailure(err: DailyApiError, safety: RequestSafety): ApplicationFailure {
  let nonRetryable = !err.retryable;
  if (safety === 'at-most-once' && err instanceof DailyServerError) nonRetryable = true;
  if (safety === 'idempotent' && err instanceof DailyOutcomeUnknownError) nonRetryable = false;
  const retryAfterMs = err instanceof DailyRateLimitedError ? err.retryAfterMs : undefined;
  const details: DailyFailureDetails = { status: err.status, code: err.code, info: err.info, retryAfterMs };
  return ApplicationFailure.create({
    type: err.failureType,
    message: err.message,
    nonRetryable,
    nextRetryDelay: retryAfterMs,
    details: [details],
  });
}

/** Runs one Daily call, reporting its typed errors as `ApplicationFailure`s; anything else (a bug) passes through. */
export async function reportingFailures<T>(safety: RequestSafety, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof DailyApiError) throw toApplicationFailure(err, safety);
    throw err;
  }
}
