/**
 * `dialFirst` end to end: a real Temporal dev server, the sandbox over HTTP, `dialout.*` webhooks through the real
 * relay (routed by the `userId` the workflow gives each dial-out). Every test checks the result and what the sandbox
 * saw: the exact dialOut/start and /stop requests, and the state of every dial-out it rang.
 */
import type { TransferAttempt, TransferRequest } from '../../src';
import { dialOutUserId } from '../../src/shared';
import { startStack, type TestStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';

let stack: TestStack;

type Call = ReturnType<TestStack['newCall']>;

function request(call: Call, attempts: Array<Partial<TransferAttempt>>, extra: Partial<TransferRequest> = {}) {
  return {
    room: call.room,
    sessionId: call.sessionId,
    attempts: attempts.map((a) => ({ method: 'dialFirst', answerTimeoutSec: 5, ...a })),
    onExhausted: { action: 'none' },
    reconcileWindowSec: 1,
    ...extra,
  } as TransferRequest;
}

const starts = (call: Call) => stack.sandbox.requests({ path: 'dialOut/start', room: call.room });
const stops = (call: Call) => stack.sandbox.requests({ path: 'dialOut/stop', room: call.room });
/** The destination each accepted dialOut/start rang (its SIP header part removed), and the state it is in now. */
const dialOutStates = (call: Call) =>
  Object.fromEntries(stack.sandbox.dialOuts({ room: call.room }).map((d) => [d.destination.split('?')[0], d.state]));

describe.each(['docs', 'extended'] as const)("dial first under Daily's %s event model", (model) => {
  beforeAll(async () => {
    stack = await startStack({ sandbox: { model: { completedStatus: model } } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  test('answered first try: the destination joins the caller, who never left the room; the bot is removed', async () => {
    const call = stack.newCall();
    const bot = stack.sandbox.addCaller(call.room).sessionId;
    const agent = 'sip:agent@pbx.example.com';
    stack.sandbox.setScenario(agent, { kind: 'answer', afterMs: 50, hangUpAfterMs: 1500 });

    const started = await stack.transfers.start(
      request(call, [{ toEndPoint: agent, sipHeaders: { 'X-Ticket': 'T-42' }, removeSessionIds: [bot] }])
    );
    const result = await started.handle.result();

    expect(result).toMatchObject({ state: 'completed', outcome: 'answered', leg: 'in-room' });
    expect(result.attempts[0]).toMatchObject({
      method: 'dialFirst',
      outcome: 'answered',
      requests: 1,
      removedSessionIds: [bot],
      legs: [
        { leg: 0, toEndPoint: agent, outcome: 'answered', startRequests: 1, dialOutSessionId: expect.any(String) },
      ],
    });
    expect(result.attempts[0]?.legs?.[0]?.stop).toBeUndefined();
    expect(result.callDurationSec).toBeGreaterThanOrEqual(1);
    expect(starts(call).map((r) => r.body)).toEqual([
      { sipUri: `${agent}?X-Ticket=T-42`, userId: dialOutUserId(call.sessionId, 0) },
    ]);
    // Nothing moved the caller, nothing stopped the answered leg: it ended when the destination hung up.
    expect(stack.sandbox.requests({ path: 'sipCallTransfer', room: call.room })).toEqual([]);
    expect(stops(call)).toEqual([]);
    expect(stack.sandbox.participant(call.room, call.sessionId)).toMatchObject({ room: call.room, state: 'in-room' });
    expect(stack.sandbox.requests({ path: 'eject', room: call.room }).map((r) => r.body)).toEqual([{ ids: [bot] }]);
    expect(dialOutStates(call)).toEqual({ [agent]: 'stopped' });
  });

  test('the caller hangs up during the answered call: the destination is not left alone in the room', async () => {
    const call = stack.newCall();
    const agent = 'sip:long-call@team.example.com';
    stack.sandbox.setScenario(agent, { kind: 'answer', afterMs: 50 }); // never hangs up on its own

    const started = await stack.transfers.start(request(call, [{ toEndPoint: agent }]));
    await waitFor(
      'the destination on the call',
      () => stack.sandbox.dialOuts({ room: call.room, state: 'answered' }).length === 1
    );
    await waitFor(
      'the transfer following the call',
      async () => (await stack.transfers.status(started.workflowId)).state === 'answered'
    );
    await stack.daily.ejectParticipants(call.room, [call.sessionId]);
    const result = await started.handle.result();

    expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
    const [dialOut] = stack.sandbox.dialOuts({ room: call.room });
    expect(stops(call).map((r) => r.body)).toEqual([{ sessionId: dialOut!.sessionId }]);
    expect(dialOut!.state).toBe('stopped');
  });

  test('no answer: the dial-out is stopped and a sipCallTransfer fallback takes the caller', async () => {
    const call = stack.newCall();
    const nobody = '+15551230009';
    const desk = 'sip:desk@pbx.example.com';
    stack.sandbox.setScenario(nobody, { kind: 'no-answer' });
    stack.sandbox.setScenario(desk, { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });

    const started = await stack.transfers.start(
      request(call, [
        { toEndPoint: nobody, callerId: 'number-id', answerTimeoutSec: 1 },
        { method: 'sipCallTransfer', toEndPoint: desk },
      ])
    );
    const result = await started.handle.result();

    expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
    expect(result.attempts.map((a) => [a.method, a.outcome])).toEqual([
      ['dialFirst', 'no-answer'],
      ['sipCallTransfer', 'answered'],
    ]);
    const leg = result.attempts[0]!.legs![0]!;
    expect(leg).toMatchObject({ outcome: 'no-answer', stop: 'stopped', decidedBy: 'no dialout.answered within 1s' });
    expect(starts(call).map((r) => r.body)).toEqual([
      { phoneNumber: nobody, callerId: 'number-id', userId: dialOutUserId(call.sessionId, 0) },
    ]);
    expect(stops(call).map((r) => r.body)).toEqual([{ sessionId: leg.dialOutSessionId }]);
    expect(dialOutStates(call)).toEqual({ [nobody]: 'stopped' });
    expect(stack.sandbox.requests({ path: 'sipCallTransfer', room: call.room }).map((r) => r.body)).toEqual([
      { sessionId: call.sessionId, toEndPoint: desk },
    ]);
  });

  test('three rung together, the second answers: the other two are stopped, one dialOut/start each', async () => {
    const call = stack.newCall();
    const [first, second, third] = ['sip:a@team.example.com', 'sip:b@team.example.com', 'sip:c@team.example.com'];
    stack.sandbox.setScenario(first!, { kind: 'no-answer' });
    stack.sandbox.setScenario(second!, { kind: 'answer', afterMs: 300, hangUpAfterMs: 500 });
    stack.sandbox.setScenario(third!, { kind: 'no-answer' });

    const started = await stack.transfers.start(
      request(call, [{ toEndPoint: first, ringTogether: [{ toEndPoint: second! }, { toEndPoint: third! }] }])
    );
    const result = await started.handle.result();

    expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
    expect(result.attempts[0]?.decidedBy).toMatch(/^leg 2: dialout\.answered/);
    expect(result.attempts[0]?.legs?.map((l) => [l.toEndPoint, l.outcome, l.stop])).toEqual([
      [first, 'lost-race', 'stopped'],
      [second, 'answered', undefined],
      [third, 'lost-race', 'stopped'],
    ]);
    const startedFor = starts(call).map((r) => (r.body as { sipUri: string }).sipUri);
    expect(startedFor.sort()).toEqual([first, second, third].sort());
    const sessionOf = (i: number) => result.attempts[0]!.legs![i]!.dialOutSessionId;
    expect(
      stops(call)
        .map((r) => (r.body as { sessionId: string }).sessionId)
        .sort()
    ).toEqual([sessionOf(0), sessionOf(2)].sort());
    expect(dialOutStates(call)).toEqual({ [first!]: 'stopped', [second!]: 'stopped', [third!]: 'stopped' });
    expect(stack.sandbox.dialOuts({ room: call.room, state: 'ringing' })).toEqual([]);
  });

  test('two answers race: one wins, the other is hung up and recorded', async () => {
    const call = stack.newCall();
    const [left, right] = ['sip:left@team.example.com', 'sip:right@team.example.com'];
    stack.sandbox.setScenario(left!, { kind: 'answer', afterMs: 200, hangUpAfterMs: 1500 });
    stack.sandbox.setScenario(right!, { kind: 'answer', afterMs: 200, hangUpAfterMs: 1500 });

    // Both answer within milliseconds; Daily's webhooks are slower than that (here by 1.5 s), so the second answer
    // has happened before the workflow hears of the first: a real race, whatever the machine's load.
    stack.sandbox.setWebhookFaults({ delayMs: 1500 });
    let result;
    try {
      const started = await stack.transfers.start(
        request(call, [{ toEndPoint: left, ringTogether: [{ toEndPoint: right! }] }])
      );
      result = await started.handle.result();
    } finally {
      stack.sandbox.setWebhookFaults({});
    }

    expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
    const legs = result.attempts[0]!.legs!;
    expect(legs.map((l) => l.outcome).sort()).toEqual(['answered', 'answered-too-late']);
    const loser = legs.find((l) => l.outcome === 'answered-too-late')!;
    expect(loser.decidedBy).toMatch(/after leg \d won: hung up/);
    expect(loser.stop).toMatch(/^(stopped|not-running)$/);
    expect(starts(call)).toHaveLength(2);
    // The loser was hung up by dialOut/stop (it had answered: it left the room); the winner ended on its own.
    expect(stops(call).map((r) => (r.body as { sessionId: string }).sessionId)).toContain(loser.dialOutSessionId);
    expect(stops(call).map((r) => (r.body as { sessionId: string }).sessionId)).not.toContain(
      legs.find((l) => l.outcome === 'answered')!.dialOutSessionId
    );
    expect(stack.sandbox.participant(call.room, loser.dialOutSessionId!)).toMatchObject({ state: 'ended' });
    expect(stack.sandbox.dialOuts({ room: call.room }).map((d) => d.state)).toEqual(['stopped', 'stopped']);
  });

  test('a 429 on dialOut/start: nothing rang, so it is sent again after Retry-After, and answers', async () => {
    const call = stack.newCall();
    const agent = 'sip:busy-api@team.example.com';
    stack.sandbox.setScenario(agent, { kind: 'answer', afterMs: 50, hangUpAfterMs: 200 });
    stack.sandbox.queueFault({ path: 'dialOut/start', toEndPoint: agent }, { kind: 'rate-limit', retryAfterSec: 1 });

    const result = await (await stack.transfers.start(request(call, [{ toEndPoint: agent }]))).handle.result();

    expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
    expect(result.attempts[0]?.legs?.[0]).toMatchObject({ outcome: 'answered', startRequests: 2 });
    expect(starts(call).map((r) => [r.status, r.faulted])).toEqual([
      [429, 'rate-limit'],
      [200, undefined],
    ]);
    expect(stack.sandbox.dialOuts({ room: call.room })).toHaveLength(1);
  });

  test('a lost dialOut/start reply: never sent again; the leg is found by its events and stopped', async () => {
    const call = stack.newCall();
    const lost = 'sip:lost-reply@team.example.com';
    stack.sandbox.setScenario(lost, { kind: 'no-answer' });
    stack.sandbox.queueFault({ path: 'dialOut/start', toEndPoint: lost }, { kind: 'lost-response' });

    const started = await stack.transfers.start(request(call, [{ toEndPoint: lost, answerTimeoutSec: 2 }]));
    const result = await started.handle.result();

    const [dialOut] = stack.sandbox.dialOuts({ room: call.room });
    expect(starts(call)).toHaveLength(1);
    expect(starts(call)[0]?.faulted).toBe('lost-response');
    expect(result).toMatchObject({ state: 'failed', outcome: 'no-answer' });
    expect(result.needsAttention).toBeUndefined();
    expect(result.attempts[0]?.legs).toEqual([
      expect.objectContaining({
        outcome: 'no-answer',
        startRequests: 1,
        dialOutSessionId: dialOut!.sessionId,
        stop: 'stopped',
        // Its first event named it (by the userId) before the ring budget ran out; the stop's own event follows.
        events: [
          expect.objectContaining({ type: 'dialout.connected', acted: true }),
          expect.objectContaining({ type: 'dialout.stopped', acted: true }),
        ],
      }),
    ]);
    expect(stops(call).map((r) => r.body)).toEqual([{ sessionId: dialOut!.sessionId }]);
    expect(dialOut!.state).toBe('stopped');
  });

  test("Daily's session limit: five rung together with the caller already in the room, one is refused", async () => {
    const call = stack.newCall(); // the caller is one of the room's max_sip_pstn_sessions_per_room (5)
    const team = ['a', 'b', 'c', 'd', 'e'].map((name) => `sip:${name}@limit.example.com`);
    for (const member of team) stack.sandbox.setScenario(member, { kind: 'no-answer' });

    const started = await stack.transfers.start(
      request(call, [
        { toEndPoint: team[0], answerTimeoutSec: 1, ringTogether: team.slice(1).map((t) => ({ toEndPoint: t })) },
      ])
    );
    const result = await started.handle.result();

    const legs = result.attempts[0]!.legs!;
    const refused = legs.filter((l) => l.outcome === 'api-error');
    expect(refused).toEqual([
      expect.objectContaining({
        startRequests: 1,
        decidedBy: expect.stringMatching(/max_sip_pstn_sessions_per_room \(5\) reached/),
      }),
    ]);
    expect(refused[0]?.stop).toBeUndefined();
    expect(legs.filter((l) => l.outcome === 'no-answer' && l.stop === 'stopped')).toHaveLength(4);
    expect(result).toMatchObject({ state: 'failed', outcome: 'no-answer' });
    expect(
      starts(call)
        .map((r) => r.status)
        .sort()
    ).toEqual([200, 200, 200, 200, 400]);
    expect(stops(call)).toHaveLength(4);
    expect(stack.sandbox.dialOuts({ room: call.room }).map((d) => d.state)).toEqual(Array(4).fill('stopped'));
  });

  test('decide(): the backend learns the answer in one round trip, while the call goes on', async () => {
    const call = stack.newCall();
    const agent = 'sip:decide@team.example.com';
    stack.sandbox.setScenario(agent, { kind: 'answer', afterMs: 50, hangUpAfterMs: 1500 });

    const { decision, workflowId } = await stack.transfers.decide({
      ...request(call, [{ toEndPoint: agent }]),
      requestId: 'r-1',
    });

    expect(decision).toMatchObject({ state: 'answered', outcome: 'answered' });
    expect(decision.attempts[0]?.legs?.[0]).toMatchObject({ outcome: 'answered' });
    expect(stack.sandbox.dialOuts({ room: call.room }).map((d) => d.state)).toEqual(['answered']);
    expect(await stack.transfers.result(workflowId)).toMatchObject({ state: 'completed' });
  });

  test('cancel mid-ring: every leg is stopped, the caller stays in the room', async () => {
    const call = stack.newCall();
    const [one, two] = ['+15551230011', 'sip:two@team.example.com'];
    stack.sandbox.setScenario(one!, { kind: 'no-answer' });
    stack.sandbox.setScenario(two!, { kind: 'no-answer' });

    const started = await stack.transfers.start(
      request(call, [{ toEndPoint: one, answerTimeoutSec: 60, ringTogether: [{ toEndPoint: two! }] }])
    );
    await waitFor(
      'both legs ringing',
      () => stack.sandbox.dialOuts({ room: call.room, state: 'ringing' }).length === 2
    );
    const canceled = await stack.transfers.cancel(started.workflowId, 'operator');

    expect(canceled).toMatchObject({ state: 'canceled', outcome: 'canceled', canceledBy: 'operator', leg: 'in-room' });
    expect(canceled.attempts[0]?.legs?.map((l) => [l.outcome, l.stop])).toEqual([
      ['canceled', 'stopped'],
      ['canceled', 'stopped'],
    ]);
    expect(stops(call)).toHaveLength(2);
    expect(dialOutStates(call)).toEqual({ [one!]: 'stopped', [two!]: 'stopped' });
    expect(stack.sandbox.participant(call.room, call.sessionId)).toMatchObject({ state: 'in-room' });
  });

  test('the caller hangs up mid-ring: every leg is stopped and the transfer fails with caller-hung-up', async () => {
    const call = stack.newCall();
    const [one, two] = ['sip:one@team.example.com', 'sip:two@team.example.com'];
    stack.sandbox.setScenario(one!, { kind: 'no-answer' });
    stack.sandbox.setScenario(two!, { kind: 'no-answer' });

    const started = await stack.transfers.start(
      request(call, [{ toEndPoint: one, answerTimeoutSec: 60, ringTogether: [{ toEndPoint: two! }] }], {
        onExhausted: { action: 'rollback' },
      })
    );
    await waitFor(
      'both legs ringing',
      () => stack.sandbox.dialOuts({ room: call.room, state: 'ringing' }).length === 2
    );
    await stack.daily.ejectParticipants(call.room, [call.sessionId]);
    const result = await started.handle.result();

    expect(result).toMatchObject({ state: 'failed', outcome: 'caller-hung-up', leg: 'gone' });
    expect(result.fallback).toBeUndefined();
    expect(result.attempts[0]?.legs?.map((l) => [l.outcome, l.stop])).toEqual([
      ['caller-hung-up', 'stopped'],
      ['caller-hung-up', 'stopped'],
    ]);
    expect(stops(call)).toHaveLength(2);
    expect(dialOutStates(call)).toEqual({ [one!]: 'stopped', [two!]: 'stopped' });
  });
});
