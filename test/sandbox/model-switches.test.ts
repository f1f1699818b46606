/**
 * The sandbox's own guesses where Daily's docs are silent, each switched both ways (README, fidelity table), and the
 * evidence Daily's documented model leaves when a caller hangs up while ringing.
 */
import { DEFAULT_MODEL, type Sandbox, type SandboxEvent } from '../../src/sandbox';
import { api, startTestSandbox, transfer, waitFor } from './helpers';

const RINGS = '+15551230000';
const ANSWERS = '+15551239999';

describe('sandbox model switches', () => {
  let sandbox: Sandbox;
  let sessionId: string;
  let before: number;

  /** Events caused by the test's requests (after the caller joined). */
  const since = (): SandboxEvent[] => sandbox.emittedEvents().slice(before);
  const ringing = (): Promise<unknown> =>
    waitFor(() => sandbox.participant('m', sessionId)?.state === 'ringing', 'the leg to ring outside the room');
  const presentIds = async (): Promise<string[]> =>
    ((await api(sandbox, 'GET', '/rooms/m/presence')).body.data as Array<{ id: string }>).map((p) => p.id);

  beforeAll(async () => {
    sandbox = await startTestSandbox();
  });
  afterAll(() => sandbox.close());
  beforeEach(() => {
    sandbox.reset();
    sandbox.setModel(DEFAULT_MODEL);
    sandbox.createRoom('m');
    sessionId = sandbox.addCaller('m').sessionId;
    before = sandbox.emittedEvents().length;
    sandbox.setScenario(RINGS, { kind: 'no-answer' });
    sandbox.setScenario(ANSWERS, { kind: 'answer', afterMs: 5 });
  });

  it('the defaults are the behaviour the rest of the suite relies on', () => {
    expect(DEFAULT_MODEL).toMatchObject({ ringingLegTransfer: 'retarget', ejectOutsideRoom: 'ends', presenceLagMs: 0 });
  });

  describe('ringingLegTransfer', () => {
    it("'retarget': a request for a leg ringing outside the room moves its ring to the new destination", async () => {
      expect((await transfer(sandbox, 'm', { sessionId, toEndPoint: RINGS })).status).toBe(200);
      await ringing();
      expect((await transfer(sandbox, 'm', { sessionId, toEndPoint: ANSWERS })).status).toBe(200);
      await sandbox.idle();
      expect(sandbox.participant('m', sessionId)?.state).toBe('transferred');
      expect(
        since()
          .filter((e) => e.type === 'calltransfer.answered')
          .map((e) => e.payload.to_endpoint)
      ).toEqual([ANSWERS]);
    });

    it("'refuse': 404 invalid sessionId, nothing emitted for the new destination, the first one keeps ringing", async () => {
      sandbox.setModel({ ringingLegTransfer: 'refuse' });
      expect((await transfer(sandbox, 'm', { sessionId, toEndPoint: RINGS })).status).toBe(200);
      await ringing();
      const refused = await transfer(sandbox, 'm', { sessionId, toEndPoint: ANSWERS });
      expect(refused.status).toBe(404);
      expect(refused.body).toEqual({ error: 'not-found', info: 'invalid sessionId' });
      await sandbox.idle();
      expect(since().filter((e) => e.payload.to_endpoint === ANSWERS)).toEqual([]);
      expect(sandbox.participant('m', sessionId)?.state).toBe('ringing');
    });

    it("'refuse' is about ringing legs only: a parked leg is still addressable (rollback works)", async () => {
      sandbox.setModel({ ringingLegTransfer: 'refuse' });
      sandbox.setScenario(RINGS, { kind: 'busy', afterMs: 5 });
      await transfer(sandbox, 'm', { sessionId, toEndPoint: RINGS });
      await waitFor(() => sandbox.participant('m', sessionId)?.state === 'parked', 'the leg to be parked');
      expect((await transfer(sandbox, 'm', { sessionId, toEndPoint: ANSWERS })).status).toBe(200);
    });
  });

  describe('ejectOutsideRoom', () => {
    it("'ends': ejecting a ringing leg cancels the ring and stops the leg", async () => {
      sandbox.setModel({ completedStatus: 'extended' });
      await transfer(sandbox, 'm', { sessionId, toEndPoint: RINGS });
      await ringing();
      const res = await api(sandbox, 'POST', '/rooms/m/eject', { ids: [sessionId] });
      expect(res.body).toEqual({ ejected: [sessionId] });
      await sandbox.idle();
      expect(
        since()
          .slice(-2)
          .map((e) => [e.type, e.payload.completeStatus])
      ).toEqual([
        ['calltransfer.completed', 'canceled'],
        ['dialin.stopped', undefined],
      ]);
      expect(sandbox.participant('m', sessionId)?.state).toBe('ended');
    });

    it.each(['ringing', 'parked'] as const)(
      "'ignored': eject does not reach a %s leg: not in `ejected`, no event, the leg is untouched",
      async (state) => {
        sandbox.setModel({ ejectOutsideRoom: 'ignored' });
        if (state === 'parked') sandbox.setScenario(RINGS, { kind: 'busy', afterMs: 5 });
        await transfer(sandbox, 'm', { sessionId, toEndPoint: RINGS });
        await waitFor(() => sandbox.participant('m', sessionId)?.state === state, `the leg to be ${state}`);
        await sandbox.idle();
        const count = sandbox.emittedEvents().length;
        const res = await api(sandbox, 'POST', '/rooms/m/eject', { ids: [sessionId] });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ ejected: [] });
        await sandbox.idle();
        expect(sandbox.emittedEvents()).toHaveLength(count);
        expect(sandbox.participant('m', sessionId)?.state).toBe(state);
      }
    );

    it("'ignored' still ends a leg that is in the room", async () => {
      sandbox.setModel({ ejectOutsideRoom: 'ignored' });
      const res = await api(sandbox, 'POST', '/rooms/m/eject', { ids: [sessionId] });
      expect(res.body).toEqual({ ejected: [sessionId] });
      expect(sandbox.participant('m', sessionId)?.state).toBe('ended');
    });
  });

  describe('presenceLagMs', () => {
    it('0: presence drops a leg as soon as it leaves the room', async () => {
      await transfer(sandbox, 'm', { sessionId, toEndPoint: RINGS });
      await ringing();
      expect(await presentIds()).toEqual([]);
    });

    it('n: a leg that left is listed for n ms more, and a leg that joined is listed only after n ms', async () => {
      const lagMs = 500;
      sandbox.setModel({ presenceLagMs: lagMs });
      // The caller joined in beforeEach: until it has been in the room for the lag, the snapshot predates it.
      expect(await presentIds()).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, lagMs + 50));
      expect(await presentIds()).toEqual([sessionId]);
      await transfer(sandbox, 'm', { sessionId, toEndPoint: RINGS });
      await ringing();
      const leftAt = Date.now();
      const joined = sandbox.addCaller('m').sessionId;
      // Read well inside the lag: the snapshot still has the old membership.
      expect(await presentIds()).toEqual([sessionId]);
      let ids = await presentIds();
      while (!ids.includes(joined) && Date.now() - leftAt < 10_000) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        ids = await presentIds();
      }
      // The new leg shows up no sooner than the lag, and by then the snapshot no longer has the leg that left.
      expect(Date.now() - leftAt).toBeGreaterThanOrEqual(lagMs - 50);
      expect(ids).toEqual([joined]);
    });
  });

  describe("completedStatus 'docs': a caller who hangs up while ringing", () => {
    beforeEach(() => sandbox.setModel({ completedStatus: 'docs' }));

    it('is known only from a second dialin.stopped for the same session, after the first one at initiated', async () => {
      sandbox.setScenario(RINGS, { kind: 'caller-hangs-up', afterMs: 10 });
      await transfer(sandbox, 'm', { sessionId, toEndPoint: RINGS });
      await sandbox.idle();
      const events = since();
      expect(events.map((e) => e.type)).toEqual([
        'calltransfer.triggered',
        'calltransfer.initiated',
        'participant.left',
        'dialin.stopped',
        'dialin.stopped',
      ]);
      const [first, second] = events.filter((e) => e.type === 'dialin.stopped');
      expect(first?.payload.session_id).toBe(sessionId);
      expect(second?.payload.session_id).toBe(sessionId);
      expect(second?.id).not.toBe(first?.id);
      expect(sandbox.participant('m', sessionId)?.state).toBe('ended');
    });

    it('an eject of the ringing leg leaves the same evidence: a second dialin.stopped and no completed', async () => {
      await transfer(sandbox, 'm', { sessionId, toEndPoint: RINGS });
      await ringing();
      await api(sandbox, 'POST', '/rooms/m/eject', { ids: [sessionId] });
      await sandbox.idle();
      expect(since().map((e) => e.type)).toEqual([
        'calltransfer.triggered',
        'calltransfer.initiated',
        'participant.left',
        'dialin.stopped',
        'dialin.stopped',
      ]);
    });
  });
});
