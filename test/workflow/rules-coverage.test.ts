/**
 * The leg model's rules table (`src/workflows/README.md`, "Rules: we know … → we do …"), row by row, from outside:
 * a real Temporal dev server, the sandbox over HTTP, webhooks through the real relay, under both of the sandbox's
 * event models (`docs`, `extended`).
 *
 * Coverage map. "TC" is `test/workflow/transfer-call.test.ts`, "crash" is `test/workflow/crash.test.ts`, "here" is
 * this file. Every test named runs under both models.
 *
 * | row (we know …)                                                    | tests                                                                                                                                                                                                                                                   |
 * | ------------------------------------------------------------------ | ------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------- |
 * | a 2xx, whatever its body                                           | TC "a 2xx whose body does not parse is success: taken once, no next destination" (and every answered test)                                                                                                                                            |
 * | a 429 or a request that never reached Daily (connection refused)   | TC "429: waits for Retry-After, then sends again"; TC "Retry-After is capped: 600 s asked, maxRetryAfterSec 1 obeyed"; here "429 without Retry-After: backs off, at most 5 requests, then api-error"; here "Retry-After is capped at the ring budget"; connection refused: not reproducible with the sandbox (see below) |
 * | a documented 4xx on the first request for an attempt               | TC "404 invalid session: a typed, non-retried API error"; TC "none with a caller who never left the room" (Room not in SFU mode); here "leg in the room after a 4xx: hangup …" / "… refer …" (Call closed)                                          |
 * | a 4xx after an unknown request for the same attempt                | here "a 4xx after a lost response is evidence about the first request: its events decide" (400 Call closed); here "a 404 after a lost response: the ringing leg is followed to its ring budget and then ended, never stranded" |
 * | "invalid sessionId" while the leg is out of the room               | late answered: TC "an answer just after the ring timeout, then a 404 for the next request"; else: here "invalid sessionId out of the room, then the caller hangs up within the window: caller-hung-up"; nothing in the window: TC "a ringing leg cannot be re-targeted …" |
 * | an unknown request and then any event for this attempt             | TC "a response lost after the transfer took effect: reconciled from `triggered`, never sent twice"; TC "a response lost on the second destination …"; crash "a SIGKILLed worker loses no transfer and repeats no transfer request" (worker lost mid-request) |
 * | an unknown request, no event, the leg in the room before it        | still in the room: TC "5xx: reconciles (no triggered, leg still in the room), then sends again"; not there: TC "presence lags: a reconcile window longer than the lag keeps a lost response from being sent twice"; TC "presence lags: a window shorter than the lag sends a lost request again (the stated limit)" |
 * | an unknown request, no event, the leg already out of the room      | TC "5xx on the second destination: never confirmed, so never sent again; unknown, and flagged" (none); here "unknown on the second destination: flagged, and the rollback still proceeds"; TC "5xx on the rollback …"                              |
 * | `answered` within the ring budget                                  | TC "room to room …", "external SIP endpoint", "PSTN with a callerId and an extension" (followed to `completed`); here "an answered call that never ends is followed for maxCallDurationSec, then the transfer ends"                                   |
 * | `answered` just after the ring budget, before a later request      | TC "an answer just after the ring timeout, then a 404 for the next request" (`ringingLegTransfer: refuse`); here "nothing is sent to the connected caller: the waiting attempt is called off …" (next request held by a 429) |
 * | `completed` with a status                                          | busy: TC "busy"; canceled: TC "the caller hangs up while it rings"; here "a rejected destination", "a destination that fails (error)" (extended: status decides; docs: nothing is sent, the ring budget decides); here "completed with completeStatus no-answer (signed webhook)" |
 * | `completed` without status and no `answered`                       | here "completed without status and no answered: answered, and the leg is gone" (signed webhook); TC "reordered events (answered before initiated) …" meets it under docs without asserting the reason                                               |
 * | `completed` naming an earlier destination                          | TC "while following an answered call, a late completed naming an earlier destination is only recorded"                                                                                                                                                |
 * | REFER: `completed` with SIP codes                                  | TC "REFER rejected" (extended: REFER 603); TC "SIP REFER back to the originating system" (extended: NOTIFY 200)                                                                                                                                      |
 * | REFER: `initiated` and the leg seen leaving after the request      | TC "SIP REFER back to the originating system"; TC "no answer → REFER to the PBX" is the leg-already-out case                                                                                                                                       |
 * | REFER: `initiated`, the leg already out of the room before it      | TC "no answer → REFER fallback sent after the leg left the room is confirmed by its initiated"                                                                                                                                                     |
 * | REFER: only `triggered` until the ring budget                      | TC "REFER rejected" (docs: no-answer, leg in-room); TC "REFER rejected (603) then rollback: the caller never left the room …" (docs: presence settles it)                                                                                         |
 * | two `dialin.stopped`, or one while no request could move the leg   | two: TC "the caller hangs up while it rings"; TC "a busy leg is dropped …" (docs); one: here "the caller hangs up in the room while the request waits out a 429: caller-hung-up, nothing more sent"                                                  |
 * | `dialin.error` / `dialout.error`                                   | TC "the caller's own leg failing (dialin.error) …" (extended: refines the `completed` `failed` that comes first); TC "a dial-out caller's leg failing (dialout.error …)"                                                                           |
 * | every attempt decided, the leg in the room                         | rollback: TC "REFER rejected (603) then rollback …"; none: TC "none with a caller who never left the room …"; hangup/refer: here "leg in the room after a 4xx: hangup ejects it as asked", "leg in the room after a 4xx: refer sends the REFER as asked" |
 * | every attempt decided, the leg out of the room                     | TC "no answer → rollback …", "no answer → REFER to the PBX", "no answer → hang up", "no answer → none …"; not cancellable: TC "a cancel while the fallback waits out a 429 …"; retried eject: here "the eject after a 5xx is sent again: idempotent" |
 * | a cancel while trying destinations                                 | ring: TC "the cancel update while it rings …", TC "Temporal's own cancel does the same cleanup"; Retry-After: TC "a cancel during a long Retry-After is seen at once …"; reconcile: here "a cancel during the reconcile wait ends it at once …"     |
 * | a cancel (or Temporal's cancel) during cleanup/fallback            | TC "a cancel while the fallback waits out a 429 changes only the recorded reason …"; TC "the cancel update returns the final state while Temporal's own cancel is cleaning up"                                                                      |
 *
 * Not reproducible from outside with the sandbox: a transfer request that never reaches Daily (connection refused).
 * The sandbox answers every request that reaches its socket (its faults are 5xx, 429, a destroyed socket after the
 * effect, latency, an unreadable 2xx, call-closed); a refused connection needs the Daily API's port closed while the
 * worker sends, and the stack's worker has one Daily client bound to the sandbox. The 429 half of the row, which takes
 * the same path in the workflow (`not-sent`), is covered.
 *
 * Events that the sandbox never sends on its own (a `completed` with `completeStatus: no-answer`, a `completed`
 * without status and without `answered` under either model) are posted as Daily would: signed, through the relay.
 */
import { statusQuery } from '../../src/shared';
import { startStack, type TestStack } from '../helpers/stack';
import { type Call, transferHelpers, transferRequest as request } from '../helpers/transfers';
import { waitFor } from '../helpers/wait';

let stack: TestStack;

const { transfer, transferRequests, postWebhook } = transferHelpers(() => stack);
const sentTo = (call: Call) =>
  transferRequests(call).map((r) => `${(r.body as { toEndPoint: string }).toEndPoint} ${r.status}`);
const ejects = (call: Call) => stack.sandbox.requests({ path: 'eject', room: call.room });
const presence = (call: Call) => stack.sandbox.requests({ path: 'presence', room: call.room });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(['docs', 'extended'] as const)("under Daily's %s event model", (model) => {
  const extended = model === 'extended';
  beforeAll(async () => {
    stack = await startStack({ sandbox: { model: { completedStatus: model } } });
  });
  afterAll(async () => {
    await stack?.close();
  });
  afterEach(() => {
    stack.sandbox.setModel({
      ringingLegTransfer: 'retarget',
      failedTransferLeg: 'parked',
      ejectOutsideRoom: 'ends',
      presenceLagMs: 0,
    });
    stack.sandbox.setWebhookFaults({});
  });

  describe('row: a 429 → nothing happened: wait (capped), send again, at most 5 requests', () => {
    test('429 without Retry-After: backs off, at most 5 requests, then api-error', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:throttled@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit' }, 5);

      // The backoff (1 s, 2 s, 4 s, …) is capped by the attempt's ring budget: 1 s each.
      const result = await transfer(call, [{ toEndPoint: 'sip:throttled@pbx.example.com', answerTimeoutSec: 1 }]);

      expect(result).toMatchObject({ state: 'failed', outcome: 'api-error', leg: 'in-room' });
      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([['api-error', 5]]);
      expect(result.attempts[0]?.decidedBy).toBe('gave up after 5 transfer requests');
      expect(result.fallback).toBeUndefined();
      const sent = transferRequests(call);
      expect(sent.map((r) => [r.status, r.faulted])).toEqual(Array(5).fill([429, 'rate-limit']));
      for (let i = 1; i < sent.length; i++) expect(sent[i]!.at - sent[i - 1]!.at).toBeGreaterThanOrEqual(900);
      // Uncapped, the last wait would be the 8 s backoff step.
      expect(sent[4]!.at - sent[3]!.at).toBeLessThan(4000);
      expect(ejects(call)).toEqual([]);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('in-room');
    });

    test('Retry-After is capped at the ring budget: 600 s asked, maxRetryAfterSec 30, answerTimeoutSec 2', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit', retryAfterSec: 600 });
      stack.sandbox.setScenario('sip:budget@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });

      const result = await transfer(call, [{ toEndPoint: 'sip:budget@pbx.example.com', answerTimeoutSec: 2 }], {
        maxRetryAfterSec: 30,
      });

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(result.attempts[0]?.requests).toBe(2);
      const sent = transferRequests(call);
      expect(sent.map((r) => r.status)).toEqual([429, 200]);
      // Waited the ring budget (2 s), not Retry-After (600 s) nor maxRetryAfterSec (30 s).
      expect(sent[1]!.at - sent[0]!.at).toBeGreaterThanOrEqual(1900);
      expect(sent[1]!.at - sent[0]!.at).toBeLessThan(15_000);
    });
  });

  describe('row: a documented 4xx on the first request, then every attempt decided with the leg in the room', () => {
    test('leg in the room after a 4xx: hangup ejects it as asked', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'call-closed' });

      const result = await transfer(call, [{ toEndPoint: 'sip:closed-call@pbx.example.com' }], {
        onExhausted: { action: 'hangup' },
      });

      expect(result).toMatchObject({ state: 'failed', outcome: 'api-error', leg: 'gone' });
      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([['api-error', 1]]);
      expect(result.attempts[0]?.decidedBy).toMatch(/Call closed before command could be delivered/);
      expect(result.fallback).toMatchObject({ action: 'hangup', ok: true });
      expect(transferRequests(call).map((r) => r.status)).toEqual([400]);
      expect(ejects(call).map((r) => r.body)).toEqual([{ ids: [call.sessionId] }]);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('ended');
    });

    test('leg in the room after a 4xx: refer sends the REFER as asked', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'call-closed' });
      stack.sandbox.setScenario('sip:pbx-in-room@pbx.example.com', { kind: 'refer-accept' });

      const result = await transfer(call, [{ toEndPoint: 'sip:closed-call-2@pbx.example.com' }], {
        onExhausted: { action: 'refer', toEndPoint: 'sip:pbx-in-room@pbx.example.com' },
      });

      expect(result).toMatchObject({ state: 'referred', outcome: 'api-error', leg: 'referred' });
      expect(result.fallback).toMatchObject({
        action: 'refer',
        ok: true,
        toEndPoint: 'sip:pbx-in-room@pbx.example.com',
      });
      expect(transferRequests(call).map((r) => r.status)).toEqual([400]);
      expect(transferRequests(call, 'sipRefer').map((r) => [r.body, r.status])).toEqual([
        [{ sessionId: call.sessionId, toEndPoint: 'sip:pbx-in-room@pbx.example.com' }, 200],
      ]);
      expect(ejects(call)).toEqual([]);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('transferred');
    });
  });

  describe('row: a 4xx after an unknown request for the same attempt', () => {
    test('a 4xx after a lost response is evidence about the first request: its events decide', async () => {
      // The first request takes effect but its response is lost; Daily's webhooks are late (5 s) and presence lags
      // (4.5 s), so after the reconcile window (3 s) presence still lists the leg and the workflow sends again. That
      // second request is refused (400 Call closed, no effect): not an outcome. The late events of the first decide.
      stack.sandbox.setModel({ presenceLagMs: 4500 });
      stack.sandbox.setWebhookFaults({ delayMs: 5000 });
      stack.sandbox.setScenario('sip:taken-first@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'lost-response' });
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'call-closed' });
      const call = stack.newCall();
      // Presence lags both ways: the caller must have been in the room for longer than the lag.
      await sleep(5000);

      const result = await transfer(call, [{ toEndPoint: 'sip:taken-first@pbx.example.com', answerTimeoutSec: 30 }], {
        reconcileWindowSec: 3,
      });

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([['answered', 2]]);
      expect(result.attempts[0]?.decidedBy).toMatch(/calltransfer\.answered/);
      expect(result.needsAttention).toBeUndefined();
      expect(transferRequests(call).map((r) => [r.status, r.faulted])).toEqual([
        [200, 'lost-response'],
        [400, 'call-closed'],
      ]);
      expect(presence(call)).toHaveLength(1);
    });
  });

  describe('row: a 4xx after an unknown request for the same attempt (404 invalid sessionId)', () => {
    test('a 404 after a lost response: the ringing leg is followed to its ring budget and then ended, never stranded', async () => {
      // As above, but the second request meets a leg that rings outside the room and Daily refuses to re-target it
      // (404 invalid sessionId). That says the first request moved the leg, not that the leg ended.
      stack.sandbox.setModel({ presenceLagMs: 4500, ringingLegTransfer: 'refuse' });
      stack.sandbox.setWebhookFaults({ delayMs: 5000 });
      stack.sandbox.setScenario('sip:rings-after-lost@pbx.example.com', { kind: 'no-answer' });
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'lost-response' });
      const call = stack.newCall();
      await sleep(5000);

      const result = await transfer(
        call,
        [{ toEndPoint: 'sip:rings-after-lost@pbx.example.com', answerTimeoutSec: 8 }],
        {
          reconcileWindowSec: 3,
        }
      );

      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([['no-answer', 2]]);
      expect(sentTo(call)).toEqual([
        'sip:rings-after-lost@pbx.example.com 200',
        'sip:rings-after-lost@pbx.example.com 404',
      ]);
      // `none`: the leg the first request left ringing is ended, not abandoned.
      expect(result).toMatchObject({ state: 'failed', fallback: { action: 'none', ok: true } });
      expect(ejects(call)).toHaveLength(1);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('ended');
    });
  });

  describe('row: an earlier destination answered late while the next request waits out a 429', () => {
    test('nothing is sent to the connected caller: the waiting attempt is called off and the call is followed', async () => {
      stack.sandbox.setScenario('sip:answers-late@pbx.example.com', { kind: 'answer', afterMs: 1500 });
      stack.sandbox.setScenario('sip:never-reached@pbx.example.com', { kind: 'no-answer' });
      stack.sandbox.queueFault(
        { path: 'sipCallTransfer', toEndPoint: 'sip:never-reached@pbx.example.com' },
        { kind: 'rate-limit', retryAfterSec: 3 }
      );
      const call = stack.newCall();

      const result = await transfer(
        call,
        [
          { toEndPoint: 'sip:answers-late@pbx.example.com', answerTimeoutSec: 1 },
          { toEndPoint: 'sip:never-reached@pbx.example.com', answerTimeoutSec: 5 },
        ],
        { maxCallDurationSec: 3 }
      );

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(result.attempts.map((a) => a.outcome)).toEqual(['no-answer', 'canceled']);
      expect(result.attempts[1]?.decidedBy).toMatch(/not sent: the caller is with destination 1/);
      expect(sentTo(call)).toEqual(['sip:answers-late@pbx.example.com 200', 'sip:never-reached@pbx.example.com 429']);
    });
  });

  describe('row: "invalid sessionId" while the leg is out of the room', () => {
    test('invalid sessionId out of the room, then the caller hangs up within the window: caller-hung-up', async () => {
      stack.sandbox.setModel({ ringingLegTransfer: 'refuse' });
      stack.sandbox.setScenario('sip:hangs-up-later@pbx.example.com', { kind: 'caller-hangs-up', afterMs: 2500 });
      const call = stack.newCall();

      const result = await transfer(
        call,
        [
          { toEndPoint: 'sip:hangs-up-later@pbx.example.com', answerTimeoutSec: 1 },
          { toEndPoint: 'sip:refused-next@pbx.example.com', answerTimeoutSec: 5 },
        ],
        { reconcileWindowSec: 10, onExhausted: { action: 'rollback' } }
      );

      expect(result).toMatchObject({ state: 'failed', outcome: 'caller-hung-up', leg: 'gone' });
      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([
        ['no-answer', 1],
        ['caller-hung-up', 1],
      ]);
      expect(result.attempts[1]?.decidedBy).toMatch(/second dialin\.stopped/);
      expect(result.needsAttention).toBeUndefined();
      expect(result.fallback).toBeUndefined();
      expect(sentTo(call)).toEqual(['sip:hangs-up-later@pbx.example.com 200', 'sip:refused-next@pbx.example.com 404']);
      expect(ejects(call)).toEqual([]);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('ended');
    });
  });

  describe('row: an unknown request, no event, the leg already out of the room', () => {
    test('unknown on the second destination: flagged, and the rollback still proceeds', async () => {
      const first = 'sip:first-ringing@pbx.example.com';
      const second = 'sip:second-5xx@pbx.example.com';
      stack.sandbox.setScenario(first, { kind: 'no-answer' });
      stack.sandbox.setScenario(second, { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer', toEndPoint: second }, { kind: 'server-error', status: 503 });

      const result = await transfer(
        call,
        [
          { toEndPoint: first, answerTimeoutSec: 1 },
          { toEndPoint: second, answerTimeoutSec: 2 },
        ],
        { onExhausted: { action: 'rollback' } }
      );

      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([
        ['no-answer', 1],
        ['unknown', 1],
      ]);
      expect(result.needsAttention).toMatch(/attempt 2: request outcome unknown/);
      expect(result).toMatchObject({ state: 'rolled_back' });
      expect(result.fallback).toMatchObject({ action: 'rollback', ok: true, toEndPoint: call.roomSipUri });
      expect(sentTo(call)).toEqual([`${first} 200`, `${second} 503`, `${call.roomSipUri} 200`]);
      // Presence cannot tell for a leg already out of the room: never asked.
      expect(presence(call)).toEqual([]);
    });
  });

  describe('row: answered within the ring budget → followed, bounded by maxCallDurationSec', () => {
    test('an answered call that never ends is followed for maxCallDurationSec, then the transfer ends', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:endless@pbx.example.com', { kind: 'answer', afterMs: 50 });
      const started = await stack.transfers.start(
        request(call, [{ toEndPoint: 'sip:endless@pbx.example.com' }], { maxCallDurationSec: 2 })
      );
      await waitFor('answered', async () => (await started.handle.query(statusQuery)).state === 'answered');
      const answeredAt = Date.now();

      const result = await started.handle.result();

      expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(1500);
      expect(result).toMatchObject({ state: 'completed', outcome: 'answered', leg: 'connected' });
      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([['answered', 1]]);
      // No `completed` came: no duration is made up, and the call the caller is on is left alone.
      expect(result.callDurationSec).toBeUndefined();
      expect(transferRequests(call)).toHaveLength(1);
      expect(ejects(call)).toEqual([]);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('transferred');
    });
  });

  describe('row: completed with a status → that status decides', () => {
    test('a rejected destination', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:declines@pbx.example.com', { kind: 'reject', afterMs: 50 });

      const result = await transfer(call, [{ toEndPoint: 'sip:declines@pbx.example.com', answerTimeoutSec: 2 }]);

      // Under docs Daily sends nothing for a failure: the ring budget decides.
      expect(result).toMatchObject({ state: 'failed', outcome: extended ? 'rejected' : 'no-answer' });
      expect(result.attempts[0]?.decidedBy).toMatch(
        extended ? /completeStatus "rejected"/ : /no calltransfer\.answered within 2s/
      );
      expect(transferRequests(call)).toHaveLength(1);
      // The leg is parked outside the room; `none` ends it rather than leave it with nobody in charge.
      expect(result.fallback).toMatchObject({ action: 'none', ok: true, detail: expect.stringMatching(/leg ended/) });
      expect(ejects(call)).toHaveLength(1);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('ended');
    });

    test('a destination that fails (error)', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:broken@pbx.example.com', { kind: 'error', afterMs: 50 });

      const result = await transfer(call, [{ toEndPoint: 'sip:broken@pbx.example.com', answerTimeoutSec: 2 }], {
        onExhausted: { action: 'rollback' },
      });

      expect(result.attempts.map((a) => a.outcome)).toEqual([extended ? 'failed' : 'no-answer']);
      expect(result.attempts[0]?.decidedBy).toMatch(
        extended ? /completeStatus "failed"/ : /no calltransfer\.answered within 2s/
      );
      expect(result).toMatchObject({ state: 'rolled_back' });
      expect(result.fallback).toMatchObject({ action: 'rollback', ok: true, toEndPoint: call.roomSipUri });
      expect(sentTo(call)).toEqual(['sip:broken@pbx.example.com 200', `${call.roomSipUri} 200`]);
    });

    test('completed with completeStatus no-answer (signed webhook): no-answer before the ring budget', async () => {
      const call = stack.newCall();
      const dest = 'sip:rings-out@pbx.example.com';
      stack.sandbox.setScenario(dest, { kind: 'no-answer' });
      const started = await stack.transfers.start(request(call, [{ toEndPoint: dest, answerTimeoutSec: 60 }]));
      await waitFor('ringing', async () => (await started.handle.query(statusQuery)).state === 'initiated');

      const id = `completed-no-answer-${call.sessionId}`;
      await postWebhook(transferEvent('calltransfer.completed', id, call, dest, { completeStatus: 'no-answer' }));
      const result = await started.handle.result();

      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([['no-answer', 1]]);
      expect(result.attempts[0]?.decidedBy).toBe(`calltransfer.completed with completeStatus "no-answer" (${id})`);
      expect(result).toMatchObject({ state: 'failed' });
      expect(transferRequests(call)).toHaveLength(1);
    });
  });

  describe('row: completed without status and no answered', () => {
    test('completed without status and no answered: answered, and the leg is gone', async () => {
      const call = stack.newCall();
      const dest = 'sip:silent-answer@pbx.example.com';
      stack.sandbox.setScenario(dest, { kind: 'no-answer' });
      const started = await stack.transfers.start(
        request(call, [{ toEndPoint: dest, answerTimeoutSec: 60 }], { onExhausted: { action: 'rollback' } })
      );
      await waitFor('ringing', async () => (await started.handle.query(statusQuery)).state === 'initiated');

      // Daily's `answered` is lost; only the call's end arrives, in Daily's documented wording (no status).
      const id = `completed-bare-${call.sessionId}`;
      await postWebhook(transferEvent('calltransfer.completed', id, call, dest));
      const result = await started.handle.result();

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered', leg: 'gone' });
      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([['answered', 1]]);
      expect(result.attempts[0]?.decidedBy).toMatch(/calltransfer\.completed without status/);
      expect(result.callDurationSec).toBeUndefined();
      expect(result.fallback).toBeUndefined();
      expect(transferRequests(call)).toHaveLength(1);
      expect(ejects(call)).toEqual([]);
    });
  });

  describe('row: one dialin.stopped while no request could have moved the leg', () => {
    test('the caller hangs up in the room while the request waits out a 429: caller-hung-up, nothing more sent', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit', retryAfterSec: 2 });
      const started = await stack.transfers.start(
        request(call, [{ toEndPoint: 'sip:never-reached@pbx.example.com', answerTimeoutSec: 10 }], {
          onExhausted: { action: 'rollback' },
        })
      );
      await waitFor('the 429', () => transferRequests(call).length === 1);

      // The caller hangs up in the room (Daily: participant.left + dialin.stopped); here through Daily's eject.
      expect(await stack.daily.ejectParticipants(call.room, [call.sessionId])).toEqual([call.sessionId]);
      const result = await started.handle.result();

      expect(result).toMatchObject({ state: 'failed', outcome: 'caller-hung-up', leg: 'gone' });
      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([['caller-hung-up', 1]]);
      expect(result.attempts[0]?.decidedBy).toMatch(/dialin\.stopped before any transfer took effect/);
      expect(result.fallback).toBeUndefined();
      expect(transferRequests(call).map((r) => r.status)).toEqual([429]);
      expect(ejects(call)).toHaveLength(1); // ours, not the workflow's
    });
  });

  describe('row: every attempt decided, the leg out of the room → eject (idempotent, may be retried)', () => {
    test('the eject after a 5xx is sent again: idempotent', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:rings-on@pbx.example.com', { kind: 'no-answer' });
      stack.sandbox.queueFault({ path: 'eject' }, { kind: 'server-error', status: 503 });

      const result = await transfer(call, [{ toEndPoint: 'sip:rings-on@pbx.example.com', answerTimeoutSec: 1 }], {
        onExhausted: { action: 'hangup' },
      });

      expect(result).toMatchObject({ state: 'failed', outcome: 'no-answer', leg: 'gone' });
      expect(result.fallback).toMatchObject({ action: 'hangup', ok: true });
      expect(ejects(call).map((r) => [r.body, r.status])).toEqual([
        [{ ids: [call.sessionId] }, 503],
        [{ ids: [call.sessionId] }, 200],
      ]);
      expect(transferRequests(call)).toHaveLength(1);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('ended');
    });
  });

  describe('row: a cancel while trying destinations ends every wait at once', () => {
    test('a cancel during the reconcile wait ends it at once; cleanup runs since the leg may be out', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:reconciling@pbx.example.com', { kind: 'no-answer' });
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'lost-response' });
      // Daily's word on the lost request comes late: the workflow sits in its reconcile window (60 s).
      stack.sandbox.setWebhookFaults({ delayMs: 20_000 });
      const started = await stack.transfers.start(
        request(call, [{ toEndPoint: 'sip:reconciling@pbx.example.com', answerTimeoutSec: 120 }], {
          reconcileWindowSec: 60,
        })
      );
      await waitFor('the lost request', () => transferRequests(call).length === 1);
      await sleep(300);

      const canceledAt = Date.now();
      const final = await stack.transfers.cancel(started.workflowId, 'operator gave up');

      expect(Date.now() - canceledAt).toBeLessThan(15_000);
      expect(final).toMatchObject({ state: 'canceled', canceledBy: 'operator gave up', leg: 'gone' });
      expect(final.attempts.map((a) => [a.outcome, a.requests])).toEqual([['canceled', 1]]);
      // The request may have moved the leg: presence (asked once, in cleanup) says it is out, so `none` ends it.
      expect(presence(call)).toHaveLength(1);
      expect(final.fallback).toMatchObject({ action: 'none', ok: true, detail: expect.stringMatching(/leg ended/) });
      expect(ejects(call).map((r) => r.body)).toEqual([{ ids: [call.sessionId] }]);
      expect(transferRequests(call).map((r) => [r.status, r.faulted])).toEqual([[200, 'lost-response']]);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('ended');
    });
  });
});

/** A signed `calltransfer.*` webhook for the call's leg, as Daily would send it (timestamp in seconds). */
function transferEvent(type: string, id: string, call: Call, toEndPoint: string, extra: Record<string, unknown> = {}) {
  return {
    version: '1.0.0',
    type,
    id,
    event_ts: Date.now() / 1000,
    payload: {
      room: call.room,
      session_id: call.sessionId,
      to_endpoint: toEndPoint,
      timestamp: String(Math.floor(Date.now() / 1000)),
      ...extra,
    },
  };
}
