/** The client against the sandbox (the local stand-in for Daily), over real HTTP. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DailyAuthError,
  DailyBadRequestError,
  DailyCallClosedError,
  DailyClient,
  DailyDialOutAlreadyStartedError,
  DailyDialOutNotRunningError,
  DailyInvalidSessionError,
  DailyNetworkError,
  DailyNotFoundError,
  DailyOutcomeUnknownError,
  DailyRateLimitedError,
  DailyRoomNotHostingCallError,
  DailyRoomNotSfuError,
  DailyServerError,
  DailySessionLimitError,
} from '../../src/daily';
import { startSandbox, type Sandbox } from '../../src/sandbox';

const API_KEY = 'client-sandbox-test-key';

describe('DailyClient against the sandbox', () => {
  let sandbox: Sandbox;
  let daily: DailyClient;
  let counter = 0;
  /** A fresh room with one caller in it. */
  const callerInRoom = (opts?: { sfu?: boolean }): { room: string; sessionId: string; sipUri: string } => {
    const { name, sipUri } = sandbox.createRoom(`room-${++counter}`, opts);
    const { sessionId } = sandbox.addCaller(name);
    return { room: name, sessionId, sipUri };
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, apiKey: API_KEY });
    daily = new DailyClient({ apiKey: API_KEY, baseUrl: sandbox.apiBase, requestTimeoutMs: 2_000 });
  });

  afterAll(async () => {
    await daily.close();
    await sandbox.close();
  });

  afterEach(() => sandbox.reset());

  describe('transfers', () => {
    it('sends exactly one sipCallTransfer with the optional PSTN fields', async () => {
      const { room, sessionId } = callerInRoom();
      await daily.sipCallTransfer(room, {
        sessionId,
        toEndPoint: '+15551230000',
        callerId: 'purchased-number-id',
        extension: '1234',
        waitBeforeExtensionDialSec: 2,
      });
      const sent = sandbox.requests({ path: 'sipCallTransfer' });
      expect(sent).toHaveLength(1);
      expect(sent[0]?.body).toEqual({
        sessionId,
        toEndPoint: '+15551230000',
        callerId: 'purchased-number-id',
        extension: '1234',
        waitBeforeExtensionDialSec: 2,
      });
    });

    it('accepts {"ok": "true"} as Daily documents it', async () => {
      sandbox.setModel({ okAsString: true });
      try {
        const { room, sessionId } = callerInRoom();
        await expect(daily.sipCallTransfer(room, { sessionId, toEndPoint: 'sip:a@example.com' })).resolves.toBe(
          undefined
        );
      } finally {
        sandbox.setModel({ okAsString: false });
      }
    });

    it('sends a REFER with sessionId and toEndPoint', async () => {
      const { room, sessionId } = callerInRoom();
      await daily.sipRefer(room, { sessionId, toEndPoint: 'sip:ivr@pbx.example.com' });
      expect(sandbox.requests({ path: 'sipRefer' }).map((r) => r.body)).toEqual([
        { sessionId, toEndPoint: 'sip:ivr@pbx.example.com' },
      ]);
    });

    it.each([
      ['no call in the room', DailyRoomNotHostingCallError, 404],
      ['unknown session', DailyInvalidSessionError, 404],
      ['room not in SFU mode', DailyRoomNotSfuError, 400],
    ] as const)('types the documented error: %s', async (label, type, status) => {
      const { room, sessionId } =
        label === 'no call in the room'
          ? { room: sandbox.createRoom(`empty-${++counter}`).name, sessionId: 'nobody' }
          : label === 'unknown session'
            ? { ...callerInRoom(), sessionId: 'not-a-session' }
            : callerInRoom({ sfu: false });
      const err = await daily.sipCallTransfer(room, { sessionId, toEndPoint: 'sip:a@example.com' }).catch((e) => e);
      expect(err).toBeInstanceOf(type);
      expect(err).toMatchObject({ status, retryable: false, endpoint: `POST /rooms/${room}/sipCallTransfer` });
    });

    it('types "call closed before command could be delivered"', async () => {
      const { room, sessionId } = callerInRoom();
      sandbox.queueFault({ path: 'sipRefer' }, { kind: 'call-closed' });
      const err = await daily.sipRefer(room, { sessionId, toEndPoint: 'sip:a@example.com' }).catch((e) => e);
      expect(err).toBeInstanceOf(DailyCallClosedError);
    });

    it('reports a validation error as a bad request, with Daily info', async () => {
      const { room, sessionId } = callerInRoom();
      const err = await daily.sipRefer(room, { sessionId, toEndPoint: '+15551230000' }).catch((e) => e);
      expect(err).toBeInstanceOf(DailyBadRequestError);
      expect(err).toMatchObject({ status: 400, code: 'invalid-request-error', info: expect.stringContaining('sip:') });
    });
  });

  describe('dial-out', () => {
    it('startDialOut sends one dialOut/start, with SIP headers as X- parameters, and returns the leg it rang', async () => {
      const { room } = callerInRoom();
      sandbox.setScenario('sip:agent@pbx.example.com', { kind: 'no-answer' });
      const { sessionId } = await daily.startDialOut(room, {
        sipUri: 'sip:agent@pbx.example.com',
        sipHeaders: { 'X-Ticket': 'T 42', 'X-Queue': 'billing' },
        userId: 'transfer-1-leg-1',
        displayName: 'Agent',
      });
      expect(sandbox.requests({ path: 'dialOut/start' }).map((r) => r.body)).toEqual([
        {
          sipUri: 'sip:agent@pbx.example.com?X-Ticket=T%2042&X-Queue=billing',
          userId: 'transfer-1-leg-1',
          displayName: 'Agent',
        },
      ]);
      expect(sandbox.dialOuts()).toEqual([
        expect.objectContaining({ sessionId, room, userId: 'transfer-1-leg-1', state: 'ringing' }),
      ]);
    });

    it('startDialOut dials a phone number with its extension', async () => {
      const { room } = callerInRoom();
      await daily.startDialOut(room, { phoneNumber: '+15551230000', extension: '42', callerId: 'number-id' });
      expect(sandbox.requests({ path: 'dialOut/start' }).map((r) => r.body)).toEqual([
        { phoneNumber: '+15551230000', extension: '42', callerId: 'number-id' },
      ]);
    });

    it('stopDialOut stops the leg; a second stop is typed as not running', async () => {
      const { room } = callerInRoom();
      sandbox.setScenario('+15551230000', { kind: 'no-answer' });
      const { sessionId } = await daily.startDialOut(room, { phoneNumber: '+15551230000' });
      await daily.stopDialOut(room, sessionId);
      expect(sandbox.dialOuts().map((d) => d.state)).toEqual(['stopped']);
      const again = await daily.stopDialOut(room, sessionId).catch((e) => e);
      expect(again).toBeInstanceOf(DailyDialOutNotRunningError);
      expect(again).toMatchObject({ status: 404, info: 'No dialout to stop', retryable: false });
    });

    it.each([
      ['no call in the room', DailyRoomNotHostingCallError],
      ['session limit', DailySessionLimitError],
      ['already started', DailyDialOutAlreadyStartedError],
      ['bad destination', DailyBadRequestError],
    ] as const)('types the error for %s, and nothing rings', async (label, type) => {
      const room =
        label === 'no call in the room'
          ? sandbox.createRoom(`empty-${++counter}`).name
          : label === 'session limit'
            ? sandbox.createRoom(`full-${++counter}`, { maxSipPstnSessions: 1 }).name
            : callerInRoom().room;
      if (label === 'session limit') sandbox.addCaller(room);
      if (label === 'already started')
        sandbox.queueFault({ path: 'dialOut/start' }, { kind: 'dialout-already-started' });
      const phoneNumber = label === 'bad destination' ? '555-1234' : '+15551230000';
      const err = await daily.startDialOut(room, { phoneNumber }).catch((e) => e);
      expect(err).toBeInstanceOf(type);
      expect(err).toMatchObject({ retryable: false, endpoint: `POST /rooms/${room}/dialOut/start` });
      expect(sandbox.dialOuts()).toEqual([]);
    });

    it('reports a rate-limited start as retryable with Retry-After, and a lost reply as outcome unknown though it rings', async () => {
      const { room } = callerInRoom();
      sandbox.setScenario('+15551230000', { kind: 'no-answer' });
      sandbox.queueFault({ path: 'dialOut/start' }, { kind: 'rate-limit', retryAfterSec: 2 });
      sandbox.queueFault({ path: 'dialOut/start' }, { kind: 'lost-response' });
      const limited = await daily.startDialOut(room, { phoneNumber: '+15551230000' }).catch((e) => e);
      expect(limited).toBeInstanceOf(DailyRateLimitedError);
      expect(limited).toMatchObject({ retryable: true, retryAfterMs: 2000 });
      expect(sandbox.dialOuts()).toEqual([]);
      const lost = await daily.startDialOut(room, { phoneNumber: '+15551230000' }).catch((e) => e);
      expect(lost).toBeInstanceOf(DailyOutcomeUnknownError);
      expect(lost).toMatchObject({ retryable: false });
      expect(sandbox.dialOuts().map((d) => d.state)).toEqual(['ringing']);
    });

    it('types a stop in a room not in SFU mode', async () => {
      const { room } = callerInRoom();
      const { sessionId } = await daily.startDialOut(room, { phoneNumber: '+15551230000' });
      sandbox.createRoom(room, { sfu: false });
      await expect(daily.stopDialOut(room, sessionId)).rejects.toBeInstanceOf(DailyRoomNotSfuError);
    });
  });

  describe('faults', () => {
    it('reports 5xx as a retryable server error', async () => {
      const { room, sessionId } = callerInRoom();
      sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'server-error', status: 503 });
      const err = await daily.sipCallTransfer(room, { sessionId, toEndPoint: 'sip:a@example.com' }).catch((e) => e);
      expect(err).toBeInstanceOf(DailyServerError);
      expect(err).toMatchObject({ status: 503, code: 'server-error', retryable: true });
    });

    it('reports 429 with Retry-After in ms, and without it as undefined', async () => {
      const { room, sessionId } = callerInRoom();
      sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit', retryAfterSec: 3 });
      sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit' });
      const request = { sessionId, toEndPoint: 'sip:a@example.com' };
      const first = await daily.sipCallTransfer(room, request).catch((e) => e);
      const second = await daily.sipCallTransfer(room, request).catch((e) => e);
      expect(first).toBeInstanceOf(DailyRateLimitedError);
      expect(first).toMatchObject({ status: 429, code: 'rate-limit-error', retryAfterMs: 3000, retryable: true });
      expect(second).toBeInstanceOf(DailyRateLimitedError);
      expect((second as DailyRateLimitedError).retryAfterMs).toBeUndefined();
    });

    it('reports a lost response as outcome unknown, although the transfer took effect', async () => {
      const { room, sessionId } = callerInRoom();
      sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'lost-response' });
      const err = await daily.sipCallTransfer(room, { sessionId, toEndPoint: 'sip:a@example.com' }).catch((e) => e);
      expect(err).toBeInstanceOf(DailyOutcomeUnknownError);
      expect(err).toMatchObject({ retryable: false, failureType: 'DailyOutcomeUnknown' });
      expect(sandbox.requests({ path: 'sipCallTransfer' })).toMatchObject([{ status: 200, faulted: 'lost-response' }]);
    });

    it('reports a response slower than the deadline as outcome unknown', async () => {
      const impatient = new DailyClient({ apiKey: API_KEY, baseUrl: sandbox.apiBase, requestTimeoutMs: 200 });
      try {
        const { room, sessionId } = callerInRoom();
        sandbox.queueFault({ path: 'sipRefer' }, { kind: 'latency', ms: 1_000 });
        const err = await impatient.sipRefer(room, { sessionId, toEndPoint: 'sip:a@example.com' }).catch((e) => e);
        expect(err).toBeInstanceOf(DailyOutcomeUnknownError);
        expect(sandbox.requests({ path: 'sipRefer' })).toHaveLength(1);
      } finally {
        await impatient.close();
      }
    });

    it('reports a wrong API key as an auth error', async () => {
      const wrong = new DailyClient({ apiKey: 'wrong-key', baseUrl: sandbox.apiBase });
      try {
        const err = await wrong.getRoomPresence('any').catch((e) => e);
        expect(err).toBeInstanceOf(DailyAuthError);
        expect(err).toMatchObject({ status: 401, code: 'authentication-error', retryable: false });
      } finally {
        await wrong.close();
      }
    });
  });

  describe('rooms and presence', () => {
    it('lists the session in presence until it is ejected', async () => {
      const { room, sessionId } = callerInRoom();
      expect((await daily.getRoomPresence(room)).map((p) => p.id)).toContain(sessionId);
      await daily.ejectParticipants(room, [sessionId]);
      expect(sandbox.requests({ path: 'eject' }).map((r) => r.body)).toEqual([{ ids: [sessionId] }]);
      expect((await daily.getRoomPresence(room)).map((p) => p.id)).not.toContain(sessionId);
    });

    it('reads the room and its SIP URI', async () => {
      const { room, sipUri } = callerInRoom();
      await expect(daily.getRoom(room)).resolves.toMatchObject({ name: room });
      await expect(daily.getRoomSipUri(room)).resolves.toBe(sipUri);
    });

    it('reports an unknown room as not found', async () => {
      await expect(daily.getRoomSipUri('no-such-room')).rejects.toBeInstanceOf(DailyNotFoundError);
      await expect(daily.getRoomPresence('no-such-room')).rejects.toBeInstanceOf(DailyNotFoundError);
    });
  });

  describe('webhooks', () => {
    let receiver: Server;
    let receiverUrl: string;

    beforeAll(async () => {
      receiver = createServer((req, res) => {
        req.resume();
        res.writeHead(200).end();
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/daily`;
    });

    afterAll(async () => {
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    });

    it('creates, lists, reads and updates a webhook', async () => {
      const created = await daily.createWebhook({
        url: receiverUrl,
        retryType: 'exponential',
        eventTypes: ['calltransfer.triggered', 'participant.left'],
        hmac: Buffer.from('secret').toString('base64'),
      });
      expect(created).toMatchObject({
        url: receiverUrl,
        retryType: 'exponential',
        eventTypes: ['calltransfer.triggered', 'participant.left'],
        state: 'ACTIVE',
      });
      expect((await daily.listWebhooks()).map((w) => w.uuid)).toContain(created.uuid);
      await expect(daily.getWebhook(created.uuid)).resolves.toMatchObject({ uuid: created.uuid });
      const updated = await daily.updateWebhook(created.uuid, { eventTypes: ['participant.left'] });
      expect(updated).toMatchObject({ uuid: created.uuid, eventTypes: ['participant.left'] });
    });

    it('reports a webhook whose URL fails verification as a bad request', async () => {
      const err = await daily.createWebhook({ url: 'http://127.0.0.1:1/unreachable' }).catch((e) => e);
      expect(err).toBeInstanceOf(DailyBadRequestError);
      expect(err).toMatchObject({ status: 400 });
    });
  });

  it('reports a sandbox that is gone as a retryable network error', async () => {
    const gone = await startSandbox({ port: 0, apiKey: API_KEY });
    await gone.close();
    const client = new DailyClient({ apiKey: API_KEY, baseUrl: gone.apiBase });
    try {
      const err = await client.getRoomPresence('r').catch((e) => e);
      expect(err).toBeInstanceOf(DailyNetworkError);
      expect(err).toMatchObject({ retryable: true });
    } finally {
      await client.close();
    }
  });
});
