/** Dial-out in the sandbox: Daily's dialOut/start, /stop, /sendDTMF, the dialout.* events and the session limit. */
import { DEFAULT_MODEL, SandboxControl, type Sandbox, type SandboxEvent } from '../../src/sandbox';
import { api, startTestSandbox, waitFor, type ApiResponse } from './helpers';

const PHONE = '+15551230000';
const SIP = 'sip:agent@pbx.example.com';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('sandbox dial-out', () => {
  let sandbox: Sandbox;
  let caller: string;
  let before: number;

  const since = (): SandboxEvent[] => sandbox.emittedEvents().slice(before);
  const start = (body: Record<string, unknown>, room = 'd'): Promise<ApiResponse> =>
    api(sandbox, 'POST', `/rooms/${room}/dialOut/start`, body);
  const stop = (sessionId: string, room = 'd'): Promise<ApiResponse> =>
    api(sandbox, 'POST', `/rooms/${room}/dialOut/stop`, { sessionId });
  const stateOf = (sessionId: string): string | undefined =>
    sandbox.dialOuts().find((d) => d.sessionId === sessionId)?.state;
  /** Starts a dial-out that must be accepted; returns its session id. */
  async function started(body: Record<string, unknown>, room = 'd'): Promise<string> {
    const res = await start(body, room);
    expect(res.status).toBe(200);
    return String(res.body.sessionId);
  }

  beforeAll(async () => {
    sandbox = await startTestSandbox({ timing: { dialOutConnectedMs: 5 } });
  });
  afterAll(() => sandbox.close());
  beforeEach(() => {
    sandbox.reset();
    sandbox.setModel(DEFAULT_MODEL);
    sandbox.createRoom('d');
    caller = sandbox.addCaller('d').sessionId;
    before = sandbox.emittedEvents().length;
    sandbox.setScenario(SIP, { kind: 'answer', afterMs: 10 });
    sandbox.setScenario(PHONE, { kind: 'no-answer' });
  });

  describe('dialOut/start', () => {
    it('answers {ok, sessionId}; connected, answered, then the dialed party joins the room', async () => {
      const sipUri = `${SIP}?X-Ticket=T-42`;
      const res = await start({ sipUri, userId: 'agent-7', callerId: 'number-id', displayName: 'Agent' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: true, sessionId: expect.stringMatching(UUID) });
      const sessionId = String(res.body.sessionId);
      await sandbox.idle();

      const events = since();
      expect(events.map((e) => e.type)).toEqual(['dialout.connected', 'dialout.answered', 'participant.joined']);
      for (const event of events.slice(0, 2)) {
        expect(event.payload).toEqual({
          timestamp: expect.stringMatching(/^\d+$/),
          session_id: sessionId,
          user_id: 'agent-7',
          domain_id: expect.any(String),
          room: 'd',
          destination: sipUri,
          origin: 'sip:d@sandbox.sip.daily.co',
          caller_id: 'number-id',
        });
      }
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      expect(events[2]?.payload).toMatchObject({ session_id: sessionId, room: 'd' });

      expect(sandbox.dialOuts()).toEqual([
        {
          sessionId,
          room: 'd',
          destination: sipUri,
          userId: 'agent-7',
          callerId: 'number-id',
          state: 'answered',
          startedAt: expect.any(Number),
          answeredAt: expect.any(Number),
        },
      ]);
      expect(sandbox.participant('d', sessionId)).toEqual({ state: 'in-room', room: 'd' });
      const presence = await api(sandbox, 'GET', '/rooms/d/presence');
      expect((presence.body.data as Array<{ id: string }>).map((p) => p.id)).toEqual([caller, sessionId]);
      expect(sandbox.requests({ path: 'dialOut/start' })).toEqual([
        expect.objectContaining({
          endpoint: 'dialOut/start',
          room: 'd',
          status: 200,
          body: expect.objectContaining({ sipUri }),
        }),
      ]);
    });

    it('a phone number: user_id null when none is given, origin the sandbox number, integer timestamp by model', async () => {
      sandbox.setModel({ timestampAsString: false, okAsString: true });
      const res = await start({ phoneNumber: PHONE, extension: '12', waitBeforeExtensionDialSec: 2 });
      expect(res.body).toEqual({ ok: 'true', sessionId: expect.stringMatching(UUID) });
      await sandbox.idle();
      expect(since()).toEqual([
        expect.objectContaining({
          type: 'dialout.connected',
          payload: expect.objectContaining({
            user_id: null,
            caller_id: null,
            destination: PHONE,
            origin: '+15550100000',
            timestamp: expect.any(Number),
          }),
        }),
      ]);
      expect(stateOf(String(res.body.sessionId))).toBe('ringing');
    });

    it.each([
      [{}, 'sipUri: exactly one of sipUri or phoneNumber is required'],
      [{ sipUri: SIP, phoneNumber: PHONE }, 'sipUri: exactly one of sipUri or phoneNumber is required'],
      [{ sipUri: 'agent@pbx.example.com' }, 'sipUri: must be a sip: URI'],
      [{ sipUri: `${SIP}?Ticket=1` }, 'sipUri: header parameters (after ?) must be X-Name=value'],
      [{ phoneNumber: '5551230000' }, 'phoneNumber: must be an E.164 phone number (+15551230000)'],
      [{ sipUri: SIP, extension: '1' }, 'extension: is only valid with phoneNumber'],
      [{ phoneNumber: PHONE, video: true }, 'video: is only valid with sipUri'],
      [{ phoneNumber: PHONE, userId: 'u'.repeat(37) }, 'userId: must be at most 36 characters'],
      [{ phoneNumber: PHONE, waitBeforeExtensionDialSec: 61 }, 'waitBeforeExtensionDialSec: must be 0-60'],
    ])('400 invalid-request-error for %j, and nothing dialed', async (body, info) => {
      const res = await start(body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid-request-error', info });
      await sandbox.idle();
      expect(sandbox.dialOuts()).toEqual([]);
      expect(since()).toEqual([]);
    });

    it('rejects an unknown codec', async () => {
      const res = await start({ sipUri: SIP, codecs: { audio: ['MP3'] } });
      expect(res.status).toBe(400);
      expect(String(res.body.info)).toMatch(/^codecs\.audio\.0: /);
    });

    it('404 "Room is not hosting a call" for a room without a call and for an unknown room', async () => {
      sandbox.createRoom('empty');
      for (const room of ['empty', 'nowhere']) {
        const res = await start({ phoneNumber: PHONE }, room);
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ error: 'not-found', info: 'Room is not hosting a call' });
      }
      expect(sandbox.dialOuts()).toEqual([]);
    });

    it('is not idempotent: the same request twice dials the destination twice', async () => {
      const first = await started({ phoneNumber: PHONE, userId: 'same' });
      const second = await started({ phoneNumber: PHONE, userId: 'same' });
      expect(second).not.toBe(first);
      expect(sandbox.dialOuts({ state: 'ringing' }).map((d) => d.sessionId)).toEqual([first, second]);
    });
  });

  describe('max_sip_pstn_sessions_per_room', () => {
    it('default 5: the caller and four ringing dial-outs fill the room; the next start is refused', async () => {
      for (let i = 0; i < 4; i += 1) await started({ phoneNumber: PHONE });
      const refused = await start({ phoneNumber: PHONE });
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({
        error: 'invalid-request-error',
        info: 'max_sip_pstn_sessions_per_room (5) reached for this room',
      });
      expect(sandbox.dialOuts()).toHaveLength(4);
    });

    it('counts answered dial-outs and frees a place when one is stopped; set per room', async () => {
      sandbox.createRoom('small', { maxSipPstnSessions: 3 });
      sandbox.addCaller('small');
      const answered = await started({ sipUri: SIP }, 'small');
      await waitFor(() => stateOf(answered) === 'answered', 'the dial-out to answer');
      const ringing = await started({ phoneNumber: PHONE }, 'small');
      expect((await start({ phoneNumber: PHONE }, 'small')).status).toBe(400);
      expect((await stop(ringing, 'small')).status).toBe(200);
      expect((await start({ phoneNumber: PHONE }, 'small')).status).toBe(200);
    });
  });

  describe('destination scenarios (the ones transfers use)', () => {
    it('answer with hangUpAfterMs: the dialed party leaves the room and dialout.stopped follows', async () => {
      sandbox.setScenario(SIP, { kind: 'answer', afterMs: 5, hangUpAfterMs: 10 });
      const sessionId = await started({ sipUri: SIP });
      await sandbox.idle();
      expect(since().map((e) => e.type)).toEqual([
        'dialout.connected',
        'dialout.answered',
        'participant.joined',
        'participant.left',
        'dialout.stopped',
      ]);
      expect(stateOf(sessionId)).toBe('stopped');
      expect(sandbox.participant('d', sessionId)?.state).toBe('ended');
    });

    it('busy: refused before it rang, dialout.stopped without connected', async () => {
      sandbox.setScenario(PHONE, { kind: 'busy', afterMs: 5 });
      const sessionId = await started({ phoneNumber: PHONE });
      await sandbox.idle();
      expect(since().map((e) => e.type)).toEqual(['dialout.stopped']);
      expect(stateOf(sessionId)).toBe('stopped');
    });

    it('reject: rang, then declined: connected, then stopped', async () => {
      sandbox.setScenario(PHONE, { kind: 'reject', afterMs: 5 });
      const sessionId = await started({ phoneNumber: PHONE });
      await sandbox.idle();
      expect(since().map((e) => e.type)).toEqual(['dialout.connected', 'dialout.stopped']);
      expect(stateOf(sessionId)).toBe('stopped');
    });

    it("error: dialout.error with exactly Daily's error payload, nothing after it", async () => {
      sandbox.setScenario(PHONE, { kind: 'error', afterMs: 5, errorMsg: 'SDP negotiation failed' });
      const sessionId = await started({ phoneNumber: PHONE, userId: 'u1' });
      await sandbox.idle();
      const events = since();
      expect(events.map((e) => e.type)).toEqual(['dialout.error']);
      expect(events[0]?.payload).toEqual({
        timestamp: expect.stringMatching(/^\d+$/),
        session_id: sessionId,
        user_id: 'u1',
        domain_id: expect.any(String),
        room: 'd',
        error_msg: 'SDP negotiation failed',
      });
      expect(stateOf(sessionId)).toBe('error');
      expect((await stop(sessionId)).body).toEqual({ error: 'not-found', info: 'No dialout to stop' });
    });

    it('a scenario set for a SIP URI applies when the dial-out adds header parameters to it', async () => {
      sandbox.setScenario(SIP, { kind: 'busy', afterMs: 5 });
      const sessionId = await started({ sipUri: `${SIP}?X-Ticket=1` });
      await sandbox.idle();
      expect(stateOf(sessionId)).toBe('stopped');
    });

    it("error on a transfer: completed 'failed' (extended model), the leg parked like after busy", async () => {
      sandbox.setModel({ completedStatus: 'extended' });
      sandbox.setScenario(PHONE, { kind: 'error', afterMs: 5 });
      await api(sandbox, 'POST', '/rooms/d/sipCallTransfer', { sessionId: caller, toEndPoint: PHONE });
      await sandbox.idle();
      expect(since().at(-1)).toMatchObject({ type: 'calltransfer.completed', payload: { completeStatus: 'failed' } });
      expect(sandbox.participant('d', caller)?.state).toBe('parked');
    });
  });

  describe('dialOut/stop', () => {
    it('stops a ringing dial-out: dialout.stopped, state stopped; a second stop is 404 "No dialout to stop"', async () => {
      const sessionId = await started({ phoneNumber: PHONE });
      await waitFor(() => sandbox.emittedEvents().some((e) => e.type === 'dialout.connected'), 'the ring');
      const res = await stop(sessionId);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: true });
      await sandbox.idle();
      expect(since().map((e) => e.type)).toEqual(['dialout.connected', 'dialout.stopped']);
      expect(sandbox.dialOuts({ state: 'ringing' })).toEqual([]);
      const again = await stop(sessionId);
      expect(again.status).toBe(404);
      expect(again.body).toEqual({ error: 'not-found', info: 'No dialout to stop' });
    });

    it('stops a dial-out whose outcome is still pending: only dialout.stopped, the busy never comes', async () => {
      sandbox.setScenario(PHONE, { kind: 'busy', afterMs: 500 });
      const sessionId = await started({ phoneNumber: PHONE });
      expect((await stop(sessionId)).status).toBe(200);
      await sandbox.idle();
      expect(since().map((e) => e.type)).toEqual(['dialout.stopped']);
    });

    it('hangs up an answered dial-out: it leaves the room', async () => {
      const sessionId = await started({ sipUri: SIP });
      await waitFor(() => stateOf(sessionId) === 'answered', 'the answer');
      expect((await stop(sessionId)).status).toBe(200);
      await sandbox.idle();
      expect(
        since()
          .slice(-2)
          .map((e) => e.type)
      ).toEqual(['participant.left', 'dialout.stopped']);
      expect(stateOf(sessionId)).toBe('stopped');
    });

    it("an answered dial-out that was transferred on is no longer the room's to stop", async () => {
      const sessionId = await started({ sipUri: SIP });
      await waitFor(() => stateOf(sessionId) === 'answered', 'the answer');
      sandbox.setScenario('+15559990000', { kind: 'answer', afterMs: 5 });
      await api(sandbox, 'POST', '/rooms/d/sipCallTransfer', { sessionId, toEndPoint: '+15559990000' });
      await waitFor(() => sandbox.participant('d', sessionId)?.state === 'transferred', 'the transfer');
      expect((await stop(sessionId)).body).toEqual({ error: 'not-found', info: 'No dialout to stop' });
      expect(stateOf(sessionId)).toBe('answered');
    });

    it('404 "No dialout to stop" for a dial-in session or an unknown id; 400 when the room is not in SFU mode', async () => {
      expect((await stop(caller)).body).toEqual({ error: 'not-found', info: 'No dialout to stop' });
      expect((await stop('no-such-session')).status).toBe(404);
      const sessionId = await started({ phoneNumber: PHONE });
      sandbox.createRoom('d', { sfu: false });
      expect((await stop(sessionId)).body).toEqual({ error: 'invalid-request-error', info: 'Room not in SFU mode' });
      expect(stateOf(sessionId)).toBe('ringing');
    });

    it('a caller who hangs up does not end the dial-outs: they ring on and can still be stopped', async () => {
      const sessionId = await started({ phoneNumber: PHONE });
      await api(sandbox, 'POST', '/rooms/d/eject', { ids: [caller] });
      await sandbox.idle();
      expect(stateOf(sessionId)).toBe('ringing');
      expect((await stop(sessionId)).status).toBe(200);
      expect((await stop(sessionId)).body).toEqual({ error: 'not-found', info: 'Room is not hosting a call' });
    });

    it('an answered dial-out ends with its leg: ejected or failed, it is stopped', async () => {
      const ejected = await started({ sipUri: SIP, userId: 'ejected' });
      const failed = await started({ sipUri: SIP, userId: 'failed' });
      await waitFor(() => sandbox.dialOuts({ state: 'answered' }).length === 2, 'both answers');
      await api(sandbox, 'POST', '/rooms/d/eject', { ids: [ejected] });
      sandbox.failCaller('d', failed, { errorMsg: 'media timeout' });
      expect(sandbox.dialOuts({ state: 'stopped' }).map((d) => d.sessionId)).toEqual([ejected, failed]);
      expect(sandbox.emittedEvents().find((e) => e.type === 'dialout.error')?.payload).toMatchObject({
        session_id: failed,
        user_id: 'failed',
        error_msg: 'media timeout',
      });
    });
  });

  describe('dialOut/sendDTMF', () => {
    it('reaches an answered dial-out or a caller in the room; 404 "No session running" for a ringing one', async () => {
      const answered = await started({ sipUri: SIP });
      const ringing = await started({ phoneNumber: PHONE });
      await waitFor(() => stateOf(answered) === 'answered', 'the answer');
      const dtmf = (sessionId: string, tones = '12#'): Promise<ApiResponse> =>
        api(sandbox, 'POST', '/rooms/d/dialOut/sendDTMF', { sessionId, tones });
      expect((await dtmf(answered)).body).toEqual({ ok: true });
      expect((await dtmf(caller)).status).toBe(200);
      expect((await dtmf(ringing)).body).toEqual({ error: 'not-found', info: 'No session running' });
      expect((await dtmf(answered, '12x')).body).toEqual({
        error: 'invalid-request-error',
        info: 'tones: must be DTMF tones: 0-9, *, #, A-D',
      });
      expect(sandbox.requests({ path: 'dialOut/sendDTMF' }).map((r) => r.status)).toEqual([200, 200, 404, 400]);
    });
  });

  describe('faults', () => {
    it('rate-limit on dialOut/start: 429 with Retry-After, nothing dialed', async () => {
      sandbox.queueFault({ path: 'dialOut/start' }, { kind: 'rate-limit', retryAfterSec: 1 });
      const res = await start({ phoneNumber: PHONE });
      expect(res.status).toBe(429);
      expect(res.body.error).toBe('rate-limit-error');
      expect(res.headers.get('retry-after')).toBe('1');
      expect(sandbox.dialOuts()).toEqual([]);
      expect(sandbox.requests({ path: 'dialOut/start' })).toEqual([
        expect.objectContaining({ status: 429, faulted: 'rate-limit' }),
      ]);
    });

    it('a fault for one destination (a SIP URI matched without its headers) passes the others by', async () => {
      sandbox.queueFault({ path: 'dialOut/start', toEndPoint: SIP }, { kind: 'server-error', status: 503 });
      expect((await start({ phoneNumber: PHONE })).status).toBe(200);
      expect((await start({ sipUri: `${SIP}?X-Ticket=9` })).status).toBe(503);
      expect((await start({ sipUri: SIP })).status).toBe(200);
    });

    it('dialout-already-started: 400 "dialOut already started", nothing dialed', async () => {
      sandbox.queueFault({ path: 'dialOut/start' }, { kind: 'dialout-already-started' });
      const res = await start({ phoneNumber: PHONE });
      expect(res.body).toEqual({ error: 'invalid-request-error', info: 'dialOut already started' });
      expect(sandbox.dialOuts()).toEqual([]);
    });

    it('lost-response on dialOut/start: the caller learns nothing, yet the destination rings', async () => {
      sandbox.queueFault({ path: 'dialOut/start' }, { kind: 'lost-response' });
      await expect(start({ phoneNumber: PHONE })).rejects.toThrow('fetch failed');
      expect(sandbox.dialOuts({ state: 'ringing' })).toHaveLength(1);
    });

    it('faults on dialOut/stop: a 5xx leaves the dial-out ringing', async () => {
      const sessionId = await started({ phoneNumber: PHONE });
      sandbox.queueFault({ path: 'dialOut/stop' }, { kind: 'server-error' });
      expect((await stop(sessionId)).status).toBe(500);
      expect(stateOf(sessionId)).toBe('ringing');
    });
  });

  it('control API: GET /_sandbox/dialouts filters by room and state; a bad state is a 400', async () => {
    const control = new SandboxControl(sandbox.url);
    try {
      sandbox.createRoom('other');
      sandbox.addCaller('other');
      const here = await started({ phoneNumber: PHONE });
      const there = await started({ phoneNumber: PHONE }, 'other');
      await stop(there, 'other');
      expect((await control.dialOuts({ state: 'ringing' })).map((d) => d.sessionId)).toEqual([here]);
      expect((await control.dialOuts({ room: 'other' })).map((d) => [d.sessionId, d.state])).toEqual([
        [there, 'stopped'],
      ]);
      const bad = await fetch(`${sandbox.url}/_sandbox/dialouts?state=dialing`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { info: string }).info).toContain('state');
    } finally {
      await control.close();
    }
  });
});
