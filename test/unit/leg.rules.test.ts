/**
 * The rules table of `src/workflows/README.md`, row by row: given these facts, the leg model concludes this.
 */
import type { DailyEvent } from '../../src/shared';
import { CallerLeg, type RequestResult } from '../../src/workflows/leg';

const SESSION = 'leg';
const A = 'sip:a@example.com';
const B = 'sip:b@example.com';
let seq = 0;

function event(type: DailyEvent['type'], fields: Partial<DailyEvent> = {}): DailyEvent {
  return { id: `e${seq++}`, type, room: 'room', sessionId: SESSION, occurredAtMs: 10_000, ...fields };
}
const accepted: RequestResult = { kind: 'accepted' };
const unknown: RequestResult = { kind: 'unknown', detail: '503' };
const invalidSession: RequestResult = { kind: 'refused', type: 'DailyInvalidSession', detail: 'invalid sessionId' };

/** A leg with attempts to A (and B), their requests sent at 10 s. */
function legWith(...destinations: Array<{ to: string; method?: 'sipCallTransfer' | 'sipRefer' }>) {
  const leg = new CallerLeg(SESSION, 0);
  const attempts = destinations.map(({ to, method }, index) =>
    leg.startAttempt({ index, method: method ?? 'sipCallTransfer', toEndPoint: to })
  );
  return { leg, attempts };
}

function requested(leg: CallerLeg, attempt: ReturnType<CallerLeg['startAttempt']>, result: RequestResult) {
  leg.requesting(attempt, 10_000);
  leg.requestResult(attempt, result);
}

describe('the rules table', () => {
  test('a 2xx: taken; the leg is requested until it is seen leaving', () => {
    const { leg, attempts } = legWith({ to: A });
    requested(leg, attempts[0]!, accepted);
    expect(leg.where()).toBe('requested');
    expect(leg.maySend(attempts[0]!)).toBe(false);
    leg.receive(event('calltransfer.initiated', { toEndPoint: A }));
    expect(leg.where()).toBe('ringing');
  });

  test('a 429 / a request that never reached Daily: send again', () => {
    const { leg, attempts } = legWith({ to: A });
    requested(leg, attempts[0]!, { kind: 'not-sent', detail: '429' });
    expect(leg.maySend(attempts[0]!)).toBe(true);
  });

  test('a 4xx on the first request decides api-error', () => {
    const { leg, attempts } = legWith({ to: A });
    requested(leg, attempts[0]!, { kind: 'refused', type: 'DailyRoomNotSfu', detail: 'Room not in SFU mode' });
    expect(attempts[0]!.verdict).toEqual({ outcome: 'api-error', decidedBy: 'Room not in SFU mode' });
  });

  test('a 4xx after an unknown request is evidence about the first, not an outcome', () => {
    const { leg, attempts } = legWith({ to: A });
    requested(leg, attempts[0]!, unknown);
    leg.presence(attempts[0]!, true);
    requested(leg, attempts[0]!, { kind: 'refused', type: 'DailyCallClosed', detail: 'Call closed' });
    expect(attempts[0]!.verdict).toBeUndefined();
  });

  test('the same 404 under the rule before the settled-elsewhere patch: the leg counts as gone (replayed histories)', () => {
    const { leg, attempts } = legWith({ to: A });
    requested(leg, attempts[0]!, unknown);
    leg.presence(attempts[0]!, true);
    leg.requesting(attempts[0]!, 10_000);
    leg.requestResult(attempts[0]!, invalidSession, { refusalAfterUnknownIsEvidence: false });
    expect(leg.isGone()).toBe(true);
  });

  test('a 404 invalid session after an unknown request, leg seen in the room: evidence about the first, the leg is not gone', () => {
    const { leg, attempts } = legWith({ to: A });
    requested(leg, attempts[0]!, unknown);
    leg.presence(attempts[0]!, true); // presence lags: the first request had in fact moved the leg
    requested(leg, attempts[0]!, invalidSession);
    expect(leg.refusalFollowsUnknown(attempts[0]!)).toBe(true);
    expect(attempts[0]!.verdict).toBeUndefined();
    expect(leg.isGone()).toBe(false);
    expect(leg.maySend(attempts[0]!)).toBe(false);
    // Its late events decide it.
    leg.receive(event('calltransfer.initiated', { toEndPoint: A }));
    expect(leg.where()).toBe('ringing');
  });

  test('unknown, then any event for the attempt: taken, never sent again', () => {
    const { leg, attempts } = legWith({ to: A });
    requested(leg, attempts[0]!, unknown);
    leg.receive(event('calltransfer.triggered', { toEndPoint: A }));
    expect(leg.maySend(attempts[0]!)).toBe(false);
  });

  test('unknown, in the room before it, presence still in the room: send again', () => {
    const { leg, attempts } = legWith({ to: A });
    requested(leg, attempts[0]!, unknown);
    expect(leg.presenceCanJudge(attempts[0]!)).toBe(true);
    leg.presence(attempts[0]!, true);
    expect(leg.maySend(attempts[0]!)).toBe(true);
  });

  test('unknown with the leg already out of the room: presence cannot judge; the timer ends it unknown', () => {
    const { leg, attempts } = legWith({ to: A }, { to: B });
    requested(leg, attempts[0]!, accepted);
    leg.receive(event('calltransfer.initiated', { toEndPoint: A }));
    leg.ringTimedOut(attempts[0]!, 5);
    requested(leg, attempts[1]!, unknown);
    expect(leg.presenceCanJudge(attempts[1]!)).toBe(false);
    expect(leg.maySend(attempts[1]!)).toBe(false);
    leg.ringTimedOut(attempts[1]!, 5);
    expect(attempts[1]!.verdict?.outcome).toBe('unknown');
  });

  test('answered late while the next request waits out a 429: nothing more is sent for it', () => {
    const { leg, attempts } = legWith({ to: A }, { to: B });
    requested(leg, attempts[0]!, accepted);
    leg.receive(event('calltransfer.initiated', { toEndPoint: A }));
    leg.ringTimedOut(attempts[0]!, 5);
    requested(leg, attempts[1]!, { kind: 'not-sent', detail: '429' });
    expect(leg.maySend(attempts[1]!)).toBe(true);
    leg.receive(event('calltransfer.answered', { toEndPoint: A }));
    // The workflow asks this before every request: the attempt is called off, nothing is sent.
    expect(leg.connectedElsewhere(attempts[1]!)).toBe(attempts[0]);
  });

  test('answered just after the ring timeout, before a later request was taken: the caller is connected there', () => {
    const { leg, attempts } = legWith({ to: A }, { to: B });
    requested(leg, attempts[0]!, accepted);
    leg.receive(event('calltransfer.initiated', { toEndPoint: A }));
    leg.ringTimedOut(attempts[0]!, 5);
    requested(leg, attempts[1]!, invalidSession);
    expect(attempts[1]!.verdict).toBeUndefined(); // out of the room, a refusal proves nothing yet
    leg.receive(event('calltransfer.answered', { toEndPoint: A }));
    expect(attempts[0]!.verdict?.outcome).toBe('no-answer');
    expect(leg.connectedAttempt()).toBe(attempts[0]);
    expect(leg.where()).toBe('connected');
  });

  test('completed with a status decides; without one and without answered it is a connected call that ended', () => {
    const withStatus = legWith({ to: A });
    requested(withStatus.leg, withStatus.attempts[0]!, accepted);
    withStatus.leg.receive(event('calltransfer.completed', { toEndPoint: A, completeStatus: 'busy' }));
    expect(withStatus.attempts[0]!.verdict?.outcome).toBe('busy');
    expect(withStatus.leg.isGone()).toBe(false);

    const without = legWith({ to: A });
    requested(without.leg, without.attempts[0]!, accepted);
    without.leg.receive(event('calltransfer.completed', { toEndPoint: A }));
    expect(without.attempts[0]!.verdict?.outcome).toBe('answered');
    expect(without.leg.where()).toBe('gone');
  });

  test('completed naming an earlier destination says nothing about where the leg is now', () => {
    const { leg, attempts } = legWith({ to: A }, { to: B });
    requested(leg, attempts[0]!, accepted);
    leg.receive(event('calltransfer.initiated', { toEndPoint: A }));
    leg.ringTimedOut(attempts[0]!, 5);
    requested(leg, attempts[1]!, accepted);
    leg.receive(event('calltransfer.answered', { toEndPoint: B }));
    leg.receive(event('calltransfer.completed', { toEndPoint: A }));
    expect(leg.where()).toBe('connected');
    expect(leg.connectedAttempt()).toBe(attempts[1]);
  });

  test('events older than the request (less the skew) or than the run are not acted on', () => {
    const { leg, attempts } = legWith({ to: A });
    leg.requesting(attempts[0]!, 20_000);
    expect(leg.receive(event('calltransfer.answered', { toEndPoint: A, occurredAtMs: 17_000 }))).toEqual({
      acted: false,
      why: 'no-attempt',
    });
    const later = new CallerLeg(SESSION, 60_000);
    expect(later.receive(event('calltransfer.answered', { toEndPoint: A, occurredAtMs: 50_000 }))).toEqual({
      acted: false,
      why: 'before-this-run',
    });
  });

  test('REFER: initiated and the leg seen leaving after it; initiated alone when it had already left', () => {
    const inRoom = legWith({ to: A, method: 'sipRefer' });
    requested(inRoom.leg, inRoom.attempts[0]!, accepted);
    inRoom.leg.receive(event('calltransfer.initiated', { toEndPoint: A }));
    expect(inRoom.attempts[0]!.verdict).toBeUndefined();
    inRoom.leg.receive(event('participant.left'));
    expect(inRoom.attempts[0]!.verdict?.outcome).toBe('answered');
    expect(inRoom.leg.where()).toBe('referred');

    const outside = legWith({ to: B }, { to: A, method: 'sipRefer' });
    requested(outside.leg, outside.attempts[0]!, accepted);
    outside.leg.receive(event('calltransfer.initiated', { toEndPoint: B }));
    outside.leg.ringTimedOut(outside.attempts[0]!, 5);
    requested(outside.leg, outside.attempts[1]!, accepted);
    outside.leg.receive(event('calltransfer.initiated', { toEndPoint: A }));
    expect(outside.attempts[1]!.verdict?.outcome).toBe('answered');
  });

  test('REFER refused by the far end (603) before the leg left: still in the room', () => {
    const { leg, attempts } = legWith({ to: A, method: 'sipRefer' });
    requested(leg, attempts[0]!, accepted);
    leg.receive(event('calltransfer.completed', { toEndPoint: A, referSipResponseCode: '603' }));
    expect(attempts[0]!.verdict?.outcome).toBe('rejected');
    expect(leg.where()).toBe('in-room');
  });

  test('two dialin.stopped in any order: the caller hung up', () => {
    const { leg, attempts } = legWith({ to: A });
    requested(leg, attempts[0]!, accepted);
    leg.receive(event('dialin.stopped'));
    expect(leg.isGone()).toBe(false); // the first stop is the departure from the room
    leg.receive(event('dialin.stopped'));
    expect(attempts[0]!.verdict?.outcome).toBe('caller-hung-up');
    expect(leg.where()).toBe('gone');
  });

  test('dialin.error: caller-leg-failed, also refining a reasonless completed failed that came first', () => {
    const { leg, attempts } = legWith({ to: A });
    requested(leg, attempts[0]!, accepted);
    leg.receive(event('calltransfer.completed', { toEndPoint: A, completeStatus: 'failed' }));
    expect(attempts[0]!.verdict?.outcome).toBe('failed');
    leg.receive(event('dialin.error', { errorMessage: 'media timeout' }));
    expect(attempts[0]!.verdict?.outcome).toBe('caller-leg-failed');
    expect(leg.where()).toBe('gone');
  });

  test('a verdict is final: a late answered after no-answer changes no outcome', () => {
    const { leg, attempts } = legWith({ to: A });
    requested(leg, attempts[0]!, accepted);
    leg.ringTimedOut(attempts[0]!, 5);
    expect(leg.receive(event('calltransfer.answered', { toEndPoint: A }))).toMatchObject({
      acted: false,
      why: 'decided',
    });
    expect(attempts[0]!.verdict?.outcome).toBe('no-answer');
  });
});
