import { FailureTypes, type FailureType } from '../shared';

export interface DailyErrorInit {
  /** Method and API path, e.g. `POST /rooms/support/sipCallTransfer`: never the host or any header. */
  endpoint: string;
  status?: number;
  /** Daily's machine-readable `error` string. */
  code?: string;
  /** Daily's human-readable `info` text. */
  info?: string;
  /** A sanitised copy of the transport error, never the original (it may reference the request). */
  cause?: Error;
}

/**
 * Everything the Daily client throws. The client never retries: `retryable` tells the caller whether asking again
 * is safe and useful, `failureType` is the `ApplicationFailure` type activities report.
 */
export abstract class DailyApiError extends Error {
  abstract override readonly name: string;
  abstract readonly retryable: boolean;
  abstract readonly failureType: FailureType;
  readonly endpoint: string;
  readonly status?: number;
  readonly code?: string;
  readonly info?: string;

  constructor(summary: string, init: DailyErrorInit) {
    super(describe(summary, init), init.cause ? { cause: init.cause } : undefined);
    this.endpoint = init.endpoint;
    this.status = init.status;
    this.code = init.code;
    this.info = init.info;
  }
}

function describe(summary: string, { endpoint, status, code, info }: DailyErrorInit): string {
  const reply = [status, code, info].filter((part) => part !== undefined && part !== '').join(' ');
  return `Daily ${endpoint}: ${summary}${reply ? ` (${reply})` : ''}`;
}

/** 429. Daily documents no `Retry-After`; when absent, `retryAfterMs` is undefined and the caller backs off. */
export class DailyRateLimitedError extends DailyApiError {
  override readonly name = 'DailyRateLimitedError';
  readonly retryable = true;
  readonly failureType = FailureTypes.rateLimited;
  readonly retryAfterMs?: number;

  constructor(init: DailyErrorInit & { retryAfterMs?: number }) {
    super('rate limited', init);
    this.retryAfterMs = init.retryAfterMs;
  }
}

export class DailyServerError extends DailyApiError {
  override readonly name = 'DailyServerError';
  readonly retryable = true;
  readonly failureType = FailureTypes.serverError;

  constructor(init: DailyErrorInit) {
    super('server error', init);
  }
}

/** The request never reached Daily (DNS, connection refused, connect timeout…): asking again is safe. */
export class DailyNetworkError extends DailyApiError {
  override readonly name = 'DailyNetworkError';
  readonly retryable = true;
  readonly failureType = FailureTypes.networkError;

  constructor(summary: string, init: DailyErrorInit) {
    super(`request not sent: ${summary}`, init);
  }
}

/**
 * The request was sent but no complete response came back (response timeout, connection reset or closed): Daily may
 * have acted on it. Not retryable here because Daily's transfer endpoints are not idempotent; the caller reconciles.
 */
export class DailyOutcomeUnknownError extends DailyApiError {
  override readonly name = 'DailyOutcomeUnknownError';
  readonly retryable = false;
  readonly failureType = FailureTypes.outcomeUnknown;

  constructor(summary: string, init: DailyErrorInit) {
    super(`outcome unknown: ${summary}`, init);
  }
}

/** Non-retryable client errors: asking again gets the same answer. */
export abstract class DailyClientError extends DailyApiError {
  readonly retryable = false;
}

export class DailyRoomNotHostingCallError extends DailyClientError {
  override readonly name = 'DailyRoomNotHostingCallError';
  readonly failureType = FailureTypes.roomNotHostingCall;

  constructor(init: DailyErrorInit) {
    super('room is not hosting a call', init);
  }
}

export class DailyInvalidSessionError extends DailyClientError {
  override readonly name = 'DailyInvalidSessionError';
  readonly failureType = FailureTypes.invalidSession;

  constructor(init: DailyErrorInit) {
    super('invalid session id', init);
  }
}

export class DailyRoomNotSfuError extends DailyClientError {
  override readonly name = 'DailyRoomNotSfuError';
  readonly failureType = FailureTypes.roomNotSfu;

  constructor(init: DailyErrorInit) {
    super('room is not in SFU mode', init);
  }
}

export class DailyCallClosedError extends DailyClientError {
  override readonly name = 'DailyCallClosedError';
  readonly failureType = FailureTypes.callClosed;

  constructor(init: DailyErrorInit) {
    super('call closed before the command could be delivered', init);
  }
}

/**
 * 404 "No dialout to stop" (dialOut/stop) or "No session running" (dialOut/sendDTMF): no dial-out or session with
 * that id is running in the room — for a stop, the state the caller wanted.
 */
export class DailyDialOutNotRunningError extends DailyClientError {
  override readonly name = 'DailyDialOutNotRunningError';
  readonly failureType = FailureTypes.notFound;

  constructor(init: DailyErrorInit) {
    super('no dial-out session with that id is running', init);
  }
}

/** 400 "dialOut already started": documented for dialOut/start; Daily does not say when it happens. */
export class DailyDialOutAlreadyStartedError extends DailyClientError {
  override readonly name = 'DailyDialOutAlreadyStartedError';
  readonly failureType = FailureTypes.badRequest;

  constructor(init: DailyErrorInit) {
    super('dial-out already started', init);
  }
}

/**
 * The room already has `max_sip_pstn_sessions_per_room` SIP/PSTN sessions (default 5). Daily documents the limit but
 * not its error: this is recognised by the property's name in `info`, which is how the sandbox words it; any other
 * wording Daily uses arrives as a `DailyBadRequestError`.
 */
export class DailySessionLimitError extends DailyClientError {
  override readonly name = 'DailySessionLimitError';
  readonly failureType = FailureTypes.badRequest;

  constructor(init: DailyErrorInit) {
    super('the room has reached max_sip_pstn_sessions_per_room', init);
  }
}

export class DailyNotFoundError extends DailyClientError {
  override readonly name = 'DailyNotFoundError';
  readonly failureType = FailureTypes.notFound;

  constructor(init: DailyErrorInit, summary = 'not found') {
    super(summary, init);
  }
}

/** The room exists but has no SIP dial-in address (its `sip` property is not set). */
export class DailyRoomHasNoSipUriError extends DailyClientError {
  override readonly name = 'DailyRoomHasNoSipUriError';
  readonly failureType = FailureTypes.notFound;

  constructor(init: DailyErrorInit) {
    super('room has no SIP URI (config.sip_uri.endpoint)', init);
  }
}

/** 401, or 400 `authorization-header-error`: the API key is missing, malformed or wrong. */
export class DailyAuthError extends DailyClientError {
  override readonly name = 'DailyAuthError';
  readonly failureType = FailureTypes.auth;

  constructor(init: DailyErrorInit) {
    super('authentication failed', init);
  }
}

export class DailyForbiddenError extends DailyClientError {
  override readonly name = 'DailyForbiddenError';
  readonly failureType = FailureTypes.forbidden;

  constructor(init: DailyErrorInit) {
    super('forbidden', init);
  }
}

export class DailyBadRequestError extends DailyClientError {
  override readonly name = 'DailyBadRequestError';
  readonly failureType = FailureTypes.badRequest;

  constructor(init: DailyErrorInit) {
    super('request rejected', init);
  }
}

/** A response Daily's API would not send: a 2xx with an unexpected body, a redirect, an oversized body. */
export class DailyInvalidResponseError extends DailyApiError {
  override readonly name = 'DailyInvalidResponseError';
  readonly retryable = false;
  readonly failureType = FailureTypes.invalidResponse;

  constructor(summary: string, init: DailyErrorInit) {
    super(`unexpected response: ${summary}`, init);
  }
}

/**
 * Maps an HTTP error reply to its typed error. Daily documents only the titles of the transfer errors, not their
 * `error` strings, so the documented cases are recognised by their `info` text (case-insensitive). Both 400 and 404
 * are checked for each text so that a status change on Daily's side still maps to the same case.
 */
export function errorFromReply(init: DailyErrorInit & { status: number; retryAfterMs?: number }): DailyApiError {
  const { status } = init;
  const info = (init.info ?? '').toLowerCase();
  if (status === 429) return new DailyRateLimitedError(init);
  if (status >= 500) return new DailyServerError(init);
  if (status === 401 || init.code === 'authorization-header-error' || init.code === 'authentication-error') {
    return new DailyAuthError(init);
  }
  if (status === 403) return new DailyForbiddenError(init);
  if (status === 400 || status === 404) {
    if (info.includes('not hosting a call')) return new DailyRoomNotHostingCallError(init);
    if (info.includes('invalid sessionid')) return new DailyInvalidSessionError(init);
    if (info.includes('not in sfu mode')) return new DailyRoomNotSfuError(init);
    if (info.includes('call closed before command could be delivered')) return new DailyCallClosedError(init);
    if (info.includes('no dialout to stop') || info.includes('no session running')) {
      return new DailyDialOutNotRunningError(init);
    }
    if (info.includes('dialout already started')) return new DailyDialOutAlreadyStartedError(init);
    if (info.includes('max_sip_pstn_sessions_per_room')) return new DailySessionLimitError(init);
  }
  if (status === 404) return new DailyNotFoundError(init);
  if (status >= 400) return new DailyBadRequestError(init);
  return new DailyInvalidResponseError(`HTTP ${status}`, init);
}
