import type { Sandbox } from '../../src/sandbox';
import { api, startTestSandbox, transfer, types } from './helpers';

describe('sandbox Daily REST API', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startTestSandbox({ apiKey: 'test-key' });
  });
  afterAll(() => sandbox.close());
  beforeEach(() => sandbox.reset());

  describe('auth', () => {
    it('rejects a missing or malformed Authorization header with 400 authorization-header-error', async () => {
      sandbox.createRoom('auth');
      const missing = await api(sandbox, 'GET', '/rooms/auth', undefined, {});
      expect(missing.status).toBe(400);
      expect(missing.body.error).toBe('authorization-header-error');
      const basic = await api(sandbox, 'GET', '/rooms/auth', undefined, { authorization: 'Basic dGVzdC1rZXk=' });
      expect(basic.status).toBe(400);
      expect(basic.body.error).toBe('authorization-header-error');
    });

    it('rejects a wrong key with 401 authentication-error, and records no Authorization header', async () => {
      sandbox.createRoom('auth');
      const wrong = await api(sandbox, 'GET', '/rooms/auth', undefined, { authorization: 'Bearer not-the-key' });
      expect(wrong.status).toBe(401);
      expect(wrong.body.error).toBe('authentication-error');
      const ok = await api(sandbox, 'GET', '/rooms/auth');
      expect(ok.status).toBe(200);

      const recorded = sandbox.requests({ path: 'room' });
      expect(recorded.map((r) => r.status)).toEqual([401, 200]);
      const serialized = JSON.stringify(recorded);
      expect(serialized).not.toContain('test-key');
      expect(serialized).not.toContain('not-the-key');
      expect(serialized.toLowerCase()).not.toContain('authorization');
    });
  });

  describe('rooms and presence', () => {
    it("returns the room with its SIP URI in config, and Daily's 404 for an unknown room", async () => {
      const { sipUri } = sandbox.createRoom('support');
      expect(sipUri).toBe('sip:support@sandbox.sip.daily.co');
      const res = await api(sandbox, 'GET', '/rooms/support');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        name: 'support',
        api_created: true,
        privacy: 'private',
        config: { sip: { sip_mode: 'dial-in', video: false, num_endpoints: 1 }, sip_uri: { endpoint: sipUri } },
      });
      expect(typeof res.body.id).toBe('string');

      const missing = await api(sandbox, 'GET', '/rooms/nope');
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ error: 'not-found', info: 'room nope not found' });
    });

    it('lists only the legs currently in the room', async () => {
      sandbox.createRoom('lobby');
      const first = sandbox.addCaller('lobby', { from: '+15550001111' });
      const second = sandbox.addCaller('lobby', { transport: 'sip', from: 'sip:alice@example.com' });
      sandbox.setScenario('+15559990000', { kind: 'no-answer' });

      const before = await api(sandbox, 'GET', '/rooms/lobby/presence');
      expect(before.body.total_count).toBe(2);
      const row = (before.body.data as Array<Record<string, unknown>>).find((r) => r.id === first.sessionId);
      expect(row).toMatchObject({
        room: 'lobby',
        id: first.sessionId,
        userId: first.sessionId,
        userName: '+15550001111',
      });
      expect(new Date(String(row?.joinTime)).toISOString()).toBe(row?.joinTime);
      expect(typeof row?.duration).toBe('number');

      expect(
        (await transfer(sandbox, 'lobby', { sessionId: first.sessionId, toEndPoint: '+15559990000' })).status
      ).toBe(200);
      await sandbox.idle();
      const after = await api(sandbox, 'GET', '/rooms/lobby/presence');
      expect(after.body.total_count).toBe(1);
      expect((after.body.data as Array<{ id: string }>).map((r) => r.id)).toEqual([second.sessionId]);
    });
  });

  describe('transfer request validation', () => {
    let sessionId: string;
    beforeEach(() => {
      sandbox.createRoom('v');
      sessionId = sandbox.addCaller('v').sessionId;
    });

    it.each([
      [{ toEndPoint: '+15551230000' }, 'sessionId'],
      [{ sessionId: 'x', toEndPoint: 'tel:5551230000' }, 'toEndPoint'],
      [{ sessionId: 'x' }, 'toEndPoint'],
      [{ sessionId: 'x', toEndPoint: 'sip:a@example.com', callerId: 'c0ffee' }, 'callerId'],
      [{ sessionId: 'x', toEndPoint: 'sip:a@example.com', extension: '12' }, 'extension'],
      [{ sessionId: 'x', toEndPoint: '+15551230000', extension: '1'.repeat(21) }, 'extension'],
      [{ sessionId: 'x', toEndPoint: '+15551230000', extension: '' }, 'extension'],
      [{ sessionId: 'x', toEndPoint: '+15551230000', waitBeforeExtensionDialSec: 61 }, 'waitBeforeExtensionDialSec'],
      [{ sessionId: 'x', toEndPoint: '+15551230000', waitBeforeExtensionDialSec: 1.5 }, 'waitBeforeExtensionDialSec'],
    ])('sipCallTransfer %j: 400 naming %s', async (body, field) => {
      const res = await transfer(sandbox, 'v', body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid-request-error');
      expect(String(res.body.info)).toContain(field);
      await sandbox.idle();
      expect(types(sandbox)).not.toContain('calltransfer.triggered');
    });

    it('accepts callerId, extension and wait for a PSTN destination', async () => {
      sandbox.setScenario('+15551230000', { kind: 'no-answer' });
      const res = await transfer(sandbox, 'v', {
        sessionId,
        toEndPoint: '+15551230000',
        callerId: 'c0ffee00-0000-4000-8000-000000000000',
        extension: '1234#',
        waitBeforeExtensionDialSec: 60,
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: true });
    });

    it('sipRefer takes only SIP URIs', async () => {
      const res = await transfer(sandbox, 'v', { sessionId, toEndPoint: '+15551230000' }, 'sipRefer');
      expect(res.status).toBe(400);
      expect(String(res.body.info)).toContain('toEndPoint');
    });

    it('answers json-parsing-error for a body that is not JSON and 400 for a non-object body', async () => {
      const bad = await api(sandbox, 'POST', '/rooms/v/sipCallTransfer', '{"sessionId":');
      expect(bad.status).toBe(400);
      expect(bad.body.error).toBe('json-parsing-error');
      const array = await api(sandbox, 'POST', '/rooms/v/sipCallTransfer', [sessionId]);
      expect(array.status).toBe(400);
      expect(array.body.error).toBe('invalid-request-error');
    });
  });

  describe("Daily's documented transfer errors", () => {
    it('404 "Room is not hosting a call" for an unknown room or a room without legs', async () => {
      const unknown = await transfer(sandbox, 'ghost', { sessionId: 's', toEndPoint: '+15551230000' });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ error: 'not-found', info: 'Room is not hosting a call' });
      sandbox.createRoom('empty');
      const empty = await transfer(sandbox, 'empty', { sessionId: 's', toEndPoint: '+15551230000' });
      expect(empty.status).toBe(404);
      expect(empty.body.info).toBe('Room is not hosting a call');
    });

    it('404 "invalid sessionId" for an unknown session and for a leg already answered elsewhere', async () => {
      sandbox.createRoom('r');
      const { sessionId } = sandbox.addCaller('r');
      const unknown = await transfer(sandbox, 'r', { sessionId: 'nobody', toEndPoint: '+15551230000' });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ error: 'not-found', info: 'invalid sessionId' });

      sandbox.setScenario('+15551230000', { kind: 'answer', afterMs: 5 });
      expect((await transfer(sandbox, 'r', { sessionId, toEndPoint: '+15551230000' })).status).toBe(200);
      await sandbox.idle();
      expect(sandbox.participant('r', sessionId)?.state).toBe('transferred');
      const again = await transfer(sandbox, 'r', { sessionId, toEndPoint: '+15551230001' });
      expect(again.status).toBe(404);
      expect(again.body.info).toBe('invalid sessionId');
    });

    it('400 "Room not in SFU mode" for a room created with sfu: false', async () => {
      sandbox.createRoom('p2p', { sfu: false });
      const { sessionId } = sandbox.addCaller('p2p');
      const res = await transfer(sandbox, 'p2p', { sessionId, toEndPoint: '+15551230000' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid-request-error', info: 'Room not in SFU mode' });
      expect(sandbox.participant('p2p', sessionId)?.state).toBe('in-room');
    });

    it('answers {"ok": "true"} when the model asks for the docs example', async () => {
      sandbox.createRoom('r');
      const { sessionId } = sandbox.addCaller('r');
      sandbox.setModel({ okAsString: true });
      try {
        const res = await transfer(sandbox, 'r', { sessionId, toEndPoint: '+15551230000' });
        expect(res.body).toEqual({ ok: 'true' });
      } finally {
        sandbox.setModel({ okAsString: false });
      }
    });
  });

  describe('eject', () => {
    it('ends an in-room leg (participant.left + dialin.stopped) and lists only the legs it ejected', async () => {
      sandbox.createRoom('e');
      const { sessionId } = sandbox.addCaller('e');
      const res = await api(sandbox, 'POST', '/rooms/e/eject', { ids: [sessionId, 'nobody'] });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ejected: [sessionId] });
      expect(types(sandbox)).toEqual(['dialin.connected', 'participant.joined', 'participant.left', 'dialin.stopped']);
      expect(sandbox.participant('e', sessionId)?.state).toBe('ended');
      expect((await transfer(sandbox, 'e', { sessionId, toEndPoint: '+15551230000' })).body.info).toBe(
        'Room is not hosting a call'
      );
    });

    it('ends a ringing leg: its transfer is canceled (extended model) and the leg stops', async () => {
      // A fresh sandbox: the model is set per sandbox and outlives reset().
      const extended = await startTestSandbox({ model: { completedStatus: 'extended' } });
      try {
        await ejectRinging(extended);
      } finally {
        await extended.close();
      }
    });

    async function ejectRinging(sandbox: Sandbox): Promise<void> {
      sandbox.createRoom('e');
      const { sessionId } = sandbox.addCaller('e', { kind: 'dialout' });
      sandbox.setScenario('+15557770000', { kind: 'no-answer' });
      await transfer(sandbox, 'e', { sessionId, toEndPoint: '+15557770000' });
      await sandbox.idle();
      expect(sandbox.participant('e', sessionId)?.state).toBe('ringing');

      const res = await api(sandbox, 'POST', '/rooms/e/eject', { ids: [sessionId] });
      expect(res.body).toEqual({ ejected: [sessionId] });
      const events = sandbox.emittedEvents();
      expect(events.slice(-2).map((e) => e.type)).toEqual(['calltransfer.completed', 'dialout.stopped']);
      expect(events.at(-2)?.payload).toMatchObject({ completeStatus: 'canceled', room: 'e', session_id: sessionId });
      expect(sandbox.participant('e', sessionId)?.state).toBe('ended');
    }

    it('404 for an unknown room and 400 without ids', async () => {
      expect((await api(sandbox, 'POST', '/rooms/ghost/eject', { ids: ['a'] })).status).toBe(404);
      sandbox.createRoom('e');
      const res = await api(sandbox, 'POST', '/rooms/e/eject', {});
      expect(res.status).toBe(400);
      expect(String(res.body.info)).toContain('ids');
    });
  });

  describe('request recording', () => {
    it('records method, path, room, body and status, filterable by endpoint name and room', async () => {
      sandbox.createRoom('one');
      sandbox.createRoom('two');
      const { sessionId } = sandbox.addCaller('one');
      await transfer(sandbox, 'one', { sessionId, toEndPoint: '+15551230000' });
      await transfer(sandbox, 'two', { sessionId, toEndPoint: '+15551230000' });
      await api(sandbox, 'GET', '/rooms/one/presence');

      const transfers = sandbox.requests({ path: 'sipCallTransfer' });
      expect(transfers).toHaveLength(2);
      expect(transfers[0]).toMatchObject({
        method: 'POST',
        path: '/v1/rooms/one/sipCallTransfer',
        endpoint: 'sipCallTransfer',
        room: 'one',
        body: { sessionId, toEndPoint: '+15551230000' },
        status: 200,
      });
      expect(transfers[1]).toMatchObject({ room: 'two', status: 404 });
      expect(sandbox.requests({ path: 'sipCallTransfer', room: 'one' })).toHaveLength(1);
      expect(sandbox.requests({ room: 'one' }).map((r) => r.endpoint)).toEqual(['sipCallTransfer', 'presence']);
      expect(sandbox.requests({ path: '/v1/rooms/one/presence' })).toHaveLength(1);
    });
  });
});
