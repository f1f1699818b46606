import type { DailyEvent } from '../../src/shared';
import { applyEvent, decideFromEvents, fromCompleteStatus, fromSipCode } from '../../src/workflows/v1/outcome';
import type { AttemptProgress } from '../../src/workflows/v1/outcome';

const event = (type: DailyEvent['type'], extra: Partial<DailyEvent> = {}): DailyEvent => ({
  id: `${type}-${Math.random()}`,
  type,
  room: 'r',
  sessionId: 's',
  ...extra,
});

function progressOf(method: AttemptProgress['method'], events: DailyEvent[]): AttemptProgress {
  const progress: AttemptProgress = { method };
  for (const e of events) applyEvent(progress, e);
  return progress;
}

describe('sipCallTransfer outcomes', () => {
  test('triggered and initiated alone decide nothing', () => {
    expect(
      decideFromEvents(
        progressOf('sipCallTransfer', [event('calltransfer.triggered'), event('calltransfer.initiated')])
      )
    ).toBeUndefined();
  });

  test('answered decides, in any order', () => {
    const verdict = decideFromEvents(
      progressOf('sipCallTransfer', [event('calltransfer.answered'), event('calltransfer.initiated')])
    );
    expect(verdict?.outcome).toBe('answered');
  });

  test.each([
    ['busy', 'busy'],
    ['no-answer', 'no-answer'],
    ['rejected', 'rejected'],
    ['canceled', 'caller-hung-up'],
    ['failed', 'failed'],
    ['something-new', 'failed'],
    [undefined, 'answered'],
  ])('completed with completeStatus %s → %s', (status, outcome) => {
    const verdict = decideFromEvents(
      progressOf('sipCallTransfer', [event('calltransfer.completed', { completeStatus: status })])
    );
    expect(verdict?.outcome).toBe(outcome);
  });

  test('only the first event of a kind counts', () => {
    const progress: AttemptProgress = { method: 'sipCallTransfer' };
    expect(applyEvent(progress, event('calltransfer.initiated'))).toBe(true);
    expect(applyEvent(progress, event('calltransfer.initiated'))).toBe(false);
  });
});

describe('sipRefer outcomes', () => {
  test('initiated plus the leg leaving the room is success (Daily sends nothing more for REFER)', () => {
    expect(decideFromEvents(progressOf('sipRefer', [event('calltransfer.initiated')]))).toBeUndefined();
    const verdict = decideFromEvents(
      progressOf('sipRefer', [event('dialin.stopped'), event('calltransfer.initiated')])
    );
    expect(verdict?.outcome).toBe('answered');
  });

  test('SIP codes on completed decide when present', () => {
    const rejected = progressOf('sipRefer', [
      event('calltransfer.completed', { referSipResponseCode: '603', completeStatus: 'failed' }),
    ]);
    expect(decideFromEvents(rejected)?.outcome).toBe('rejected');
    const busy = progressOf('sipRefer', [
      event('calltransfer.completed', { referSipResponseCode: '202', notifySipResponseCode: '486' }),
    ]);
    expect(decideFromEvents(busy)?.outcome).toBe('busy');
    const ok = progressOf('sipRefer', [
      event('calltransfer.completed', { referSipResponseCode: '202', notifySipResponseCode: '200' }),
    ]);
    expect(decideFromEvents(ok)?.outcome).toBe('answered');
  });
});

test('status and SIP code vocabularies', () => {
  expect(fromCompleteStatus('No_Answer')).toBe('no-answer');
  expect(fromCompleteStatus('cancelled')).toBe('caller-hung-up');
  expect(fromSipCode(480)).toBe('no-answer');
  expect(fromSipCode(600)).toBe('busy');
  expect(fromSipCode(500)).toBe('failed');
});
