import { parseDailyWebhook } from '../../src/relay/daily-event';

const envelope = (type: string, payload: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  version: '1.0.0',
  type,
  id: 'evt-1',
  payload: { domain_id: 'd', room: 'support', session_id: 'leg-1', ...payload },
  event_ts: 1770005095.25,
  ...extra,
});

describe('parseDailyWebhook', () => {
  test.each([
    ['a string (as in Daily’s examples)', '1770005095'],
    ['an integer (as in Daily’s schema)', 1770005095],
  ])('reads payload.timestamp as %s', (_name, timestamp) => {
    const parsed = parseDailyWebhook(envelope('calltransfer.triggered', { timestamp }));
    expect(parsed).toMatchObject({ kind: 'transfer', event: { occurredAtMs: 1770005095000 } });
  });

  test('keeps unknown fields out of the event and lets them pass', () => {
    const parsed = parseDailyWebhook(
      envelope('calltransfer.answered', { future_field: { nested: true }, mtg_session_id: 'm' }, { extra: 1 })
    );
    expect(parsed).toEqual({
      kind: 'transfer',
      event: {
        id: 'evt-1',
        type: 'calltransfer.answered',
        room: 'support',
        sessionId: 'leg-1',
        sentAtMs: 1770005095250,
      },
    });
  });

  test.each(['completeStatus', 'complete_status'])('reads the completion status from %s', (key) => {
    const parsed = parseDailyWebhook(envelope('calltransfer.completed', { [key]: 'no-answer', is_sip_refer: true }));
    expect(parsed).toMatchObject({ event: { completeStatus: 'no-answer', isSipRefer: true } });
  });

  test('reads REFER SIP codes as strings, whether Daily sends strings or numbers', () => {
    const parsed = parseDailyWebhook(
      envelope('calltransfer.completed', { refer_sip_response_code: 202, notify_sip_response_code: '486' })
    );
    expect(parsed).toMatchObject({ event: { referSipResponseCode: '202', notifySipResponseCode: '486' } });
  });

  test('reads participant.left duration, and dial-in/out stops, for the leg that left', () => {
    expect(parseDailyWebhook(envelope('participant.left', { duration: '42.5' }))).toMatchObject({
      event: { type: 'participant.left', durationSec: 42.5, sessionId: 'leg-1' },
    });
    expect(parseDailyWebhook(envelope('dialin.stopped', { sip_from: 'sip:x@y' }))).toMatchObject({
      kind: 'transfer',
      event: { type: 'dialin.stopped' },
    });
  });

  test.each(['dialin.error', 'dialout.error'])(
    "routes %s, the caller's own leg failing, with Daily's error_msg",
    (type) => {
      expect(parseDailyWebhook(envelope(type, { error_msg: 'SIP 503 from carrier', timestamp: 1770005095 }))).toEqual({
        kind: 'transfer',
        event: {
          id: 'evt-1',
          type,
          room: 'support',
          sessionId: 'leg-1',
          occurredAtMs: 1770005095000,
          sentAtMs: 1770005095250,
          errorMessage: 'SIP 503 from carrier',
        },
      });
    }
  );

  test('reads is_sip_refer sent as a string', () => {
    expect(parseDailyWebhook(envelope('calltransfer.initiated', { is_sip_refer: 'true' }))).toMatchObject({
      event: { isSipRefer: true },
    });
  });

  test('passes other event types through without looking at their payload', () => {
    expect(parseDailyWebhook({ type: 'meeting.ended', id: 'e2', payload: 'anything' })).toEqual({
      kind: 'other',
      type: 'meeting.ended',
      id: 'e2',
    });
  });

  test.each([
    ['no type', { id: 'e', payload: {} }],
    ['no id', { type: 'calltransfer.initiated', payload: { room: 'r', session_id: 's' } }],
    ['an array', []],
    ['a transfer event without a room', envelope('calltransfer.initiated', { room: undefined })],
    ['a transfer event with a non-numeric timestamp', envelope('calltransfer.initiated', { timestamp: 'soon' })],
  ])('reports %s as invalid', (_name, body) => {
    expect(parseDailyWebhook(body)).toMatchObject({
      kind: 'invalid',
      reason: 'invalid_event',
      message: expect.any(String),
    });
  });
});
