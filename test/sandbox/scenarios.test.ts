import type { Sandbox, SandboxEvent } from '../../src/sandbox';
import { api, startTestSandbox, transfer, types } from './helpers';

const PSTN = '+15551230000';
const OTHER = '+15551239999';

/** Events emitted after the caller joined, i.e. those caused by the test's requests. */
function since(sandbox: Sandbox, count: number): SandboxEvent[] {
  return sandbox.emittedEvents().slice(count);
}

describe('sandbox destination scenarios', () => {
  let sandbox: Sandbox;
  let sessionId: string;
  let joinedEvents: number;

  beforeAll(async () => {
    sandbox = await startTestSandbox();
  });
  afterAll(() => sandbox.close());
  beforeEach(() => {
    sandbox.reset();
    sandbox.setModel({ failedTransferLeg: 'parked', completedStatus: 'extended', timestampAsString: true });
    sandbox.createRoom('src');
    sessionId = sandbox.addCaller('src', { from: '+15550001111' }).sessionId;
    joinedEvents = sandbox.emittedEvents().length;
  });

  async function run(
    toEndPoint: string,
    method: 'sipCallTransfer' | 'sipRefer' = 'sipCallTransfer'
  ): Promise<SandboxEvent[]> {
    const res = await transfer(sandbox, 'src', { sessionId, toEndPoint }, method);
    expect(res.status).toBe(200);
    await sandbox.idle();
    return since(sandbox, joinedEvents);
  }

  it('a dial-in caller joining emits dialin.connected then participant.joined', () => {
    const [connected, joined] = sandbox.emittedEvents();
    expect(connected).toMatchObject({
      type: 'dialin.connected',
      payload: { session_id: sessionId, room: 'src', sip_from: '+15550001111' },
    });
    expect(joined).toMatchObject({
      type: 'participant.joined',
      payload: { session_id: sessionId, room: 'src', user_id: sessionId, owner: false, will_eject_at: null },
    });
  });

  it('answer: triggered, initiated + left + stopped, answered, then completed when the callee hangs up', async () => {
    sandbox.setScenario(PSTN, { kind: 'answer', afterMs: 10, hangUpAfterMs: 10 });
    const events = await run(PSTN);
    expect(events.map((e) => e.type)).toEqual([
      'calltransfer.triggered',
      'calltransfer.initiated',
      'participant.left',
      'dialin.stopped',
      'calltransfer.answered',
      'calltransfer.completed',
    ]);
    for (const event of events.filter((e) => e.type.startsWith('calltransfer.'))) {
      expect(event.payload).toMatchObject({
        room: 'src',
        session_id: sessionId,
        to_endpoint: PSTN,
        from_endpoint: 'sip:src@sandbox.sip.daily.co',
        is_sip_refer: false,
      });
      expect(event.payload.timestamp).toMatch(/^\d+$/);
      expect(typeof event.payload.mtg_session_id).toBe('string');
      expect(typeof event.payload.domain_id).toBe('string');
    }
    expect(events.find((e) => e.type === 'calltransfer.initiated')?.id).toMatch(
      new RegExp(`^\\d+-call-transfer-init-${sessionId}\\d+$`)
    );
    expect(events.find((e) => e.type === 'participant.left')?.payload.duration).toEqual(expect.any(Number));
    expect(events.at(-1)?.payload.completeStatus).toBe('completed');
    expect(new Set(sandbox.emittedEvents().map((e) => e.id)).size).toBe(sandbox.emittedEvents().length);
    expect(sandbox.participant('src', sessionId)?.state).toBe('ended');
  });

  it('answer without hangUpAfterMs: the call stays up, no completed', async () => {
    sandbox.setScenario(PSTN, { kind: 'answer', afterMs: 10 });
    const events = await run(PSTN);
    expect(events.map((e) => e.type).at(-1)).toBe('calltransfer.answered');
    expect(sandbox.participant('src', sessionId)).toEqual({ state: 'transferred', room: 'src' });
  });

  it('answer by a sandbox room: the caller joins it with a new session id; ejecting it there completes the transfer', async () => {
    const { sipUri } = sandbox.createRoom('dest');
    const events = await run(sipUri);
    expect(events.map((e) => e.type)).toEqual([
      'calltransfer.triggered',
      'calltransfer.initiated',
      'participant.left',
      'dialin.stopped',
      'calltransfer.answered',
      'participant.joined',
    ]);
    const joined = events.at(-1);
    expect(joined?.payload.room).toBe('dest');
    const newSession = String(joined?.payload.session_id);
    expect(newSession).not.toBe(sessionId);
    expect(sandbox.participant('src', sessionId)).toEqual({
      state: 'transferred',
      room: 'dest',
      sessionId: newSession,
    });
    const presence = await api(sandbox, 'GET', '/rooms/dest/presence');
    expect((presence.body.data as Array<{ id: string }>).map((r) => r.id)).toEqual([newSession]);

    await api(sandbox, 'POST', '/rooms/dest/eject', { ids: [newSession] });
    await sandbox.idle();
    const tail = since(sandbox, joinedEvents + events.length);
    expect(tail.map((e) => [e.type, e.payload.room])).toEqual([
      ['participant.left', 'dest'],
      ['dialin.stopped', 'dest'],
      ['calltransfer.completed', 'src'],
    ]);
    expect(sandbox.participant('src', sessionId)?.state).toBe('ended');
  });

  it.each([
    ['busy', 'busy'],
    ['reject', 'rejected'],
  ] as const)(
    '%s: completed with completeStatus %s, then the leg is parked and a fallback transfer works',
    async (kind, status) => {
      sandbox.setScenario(PSTN, { kind, afterMs: 10 });
      const events = await run(PSTN);
      expect(events.map((e) => e.type)).toEqual([
        'calltransfer.triggered',
        'calltransfer.initiated',
        'participant.left',
        'dialin.stopped',
        'calltransfer.completed',
      ]);
      expect(events.at(-1)?.payload.completeStatus).toBe(status);
      expect(sandbox.participant('src', sessionId)?.state).toBe('parked');

      // Rollback to the room the caller came from: the parked leg is still addressable by its session id.
      const fallback = await run('sip:src@sandbox.sip.daily.co');
      expect(fallback.slice(events.length).map((e) => e.type)).toEqual([
        'calltransfer.triggered',
        'calltransfer.initiated',
        'calltransfer.answered',
        'participant.joined',
      ]);
      expect(sandbox.participant('src', sessionId)?.state).toBe('transferred');
    }
  );

  it("failed transfer with model 'dropped': the leg stops and is no longer addressable", async () => {
    sandbox.setModel({ failedTransferLeg: 'dropped' });
    sandbox.addCaller('src'); // keeps the room hosting a call, so the answer is about the session
    joinedEvents = sandbox.emittedEvents().length;
    sandbox.setScenario(PSTN, { kind: 'busy', afterMs: 10 });
    const events = await run(PSTN);
    expect(events.map((e) => e.type).slice(-2)).toEqual(['calltransfer.completed', 'dialin.stopped']);
    expect(sandbox.participant('src', sessionId)?.state).toBe('ended');
    const again = await transfer(sandbox, 'src', { sessionId, toEndPoint: OTHER });
    expect(again.status).toBe(404);
    expect(again.body.info).toBe('invalid sessionId');
  });

  it('no-answer rings forever; a new request re-targets the leg and the earlier ring emits nothing more', async () => {
    sandbox.setScenario(PSTN, { kind: 'no-answer' });
    const ringing = await run(PSTN);
    expect(ringing.map((e) => e.type)).toEqual([
      'calltransfer.triggered',
      'calltransfer.initiated',
      'participant.left',
      'dialin.stopped',
    ]);
    expect(sandbox.participant('src', sessionId)?.state).toBe('ringing');

    sandbox.setScenario(OTHER, { kind: 'answer', afterMs: 10 });
    const retargeted = (await run(OTHER)).slice(ringing.length);
    expect(retargeted.map((e) => [e.type, e.payload.to_endpoint])).toEqual([
      ['calltransfer.triggered', OTHER],
      ['calltransfer.initiated', OTHER],
      ['calltransfer.answered', OTHER],
    ]);
  });

  it('re-targeting drops a pending outcome of the earlier destination', async () => {
    sandbox.setScenario(PSTN, { kind: 'busy', afterMs: 150 });
    sandbox.setScenario(OTHER, { kind: 'no-answer' });
    expect((await transfer(sandbox, 'src', { sessionId, toEndPoint: PSTN })).status).toBe(200);
    expect((await transfer(sandbox, 'src', { sessionId, toEndPoint: OTHER })).status).toBe(200);
    await sandbox.idle();
    const events = since(sandbox, joinedEvents);
    expect(events.filter((e) => e.payload.to_endpoint === PSTN && e.type !== 'calltransfer.triggered')).toEqual([]);
    expect(events.some((e) => e.type === 'calltransfer.completed')).toBe(false);
    expect(sandbox.participant('src', sessionId)?.state).toBe('ringing');
  });

  it('caller-hangs-up: completed canceled and the leg stops', async () => {
    sandbox.setScenario(PSTN, { kind: 'caller-hangs-up', afterMs: 10 });
    const events = await run(PSTN);
    expect(events.map((e) => e.type).slice(-2)).toEqual(['calltransfer.completed', 'dialin.stopped']);
    expect(events.at(-2)?.payload.completeStatus).toBe('canceled');
    expect(sandbox.participant('src', sessionId)?.state).toBe('ended');
    expect((await transfer(sandbox, 'src', { sessionId, toEndPoint: OTHER })).status).toBe(404);
  });

  it('refer-accept: triggered + initiated (is_sip_refer), the leg leaves, completed with the REFER codes', async () => {
    const pbx = 'sip:ivr@pbx.example.com';
    sandbox.setScenario(pbx, { kind: 'refer-accept', afterMs: 10 });
    const events = await run(pbx, 'sipRefer');
    expect(events.map((e) => e.type)).toEqual([
      'calltransfer.triggered',
      'calltransfer.initiated',
      'participant.left',
      'dialin.stopped',
      'calltransfer.completed',
    ]);
    expect(events[0]?.payload.is_sip_refer).toBe(true);
    expect(events[1]?.payload.is_sip_refer).toBe(true);
    expect(events.at(-1)?.payload).toMatchObject({
      is_sip_refer: true,
      completeStatus: 'completed',
      refer_sip_response_code: '202',
      notify_sip_response_code: '200',
    });
    expect(sandbox.participant('src', sessionId)?.state).toBe('transferred');
  });

  it('refer-reject: triggered only, the leg stays in the room, completed failed with 603', async () => {
    const pbx = 'sip:ivr@pbx.example.com';
    sandbox.setScenario(pbx, { kind: 'refer-reject', afterMs: 10 });
    const events = await run(pbx, 'sipRefer');
    expect(events.map((e) => e.type)).toEqual(['calltransfer.triggered', 'calltransfer.completed']);
    expect(events.at(-1)?.payload).toMatchObject({ completeStatus: 'failed', refer_sip_response_code: '603' });
    expect(sandbox.participant('src', sessionId)?.state).toBe('in-room');
  });

  describe("model completedStatus 'docs'", () => {
    beforeEach(() => sandbox.setModel({ completedStatus: 'docs' }));

    it('sends no completed for failures and no completeStatus on a normal completion', async () => {
      sandbox.setScenario(PSTN, { kind: 'busy', afterMs: 10 });
      expect((await run(PSTN)).map((e) => e.type)).not.toContain('calltransfer.completed');
      expect(sandbox.participant('src', sessionId)?.state).toBe('parked');

      sandbox.setScenario(OTHER, { kind: 'answer', afterMs: 10, hangUpAfterMs: 10 });
      const completed = (await run(OTHER)).at(-1);
      expect(completed?.type).toBe('calltransfer.completed');
      expect(completed?.payload).not.toHaveProperty('completeStatus');
    });

    it('sends only triggered + initiated for an accepted REFER', async () => {
      const pbx = 'sip:ivr@pbx.example.com';
      sandbox.setScenario(pbx, { kind: 'refer-accept', afterMs: 10 });
      expect((await run(pbx, 'sipRefer')).map((e) => e.type)).toEqual([
        'calltransfer.triggered',
        'calltransfer.initiated',
        'participant.left',
        'dialin.stopped',
      ]);
    });
  });

  it('dial-out legs emit dialout.* events, and an integer timestamp when the model asks', async () => {
    sandbox.setModel({ timestampAsString: false });
    const { sessionId: out } = sandbox.addCaller('src', { kind: 'dialout', from: '+15552223333' });
    const dialout = since(sandbox, joinedEvents);
    expect(dialout.map((e) => e.type)).toEqual(['dialout.connected', 'dialout.answered', 'participant.joined']);
    expect(dialout[0]?.payload).toMatchObject({
      session_id: out,
      destination: '+15552223333',
      timestamp: expect.any(Number),
    });

    sandbox.setScenario(PSTN, { kind: 'no-answer' });
    await transfer(sandbox, 'src', { sessionId: out, toEndPoint: PSTN });
    await sandbox.idle();
    const after = since(sandbox, joinedEvents + dialout.length);
    expect(after.map((e) => e.type)).toEqual([
      'calltransfer.triggered',
      'calltransfer.initiated',
      'participant.left',
      'dialout.stopped',
    ]);
    expect(typeof after[0]?.payload.timestamp).toBe('number');
  });

  it('uses the default scenario for destinations without one', async () => {
    const custom = await startTestSandbox({
      defaultScenario: { kind: 'reject', afterMs: 5 },
      model: { completedStatus: 'extended' },
    });
    try {
      custom.createRoom('d');
      const { sessionId: s } = custom.addCaller('d');
      await transfer(custom, 'd', { sessionId: s, toEndPoint: PSTN });
      await custom.idle();
      expect(types(custom).at(-1)).toBe('calltransfer.completed');
      expect(custom.emittedEvents().at(-1)?.payload.completeStatus).toBe('rejected');
    } finally {
      await custom.close();
    }
  });
});
