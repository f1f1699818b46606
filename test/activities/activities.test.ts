/** The activities, run in Temporal's mock activity context against the sandbox over real HTTP. */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { inspect } from 'node:util';
import { createActivities, type Activities, type DialOutRequest, type TransferRequest } from '../../src/activities';
import { DailyClient } from '../../src/daily';
import { FailureTypes } from '../../src/shared';
import { startSandbox, type Sandbox } from '../../src/sandbox';

const API_KEY = 'activities-test-key-5b1e';

describe('activities', () => {
  let sandbox: Sandbox;
  let daily: DailyClient;
  let activities: Activities;
  let env: MockActivityEnvironment;
  let counter = 0;

  const callerInRoom = (opts?: { sfu?: boolean }): { room: string; sessionId: string; sipUri: string } => {
    const { name, sipUri } = sandbox.createRoom(`act-room-${++counter}`, opts);
    return { room: name, sipUri, sessionId: sandbox.addCaller(name).sessionId };
  };

  /** The ApplicationFailure an activity threw. */
  async function failureOf(run: Promise<unknown>): Promise<ApplicationFailure> {
    const err = await run.then(
      () => undefined,
      (e: unknown) => e
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(inspect(failure, { showHidden: true, depth: null })).not.toContain(API_KEY);
    expect(JSON.stringify(failure.details)).not.toContain(API_KEY);
    return failure;
  }

  const requestTransfer = (req: TransferRequest, using: Activities = activities): Promise<void> =>
    env.run(using.requestTransfer, req);
  const startDialOut = (req: DialOutRequest): Promise<{ sessionId: string }> =>
    env.run(activities.startDialOut, req) as Promise<{ sessionId: string }>;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, apiKey: API_KEY });
    daily = new DailyClient({ apiKey: API_KEY, baseUrl: sandbox.apiBase, requestTimeoutMs: 2_000 });
    activities = createActivities({ daily });
  });

  beforeEach(() => {
    // Failing activities are the point of most tests here: keep the worker's "Activity failed" warnings out.
    env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
  });

  afterEach(() => sandbox.reset());

  afterAll(async () => {
    await daily.close();
    await sandbox.close();
  });

  it('names the activities readably', () => {
    expect(Object.keys(activities).sort()).toEqual([
      'getRoomSipUri',
      'hangUp',
      'isSessionInRoom',
      'requestTransfer',
      'startDialOut',
      'stopDialOut',
    ]);
  });

  describe('requestTransfer', () => {
    it('sends one sipCallTransfer with the PSTN options', async () => {
      const { room, sessionId } = callerInRoom();
      await requestTransfer({
        room,
        sessionId,
        method: 'sipCallTransfer',
        toEndPoint: '+15551230000',
        callerId: 'number-id',
        extension: '42',
        waitBeforeExtensionDialSec: 1,
      });
      expect(sandbox.requests({ path: 'sipCallTransfer' }).map((r) => r.body)).toEqual([
        {
          sessionId,
          toEndPoint: '+15551230000',
          callerId: 'number-id',
          extension: '42',
          waitBeforeExtensionDialSec: 1,
        },
      ]);
    });

    it('sends only sessionId and toEndPoint for sipRefer', async () => {
      const { room, sessionId } = callerInRoom();
      // The sandbox rejects extension/callerId for a SIP destination, so success also proves they were not sent.
      await requestTransfer({
        room,
        sessionId,
        method: 'sipRefer',
        toEndPoint: 'sip:ivr@pbx.example.com',
        callerId: 'number-id',
        extension: '42',
      });
      expect(sandbox.requests({ path: 'sipRefer' }).map((r) => r.body)).toEqual([
        { sessionId, toEndPoint: 'sip:ivr@pbx.example.com' },
      ]);
      expect(sandbox.requests({ path: 'sipCallTransfer' })).toHaveLength(0);
    });

    it('passes Retry-After on as nextRetryDelay and in the details (for the workflow), and lets Temporal retry a 429', async () => {
      const { room, sessionId } = callerInRoom();
      sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit', retryAfterSec: 2 });
      const failure = await failureOf(
        requestTransfer({ room, sessionId, method: 'sipCallTransfer', toEndPoint: 'sip:a@b.c' })
      );
      expect(failure.type).toBe(FailureTypes.rateLimited);
      expect(failure.nonRetryable).toBe(false);
      expect(failure.nextRetryDelay).toBe(2000);
      expect(failure.details).toEqual([
        { status: 429, code: 'rate-limit-error', info: 'Too many requests', retryAfterMs: 2000 },
      ]);
    });

    it('leaves the backoff to the retry policy when a 429 has no Retry-After', async () => {
      const { room, sessionId } = callerInRoom();
      sandbox.queueFault({ path: 'sipRefer' }, { kind: 'rate-limit' });
      const failure = await failureOf(
        requestTransfer({ room, sessionId, method: 'sipRefer', toEndPoint: 'sip:a@b.c' })
      );
      expect(failure.type).toBe(FailureTypes.rateLimited);
      expect(failure.nonRetryable).toBe(false);
      expect(failure.nextRetryDelay).toBeUndefined();
    });

    it('never lets Temporal repeat a transfer whose outcome is unknown', async () => {
      const { room, sessionId } = callerInRoom();
      sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'lost-response' });
      const failure = await failureOf(
        requestTransfer({ room, sessionId, method: 'sipCallTransfer', toEndPoint: 'sip:a@b.c' })
      );
      expect(failure.type).toBe(FailureTypes.outcomeUnknown);
      expect(failure.nonRetryable).toBe(true);
      expect(sandbox.requests({ path: 'sipCallTransfer' })).toMatchObject([{ status: 200, faulted: 'lost-response' }]);
    });

    it('does not retry a transfer after a 5xx either: the workflow reconciles', async () => {
      const { room, sessionId } = callerInRoom();
      sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'server-error', status: 502 });
      const failure = await failureOf(
        requestTransfer({ room, sessionId, method: 'sipCallTransfer', toEndPoint: 'sip:a@b.c' })
      );
      expect(failure.type).toBe(FailureTypes.serverError);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.details).toEqual([{ status: 502, code: 'server-error', info: 'sandbox: injected server error' }]);
    });

    it.each([
      ['not hosting a call', FailureTypes.roomNotHostingCall],
      ['invalid session', FailureTypes.invalidSession],
      ['not SFU', FailureTypes.roomNotSfu],
      ['call closed', FailureTypes.callClosed],
      ['bad destination', FailureTypes.badRequest],
    ])('fails for good on %s', async (label, type) => {
      let { room, sessionId } = callerInRoom(label === 'not SFU' ? { sfu: false } : undefined);
      let toEndPoint = 'sip:a@b.c';
      if (label === 'not hosting a call') room = sandbox.createRoom(`act-empty-${++counter}`).name;
      if (label === 'invalid session') sessionId = 'no-such-session';
      if (label === 'call closed') sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'call-closed' });
      if (label === 'bad destination') toEndPoint = 'not-a-destination';
      const failure = await failureOf(requestTransfer({ room, sessionId, method: 'sipCallTransfer', toEndPoint }));
      expect(failure.type).toBe(type);
      expect(failure.nonRetryable).toBe(true);
    });

    it('reports a wrong API key as a non-retryable auth failure without the key', async () => {
      const wrong = new DailyClient({ apiKey: `${API_KEY}-wrong`, baseUrl: sandbox.apiBase });
      try {
        const { room, sessionId } = callerInRoom();
        const failure = await failureOf(
          requestTransfer(
            { room, sessionId, method: 'sipRefer', toEndPoint: 'sip:a@b.c' },
            createActivities({ daily: wrong })
          )
        );
        expect(failure.type).toBe(FailureTypes.auth);
        expect(failure.nonRetryable).toBe(true);
      } finally {
        await wrong.close();
      }
    });

    it('lets Temporal retry a request that never reached Daily', async () => {
      const gone = await startSandbox({ port: 0, apiKey: API_KEY });
      await gone.close();
      const unreachable = new DailyClient({ apiKey: API_KEY, baseUrl: gone.apiBase });
      try {
        const failure = await failureOf(
          requestTransfer(
            { room: 'r', sessionId: 's', method: 'sipCallTransfer', toEndPoint: 'sip:a@b.c' },
            createActivities({ daily: unreachable })
          )
        );
        expect(failure.type).toBe(FailureTypes.networkError);
        expect(failure.nonRetryable).toBe(false);
      } finally {
        await unreachable.close();
      }
    });
  });

  describe('isSessionInRoom', () => {
    it('reads presence', async () => {
      const { room, sessionId } = callerInRoom();
      await expect(env.run(activities.isSessionInRoom, { room, sessionId })).resolves.toBe(true);
      await expect(env.run(activities.isSessionInRoom, { room, sessionId: 'someone-else' })).resolves.toBe(false);
    });

    it('lets Temporal retry a read whose response was lost or failed', async () => {
      const { room, sessionId } = callerInRoom();
      sandbox.queueFault({ path: 'presence' }, { kind: 'lost-response' });
      sandbox.queueFault({ path: 'presence' }, { kind: 'server-error' });
      const lost = await failureOf(env.run(activities.isSessionInRoom, { room, sessionId }));
      expect(lost.type).toBe(FailureTypes.outcomeUnknown);
      expect(lost.nonRetryable).toBe(false);
      const failed = await failureOf(env.run(activities.isSessionInRoom, { room, sessionId }));
      expect(failed.type).toBe(FailureTypes.serverError);
      expect(failed.nonRetryable).toBe(false);
    });

    it('fails for good on an unknown room', async () => {
      const failure = await failureOf(env.run(activities.isSessionInRoom, { room: 'no-such-room', sessionId: 's' }));
      expect(failure.type).toBe(FailureTypes.notFound);
      expect(failure.nonRetryable).toBe(true);
    });
  });

  describe('getRoomSipUri', () => {
    it("returns the room's SIP URI", async () => {
      const { room, sipUri } = callerInRoom();
      await expect(env.run(activities.getRoomSipUri, room)).resolves.toBe(sipUri);
    });

    it('fails for good on an unknown room', async () => {
      const failure = await failureOf(env.run(activities.getRoomSipUri, 'no-such-room'));
      expect(failure.type).toBe(FailureTypes.notFound);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.details).toEqual([{ status: 404, code: 'not-found', info: 'room no-such-room not found' }]);
    });
  });

  describe('hangUp', () => {
    it('ejects the session', async () => {
      const { room, sessionId } = callerInRoom();
      await env.run(activities.hangUp, { room, sessionId });
      expect(sandbox.requests({ path: 'eject' }).map((r) => r.body)).toEqual([{ ids: [sessionId] }]);
      await expect(env.run(activities.isSessionInRoom, { room, sessionId })).resolves.toBe(false);
    });

    it('lets Temporal retry an eject on 429 with its Retry-After', async () => {
      const { room, sessionId } = callerInRoom();
      sandbox.queueFault({ path: 'eject' }, { kind: 'rate-limit', retryAfterSec: 1 });
      const failure = await failureOf(env.run(activities.hangUp, { room, sessionId }));
      expect(failure.type).toBe(FailureTypes.rateLimited);
      expect(failure.nonRetryable).toBe(false);
      expect(failure.nextRetryDelay).toBe(1000);
    });
  });

  describe('startDialOut', () => {
    it('sends one dialOut/start for a SIP destination with its headers and returns the session id', async () => {
      const { room } = callerInRoom();
      sandbox.setScenario('sip:agent@pbx.example.com', { kind: 'no-answer' });
      const { sessionId } = await startDialOut({
        room,
        toEndPoint: 'sip:agent@pbx.example.com',
        userId: 'wf-1-leg-2',
        sipHeaders: { 'X-Ticket': 'T-9' },
      });
      expect(sandbox.requests({ path: 'dialOut/start' }).map((r) => r.body)).toEqual([
        { sipUri: 'sip:agent@pbx.example.com?X-Ticket=T-9', userId: 'wf-1-leg-2' },
      ]);
      expect(sandbox.dialOuts().map((d) => [d.sessionId, d.state])).toEqual([[sessionId, 'ringing']]);
    });

    it('dials a phone number with its extension and caller id', async () => {
      const { room } = callerInRoom();
      await startDialOut({
        room,
        toEndPoint: '+15551230000',
        callerId: 'number-id',
        extension: '7',
        waitBeforeExtensionDialSec: 1,
      });
      expect(sandbox.requests({ path: 'dialOut/start' }).map((r) => r.body)).toEqual([
        { phoneNumber: '+15551230000', callerId: 'number-id', extension: '7', waitBeforeExtensionDialSec: 1 },
      ]);
    });

    it.each([
      ['sipHeaders for a phone number', { toEndPoint: '+15551230000', sipHeaders: { 'X-Ticket': '1' } }, 'sipHeaders'],
      ['an extension for a SIP URI', { toEndPoint: 'sip:a@b.c', extension: '1' }, 'extension'],
    ] as const)('refuses %s before sending anything', async (_label, fields, field) => {
      const { room } = callerInRoom();
      const failure = await failureOf(env.run(activities.startDialOut, { room, ...fields }));
      expect(failure.type).toBe(FailureTypes.invalidInput);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.details).toEqual([{ field }]);
      expect(sandbox.requests({ path: 'dialOut/start' })).toEqual([]);
    });

    it('never lets Temporal repeat a start whose reply was lost or failed: the leg may be ringing', async () => {
      const { room } = callerInRoom();
      sandbox.setScenario('+15551230000', { kind: 'no-answer' });
      sandbox.queueFault({ path: 'dialOut/start' }, { kind: 'lost-response' });
      sandbox.queueFault({ path: 'dialOut/start' }, { kind: 'server-error', status: 502 });
      const lost = await failureOf(env.run(activities.startDialOut, { room, toEndPoint: '+15551230000' }));
      expect(lost.type).toBe(FailureTypes.outcomeUnknown);
      expect(lost.nonRetryable).toBe(true);
      const failed = await failureOf(env.run(activities.startDialOut, { room, toEndPoint: '+15551230000' }));
      expect(failed.type).toBe(FailureTypes.serverError);
      expect(failed.nonRetryable).toBe(true);
      expect(sandbox.dialOuts().map((d) => d.state)).toEqual(['ringing']);
    });

    it('lets Temporal retry a rate-limited start after its Retry-After', async () => {
      const { room } = callerInRoom();
      sandbox.queueFault({ path: 'dialOut/start' }, { kind: 'rate-limit', retryAfterSec: 1 });
      const failure = await failureOf(env.run(activities.startDialOut, { room, toEndPoint: '+15551230000' }));
      expect(failure.type).toBe(FailureTypes.rateLimited);
      expect(failure.nonRetryable).toBe(false);
      expect(failure.nextRetryDelay).toBe(1000);
    });

    it('fails for good when the room has reached its SIP/PSTN session limit', async () => {
      const room = sandbox.createRoom(`act-full-${++counter}`, { maxSipPstnSessions: 1 }).name;
      sandbox.addCaller(room);
      const failure = await failureOf(env.run(activities.startDialOut, { room, toEndPoint: '+15551230000' }));
      expect(failure.type).toBe(FailureTypes.badRequest);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toContain('max_sip_pstn_sessions_per_room');
    });
  });

  describe('stopDialOut', () => {
    it("stops a ringing leg ('stopped'), then reports it as 'not-running' when asked again", async () => {
      const { room } = callerInRoom();
      sandbox.setScenario('+15551230000', { kind: 'no-answer' });
      const { sessionId } = await startDialOut({ room, toEndPoint: '+15551230000' });
      await expect(env.run(activities.stopDialOut, { room, sessionId })).resolves.toBe('stopped');
      await expect(env.run(activities.stopDialOut, { room, sessionId })).resolves.toBe('not-running');
      expect(sandbox.dialOuts().map((d) => d.state)).toEqual(['stopped']);
      expect(sandbox.requests({ path: 'dialOut/stop' }).map((r) => r.status)).toEqual([200, 404]);
    });

    it("reports 'not-running' when the room has no call any more", async () => {
      const room = sandbox.createRoom(`act-empty-${++counter}`).name;
      await expect(env.run(activities.stopDialOut, { room, sessionId: 'gone' })).resolves.toBe('not-running');
    });

    it('lets Temporal retry a stop whose reply was lost: stopping again is harmless', async () => {
      const { room } = callerInRoom();
      const { sessionId } = await startDialOut({ room, toEndPoint: '+15551230000' });
      sandbox.queueFault({ path: 'dialOut/stop' }, { kind: 'lost-response' });
      const failure = await failureOf(env.run(activities.stopDialOut, { room, sessionId }));
      expect(failure.type).toBe(FailureTypes.outcomeUnknown);
      expect(failure.nonRetryable).toBe(false);
      // The lost request did stop it; the retry learns that.
      await expect(env.run(activities.stopDialOut, { room, sessionId })).resolves.toBe('not-running');
    });

    it('fails for good in a room that is not in SFU mode', async () => {
      const { room } = callerInRoom();
      const { sessionId } = await startDialOut({ room, toEndPoint: '+15551230000' });
      sandbox.createRoom(room, { sfu: false });
      const failure = await failureOf(env.run(activities.stopDialOut, { room, sessionId }));
      expect(failure.type).toBe(FailureTypes.roomNotSfu);
      expect(failure.nonRetryable).toBe(true);
    });
  });

  it('passes through errors that are not Daily errors', async () => {
    const broken = createActivities({
      daily: {
        sipCallTransfer: () => Promise.reject(new TypeError('bug')),
        sipRefer: () => Promise.reject(new TypeError('bug')),
        getRoomPresence: () => Promise.reject(new TypeError('bug')),
        getRoomSipUri: () => Promise.reject(new TypeError('bug')),
        ejectParticipants: () => Promise.reject(new TypeError('bug')),
        startDialOut: () => Promise.reject(new TypeError('bug')),
        stopDialOut: () => Promise.reject(new TypeError('bug')),
      },
    });
    await expect(env.run(broken.getRoomSipUri, 'r')).rejects.toThrow(TypeError);
    await expect(env.run(broken.stopDialOut, { room: 'r', sessionId: 's' })).rejects.toThrow(TypeError);
  });
});
