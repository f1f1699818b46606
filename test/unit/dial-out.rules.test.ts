/**
 * The "Dial first" rules of `src/workflows/README.md`, row by row: given these facts about a group's dial-out legs,
 * the model concludes this.
 */
import { dialOutUserId, parseDialOutUserId, type DailyEvent } from '../../src/shared';
import { DialOutLegs } from '../../src/workflows/dial-out';

const CALLER = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
let seq = 0;

/** A `dialout.*` event for leg `leg`, as the relay hands it over (the dial-out's own session id). */
function event(type: DailyEvent['type'], leg: number, fields: Partial<DailyEvent> = {}): DailyEvent {
  return {
    id: `e${seq++}`,
    type,
    room: 'room',
    sessionId: `dialout-${leg}`,
    userId: dialOutUserId(CALLER, leg),
    ...fields,
  };
}

function group(size: number) {
  const model = new DialOutLegs(CALLER);
  const legs = Array.from({ length: size }, (_, i) => model.add(0, `sip:${i}@example.com`));
  return { model, legs };
}

test('userId: the caller session without dashes and the leg number, at most 36 characters, and back', () => {
  const userId = dialOutUserId(CALLER, 123);
  expect(userId).toBe('0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d.123');
  expect(userId.length).toBeLessThanOrEqual(36);
  expect(parseDialOutUserId(userId)).toEqual({ callerSessionId: CALLER, leg: 123 });
  // A customer's own dial-out, or a SIP leg's user_id (its session id), names no transfer.
  expect(parseDialOutUserId('agent-7')).toBeUndefined();
  expect(parseDialOutUserId(CALLER)).toBeUndefined();
  expect(parseDialOutUserId(undefined)).toBeUndefined();
});

describe('the dial-first rules', () => {
  test('events find their leg by userId, without the start reply; another caller’s events are not ours', () => {
    const { model, legs } = group(2);
    model.requesting(legs[1]!);
    model.startResult(legs[1]!, { kind: 'unknown', detail: '503' });
    expect(model.receive(event('dialout.connected', 1))).toMatchObject({ acted: true, leg: legs[1] });
    expect(legs[1]!.sessionId).toBe('dialout-1');
    const other = dialOutUserId('ffffffff-4e5f-4a6b-8c7d-9e0f1a2b3c4d', 1);
    expect(model.receive(event('dialout.answered', 1, { userId: other, sessionId: 'x' }))).toBeUndefined();
    // Not a dial-out event: the caller's leg model takes it.
    expect(model.receive(event('dialin.stopped', 1))).toBeUndefined();
  });

  test('the first answer wins; the others lose the race and must be stopped', () => {
    const { model, legs } = group(3);
    for (const leg of legs) {
      model.requesting(leg);
      model.startResult(leg, { kind: 'accepted', sessionId: `dialout-${leg.leg}` });
    }
    model.receive(event('dialout.answered', 1));
    expect(model.winner(0)).toBe(legs[1]);
    expect(legs.map((l) => l.verdict?.outcome)).toEqual(['lost-race', 'answered', 'lost-race']);
    expect(model.toStop()).toEqual([legs[0], legs[2]]);
    model.stopResult(legs[0]!, 'stopped');
    model.stopResult(legs[2]!, 'not-running');
    expect(model.toStop()).toEqual([]);
  });

  test('a second answer is hung up and recorded; one that arrives after its stop is recorded only', () => {
    const { model, legs } = group(3);
    for (const leg of legs) {
      model.requesting(leg);
      model.startResult(leg, { kind: 'accepted', sessionId: `dialout-${leg.leg}` });
    }
    model.receive(event('dialout.answered', 0));
    // Leg 2 answers before the workflow stopped it: it must be hung up.
    model.receive(event('dialout.answered', 1));
    expect(legs[1]!.verdict).toEqual({
      outcome: 'answered-too-late',
      decidedBy: expect.stringMatching(/after leg 1 won: hung up/),
    });
    expect(model.toStop()).toEqual([legs[1], legs[2]]);
    model.stopResult(legs[1]!, 'stopped');
    model.stopResult(legs[2]!, 'stopped');
    // Leg 3's answer is delivered after Daily took its stop: it happened before it, and the stop hung it up.
    model.receive(event('dialout.answered', 2));
    expect(legs[2]!.verdict?.outcome).toBe('answered-too-late');
    expect(model.toStop()).toEqual([]);
    expect(model.winner(0)).toBe(legs[0]);
  });

  test('stopped before connected is busy, after connected rejected; dialout.error is failed', () => {
    const { model, legs } = group(3);
    model.receive(event('dialout.stopped', 0));
    model.receive(event('dialout.connected', 1));
    model.receive(event('dialout.stopped', 1));
    model.receive(event('dialout.error', 2, { errorMessage: 'codec' }));
    expect(legs.map((l) => l.verdict?.outcome)).toEqual(['busy', 'rejected', 'failed']);
    expect(model.decided(0)).toBe(true);
    // Each ended on its own: nothing to stop.
    expect(model.toStop()).toEqual([]);
  });

  test('dialOut/start is sent again only after answers that say it was not taken', () => {
    const { model, legs } = group(3);
    const [notSent, unknown, refused] = legs;
    model.requesting(notSent!);
    model.startResult(notSent!, { kind: 'not-sent', detail: '429' });
    expect(model.mayStart(notSent!)).toBe(true);
    model.requesting(unknown!);
    expect(model.mayStart(unknown!)).toBe(false); // in flight
    model.startResult(unknown!, { kind: 'unknown', detail: 'timed out' });
    expect(model.mayStart(unknown!)).toBe(false);
    model.requesting(refused!);
    model.startResult(refused!, { kind: 'refused', type: 'DailyBadRequest', detail: 'session limit' });
    expect(refused!.verdict).toEqual({ outcome: 'api-error', decidedBy: 'session limit' });
    expect(model.mayStart(refused!)).toBe(false);
  });

  test('ring timeout: no-answer where Daily showed the leg, unknown where it never did; the unknown cannot be stopped', () => {
    const { model, legs } = group(2);
    model.requesting(legs[0]!);
    model.startResult(legs[0]!, { kind: 'accepted', sessionId: 'dialout-0' });
    model.requesting(legs[1]!);
    model.startResult(legs[1]!, { kind: 'unknown', detail: 'timed out' });
    model.timedOut(0, 5);
    expect(legs.map((l) => l.verdict?.outcome)).toEqual(['no-answer', 'unknown']);
    expect(model.toStop()).toEqual(legs);
    expect(model.unreachable()).toEqual([legs[1]]);
    // Its first event names its session: now it can be stopped.
    model.receive(event('dialout.connected', 1));
    expect(model.unreachable()).toEqual([]);
    expect(legs[1]!.sessionId).toBe('dialout-1');
  });

  test('ring timeout before Daily took any start (429s): api-error, nothing to stop', () => {
    const { model, legs } = group(1);
    model.requesting(legs[0]!);
    model.startResult(legs[0]!, { kind: 'not-sent', detail: 'Daily: rate limited' });
    model.timedOut(0, 5);
    expect(legs[0]!.verdict).toEqual({
      outcome: 'api-error',
      decidedBy: 'Daily took no dialOut/start within 5s (Daily: rate limited)',
    });
    expect(model.toStop()).toEqual([]);
  });

  test('a leg never sent (the group was decided first) is not stopped', () => {
    const { model, legs } = group(2);
    model.requesting(legs[0]!);
    model.startResult(legs[0]!, { kind: 'accepted', sessionId: 'dialout-0' });
    model.receive(event('dialout.answered', 0));
    expect(model.mayStart(legs[1]!)).toBe(false);
    expect(legs[1]!.verdict?.outcome).toBe('lost-race');
    expect(model.toStop()).toEqual([]);
  });
});
