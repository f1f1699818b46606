import {
  DailyApiError,
  DailyAuthError,
  DailyBadRequestError,
  DailyCallClosedError,
  DailyDialOutAlreadyStartedError,
  DailyDialOutNotRunningError,
  DailyForbiddenError,
  DailyInvalidResponseError,
  DailyInvalidSessionError,
  DailyNotFoundError,
  DailyRateLimitedError,
  DailyRoomNotHostingCallError,
  DailyRoomNotSfuError,
  DailyServerError,
  DailySessionLimitError,
  errorFromReply,
  parseRetryAfter,
} from '../../src/daily';
import { FailureTypes } from '../../src/shared';

const endpoint = 'POST /rooms/r/sipCallTransfer';

describe('errorFromReply', () => {
  const cases: Array<[number, string | undefined, string | undefined, new (...args: never[]) => DailyApiError]> = [
    [404, 'not-found', 'Room is not hosting a call', DailyRoomNotHostingCallError],
    [404, 'not-found', 'invalid sessionId', DailyInvalidSessionError],
    [400, 'invalid-request-error', 'Room not in SFU mode', DailyRoomNotSfuError],
    [400, 'invalid-request-error', 'Call closed before command could be delivered', DailyCallClosedError],
    [400, 'invalid-request-error', 'CALL CLOSED BEFORE COMMAND COULD BE DELIVERED', DailyCallClosedError],
    [404, 'invalid-request-error', 'room is NOT HOSTING A CALL right now', DailyRoomNotHostingCallError],
    [404, 'not-found', 'room does not exist', DailyNotFoundError],
    [404, 'not-found', 'No dialout to stop', DailyDialOutNotRunningError],
    [404, 'not-found', 'No session running', DailyDialOutNotRunningError],
    [400, 'invalid-request-error', 'dialOut already started', DailyDialOutAlreadyStartedError],
    [400, 'invalid-request-error', 'max_sip_pstn_sessions_per_room (5) reached for this room', DailySessionLimitError],
    [400, 'invalid-request-error', 'too many SIP sessions', DailyBadRequestError],
    [404, undefined, undefined, DailyNotFoundError],
    [400, 'authorization-header-error', 'missing header', DailyAuthError],
    [401, 'authentication-error', 'bad key', DailyAuthError],
    [403, 'forbidden-error', undefined, DailyForbiddenError],
    [400, 'invalid-request-error', 'toEndPoint is invalid', DailyBadRequestError],
    [409, undefined, undefined, DailyBadRequestError],
    [429, 'rate-limit-error', undefined, DailyRateLimitedError],
    [500, 'server-error', undefined, DailyServerError],
    [503, undefined, undefined, DailyServerError],
    [302, undefined, undefined, DailyInvalidResponseError],
  ];

  it.each(cases)('%i %s %s', (status, code, info, type) => {
    const err = errorFromReply({ endpoint, status, code, info });
    expect(err).toBeInstanceOf(type);
    expect(err).toBeInstanceOf(DailyApiError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe(type.name);
    expect(err.status).toBe(status);
    expect(err.code).toBe(code);
    expect(err.info).toBe(info);
    expect(err.endpoint).toBe(endpoint);
    expect(err.message).toContain(endpoint);
    expect(err.stack?.split('\n')[0]).toContain(type.name);
  });

  it('gives each error its failure type and retryability', () => {
    const expectations: Array<[number, string | undefined, string, boolean]> = [
      [429, undefined, FailureTypes.rateLimited, true],
      [502, undefined, FailureTypes.serverError, true],
      [404, 'Room is not hosting a call', FailureTypes.roomNotHostingCall, false],
      [404, 'invalid sessionId', FailureTypes.invalidSession, false],
      [400, 'Room not in SFU mode', FailureTypes.roomNotSfu, false],
      [404, 'No dialout to stop', FailureTypes.notFound, false],
      [400, 'dialOut already started', FailureTypes.badRequest, false],
      [400, 'max_sip_pstn_sessions_per_room (5) reached for this room', FailureTypes.badRequest, false],
      [400, 'Call closed before command could be delivered', FailureTypes.callClosed, false],
      [404, undefined, FailureTypes.notFound, false],
      [401, undefined, FailureTypes.auth, false],
      [403, undefined, FailureTypes.forbidden, false],
      [422, undefined, FailureTypes.badRequest, false],
      [301, undefined, FailureTypes.invalidResponse, false],
    ];
    for (const [status, info, failureType, retryable] of expectations) {
      const err = errorFromReply({ endpoint, status, info });
      expect({ status, failureType: err.failureType, retryable: err.retryable }).toEqual({
        status,
        failureType,
        retryable,
      });
    }
  });

  it('keeps retryAfterMs on rate-limit errors', () => {
    const err = errorFromReply({ endpoint, status: 429, retryAfterMs: 1500 });
    expect(err).toBeInstanceOf(DailyRateLimitedError);
    expect((err as DailyRateLimitedError).retryAfterMs).toBe(1500);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
  });

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });

  it('is undefined when absent or unreadable', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
  });
});
