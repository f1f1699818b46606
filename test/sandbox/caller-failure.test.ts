/** The caller's own leg failing: `dialin.error` / `dialout.error` with Daily's payload, in and out of the room. */
import { DEFAULT_MODEL, SandboxControl, SandboxControlError, type Sandbox, type SandboxEvent } from '../../src/sandbox';
import { startTestSandbox, transfer, waitFor } from './helpers';

const PSTN = '+15551230000';

describe('sandbox caller failure', () => {
  let sandbox: Sandbox;
  let control: SandboxControl;
  let sessionId: string;
  let before: number;

  const since = (): SandboxEvent[] => sandbox.emittedEvents().slice(before);

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    control = new SandboxControl(sandbox.url);
  });
  afterAll(async () => {
    await control.close();
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
    sandbox.setModel(DEFAULT_MODEL);
    sandbox.createRoom('cf');
    sessionId = sandbox.addCaller('cf').sessionId;
    before = sandbox.emittedEvents().length;
  });

  it('a dial-in leg in the room: dialin.error with exactly the documented payload, then participant.left; no stopped', async () => {
    await control.failCaller('cf', sessionId, { errorMsg: 'SIP 500 from carrier' });
    const events = since();
    expect(events.map((e) => e.type)).toEqual(['dialin.error', 'participant.left']);
    expect(events[0]?.payload).toEqual({
      timestamp: expect.stringMatching(/^\d+$/),
      session_id: sessionId,
      domain_id: expect.any(String),
      room: 'cf',
      error_msg: 'SIP 500 from carrier',
    });
    expect(sandbox.participant('cf', sessionId)?.state).toBe('ended');
    // The room hosts no call any more: the leg is gone for Daily's API too.
    expect((await transfer(sandbox, 'cf', { sessionId, toEndPoint: PSTN })).status).toBe(404);
  });

  it('a dial-out leg: dialout.error with user_id and the default error_msg', async () => {
    const { sessionId: out } = sandbox.addCaller('cf', { kind: 'dialout' });
    before = sandbox.emittedEvents().length;
    sandbox.failCaller('cf', out);
    const [error] = since();
    expect(error).toMatchObject({
      type: 'dialout.error',
      payload: { session_id: out, user_id: out, room: 'cf', error_msg: 'sandbox: injected leg failure' },
    });
  });

  it.each([
    ['extended', ['calltransfer.completed', 'dialin.error']],
    ['docs', ['dialin.error']],
  ] as const)('a leg ringing outside the room (%s): its ring ends with it', async (completedStatus, tail) => {
    sandbox.setModel({ completedStatus });
    sandbox.setScenario(PSTN, { kind: 'no-answer' });
    await transfer(sandbox, 'cf', { sessionId, toEndPoint: PSTN });
    await waitFor(() => sandbox.participant('cf', sessionId)?.state === 'ringing', 'the leg to ring');
    await sandbox.idle();
    const count = sandbox.emittedEvents().length;
    sandbox.failCaller('cf', sessionId);
    await sandbox.idle();
    const after = sandbox.emittedEvents().slice(count);
    expect(after.map((e) => e.type)).toEqual(tail);
    if (completedStatus === 'extended') expect(after[0]?.payload.completeStatus).toBe('failed');
    expect(sandbox.participant('cf', sessionId)?.state).toBe('ended');
  });

  it('a parked leg: only dialin.error', async () => {
    sandbox.setScenario(PSTN, { kind: 'busy', afterMs: 5 });
    await transfer(sandbox, 'cf', { sessionId, toEndPoint: PSTN });
    await waitFor(() => sandbox.participant('cf', sessionId)?.state === 'parked', 'the leg to be parked');
    await sandbox.idle();
    const count = sandbox.emittedEvents().length;
    sandbox.failCaller('cf', sessionId);
    expect(
      sandbox
        .emittedEvents()
        .slice(count)
        .map((e) => e.type)
    ).toEqual(['dialin.error']);
  });

  it('control API: 404 for an unknown room or session, 409 for a leg that already ended, 400 for a bad body', async () => {
    await expect(control.failCaller('nowhere', sessionId)).rejects.toMatchObject({ status: 404 });
    await expect(control.failCaller('cf', 'nobody')).rejects.toMatchObject({ status: 404 });
    await control.failCaller('cf', sessionId);
    const again = await control.failCaller('cf', sessionId).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(SandboxControlError);
    expect(again).toMatchObject({ status: 409, info: expect.stringContaining('is ended') });
    const bad = await fetch(`${sandbox.url}/_sandbox/rooms/cf/callers/${sessionId}/fail`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errorMessage: 'typo' }),
    });
    expect(bad.status).toBe(400);
  });
});
