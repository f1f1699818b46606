/**
 * `transferCall` end to end: a real Temporal dev server, the sandbox over HTTP, webhooks through the real relay.
 * Every test asserts both the workflow's result and the exact requests Daily (the sandbox) received.
 */
import { WithStartWorkflowOperation, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { DEFAULT_DOMAIN_ID } from '../../src/sandbox';
import { TransferAlreadyRunningError } from '../../src/client/transfers';
import { parseTransferRequest, TransferInputError } from '../../src/input';
import { TRANSFER_WORKFLOW_TYPE, cancelUpdate, statusQuery, transferWorkflowId } from '../../src/shared';
import type { transferCall } from '../../src/workflows';
import { startStack, type TestStack } from '../helpers/stack';
import { type Call, transferHelpers, transferRequest as request } from '../helpers/transfers';
import { waitFor } from '../helpers/wait';

let stack: TestStack;

const { transfer, transferRequests, postWebhook } = transferHelpers(() => stack);

/**
 * Every test runs under the model Daily documents (`docs`: no failure statuses, nothing after `initiated` for a
 * REFER) and under Daily's newer schema (`extended`: `completed` with `completeStatus` and SIP codes).
 */
describe.each(['docs', 'extended'] as const)("under Daily's %s event model", (model) => {
  const extended = model === 'extended';
  beforeAll(async () => {
    stack = await startStack({ sandbox: { model: { completedStatus: model } } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  describe("Daily's four transfer scenarios", () => {
    test('room to room: the caller lands in the other room and the call is followed to its end', async () => {
      const call = stack.newCall();
      const target = stack.newCall();
      stack.sandbox.setScenario(target.roomSipUri, { kind: 'answer', afterMs: 50, hangUpAfterMs: 1200 });

      const result = await transfer(call, [{ toEndPoint: target.roomSipUri }]);

      expect(result.state).toBe('completed');
      expect(result.outcome).toBe('answered');
      expect(result.attempts[0]?.decidedBy).toMatch(/calltransfer\.answered/);
      expect(result.callDurationSec).toBeGreaterThanOrEqual(0);
      expect(result.lateEvents).toEqual([]);
      expect(transferRequests(call).map((r) => r.body)).toEqual([
        { sessionId: call.sessionId, toEndPoint: target.roomSipUri },
      ]);
      // The caller really arrived: a leg in the other room, under the new session id Daily gives it there.
      const moved = stack.sandbox.participant(call.room, call.sessionId);
      expect(moved).toMatchObject({ room: target.room, sessionId: expect.any(String) });
      expect(stack.sandbox.emittedEvents()).toContainEqual(
        expect.objectContaining({
          type: 'participant.joined',
          payload: expect.objectContaining({ room: target.room, session_id: moved!.sessionId }),
        })
      );
    });

    test('external SIP endpoint', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:agent@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });

      const result = await transfer(call, [{ toEndPoint: 'sip:agent@pbx.example.com' }]);

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(result.attempts[0]?.events.map((e) => e.type)).toEqual(
        expect.arrayContaining(['calltransfer.triggered', 'calltransfer.initiated', 'calltransfer.answered'])
      );
      expect(transferRequests(call)).toHaveLength(1);
    });

    test('PSTN with a callerId and an extension', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('+15551230001', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });

      const result = await transfer(call, [
        {
          toEndPoint: '+15551230001',
          callerId: 'purchased-number-id',
          extension: '123',
          waitBeforeExtensionDialSec: 2,
        },
      ]);

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(transferRequests(call).map((r) => r.body)).toEqual([
        {
          sessionId: call.sessionId,
          toEndPoint: '+15551230001',
          callerId: 'purchased-number-id',
          extension: '123',
          waitBeforeExtensionDialSec: 2,
        },
      ]);
    });

    test('SIP REFER back to the originating system', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:ivr@pbx.example.com', { kind: 'refer-accept' });

      const result = await transfer(call, [{ method: 'sipRefer', toEndPoint: 'sip:ivr@pbx.example.com' }]);

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(transferRequests(call, 'sipRefer').map((r) => r.body)).toEqual([
        { sessionId: call.sessionId, toEndPoint: 'sip:ivr@pbx.example.com' },
      ]);
      expect(transferRequests(call)).toHaveLength(0);
    });
  });

  describe('when the destination does not take the call', () => {
    const ringing = 'sip:nobody@pbx.example.com';
    beforeAll(() => stack.sandbox.setScenario(ringing, { kind: 'no-answer' }));

    test('no answer → rollback to the room the caller came from', async () => {
      const call = stack.newCall();
      const result = await transfer(call, [{ toEndPoint: ringing, answerTimeoutSec: 1 }], {
        onExhausted: { action: 'rollback' },
      });

      expect(result.state).toBe('rolled_back');
      expect(result.attempts[0]).toMatchObject({ outcome: 'no-answer' });
      expect(result.attempts[0]?.decidedBy).toMatch(/no calltransfer\.answered within 1s/);
      expect(result.fallback).toMatchObject({ action: 'rollback', ok: true, toEndPoint: call.roomSipUri });
      expect(transferRequests(call).map((r) => (r.body as { toEndPoint: string }).toEndPoint)).toEqual([
        ringing,
        call.roomSipUri,
      ]);
    });

    test('no answer → REFER to the PBX', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:pbx@pbx.example.com', { kind: 'refer-accept' });
      const result = await transfer(call, [{ toEndPoint: ringing, answerTimeoutSec: 1 }], {
        onExhausted: { action: 'refer', toEndPoint: 'sip:pbx@pbx.example.com' },
      });

      expect(result.state).toBe('referred');
      expect(result.fallback).toMatchObject({ action: 'refer', ok: true });
      expect(transferRequests(call, 'sipRefer')).toHaveLength(1);
    });

    test('no answer → hang up', async () => {
      const call = stack.newCall();
      const result = await transfer(call, [{ toEndPoint: ringing, answerTimeoutSec: 1 }], {
        onExhausted: { action: 'hangup' },
      });

      expect(result.state).toBe('failed');
      expect(result.fallback).toMatchObject({ action: 'hangup', ok: true });
      expect(stack.sandbox.requests({ path: 'eject', room: call.room }).map((r) => r.body)).toEqual([
        { ids: [call.sessionId] },
      ]);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('ended');
    });

    test('a fallback that fails is recorded, and the transfer still ends with its record', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'eject' }, { kind: 'call-closed' });
      const result = await transfer(call, [{ toEndPoint: ringing, answerTimeoutSec: 1 }], {
        onExhausted: { action: 'hangup' },
      });

      expect(result).toMatchObject({ state: 'failed', outcome: 'no-answer' });
      expect(result.fallback).toMatchObject({ action: 'hangup', ok: false });
      expect(result.fallback?.detail).toMatch(/hangup failed: .*Call closed/i);
      expect(stack.sandbox.requests({ path: 'eject', room: call.room })).toHaveLength(1);
    });

    test('no answer → none: no other destination, and the caller is not left ringing (the leg is ended)', async () => {
      const call = stack.newCall();
      const result = await transfer(call, [{ toEndPoint: ringing, answerTimeoutSec: 1 }]);

      expect(result).toMatchObject({ state: 'failed', outcome: 'no-answer', leg: 'gone' });
      expect(result.fallback).toMatchObject({ action: 'none', ok: true, detail: expect.stringMatching(/leg ended/) });
      expect(transferRequests(call)).toHaveLength(1);
      expect(stack.sandbox.requests({ path: 'eject', room: call.room }).map((r) => r.body)).toEqual([
        { ids: [call.sessionId] },
      ]);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('ended');
    });

    test('none with a caller who never left the room: nothing is sent after the refusal', async () => {
      const call = stack.newCall();
      stack.sandbox.createRoom(call.room, { sfu: false });
      const result = await transfer(call, [{ toEndPoint: ringing, answerTimeoutSec: 1 }]);

      expect(result).toMatchObject({ state: 'failed', outcome: 'api-error', leg: 'in-room' });
      expect(result.fallback).toBeUndefined();
      expect(stack.sandbox.requests({ path: 'eject', room: call.room })).toEqual([]);
    });

    test('busy', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('+15551230002', { kind: 'busy' });
      const result = await transfer(call, [{ toEndPoint: '+15551230002' }]);

      // Daily documents no failure status: under `docs` a busy destination looks like one that never answers.
      expect(result).toMatchObject({ state: 'failed', outcome: extended ? 'busy' : 'no-answer' });
      expect(result.attempts[0]?.decidedBy).toMatch(extended ? /completeStatus "busy"/ : /no calltransfer\.answered/);
    });

    test('REFER rejected', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:closed@pbx.example.com', { kind: 'refer-reject' });
      const result = await transfer(call, [{ method: 'sipRefer', toEndPoint: 'sip:closed@pbx.example.com' }]);

      expect(result).toMatchObject({ state: 'failed', outcome: extended ? 'rejected' : 'no-answer', leg: 'in-room' });
      expect(result.attempts[0]?.decidedBy).toMatch(extended ? /REFER 603/ : /REFER not confirmed/);
    });

    test('REFER rejected (603) then rollback: the caller never left the room, so nothing is sent back', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:closed@pbx.example.com', { kind: 'refer-reject' });
      const result = await transfer(
        call,
        [{ method: 'sipRefer', toEndPoint: 'sip:closed@pbx.example.com', answerTimeoutSec: 1 }],
        {
          onExhausted: { action: 'rollback' },
        }
      );

      expect(result).toMatchObject({ state: 'rolled_back', leg: 'in-room' });
      expect(result.fallback).toMatchObject({ action: 'rollback', ok: true, detail: 'caller never left the room' });
      expect(transferRequests(call)).toEqual([]);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('in-room');
    });

    test('no answer → REFER fallback sent after the leg left the room is confirmed by its initiated', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:pbx-out@pbx.example.com', { kind: 'refer-accept' });
      const result = await transfer(call, [{ toEndPoint: ringing, answerTimeoutSec: 1 }], {
        onExhausted: { action: 'refer', toEndPoint: 'sip:pbx-out@pbx.example.com' },
      });

      expect(result).toMatchObject({ state: 'referred', leg: 'referred' });
      expect(result.fallback).toMatchObject({ action: 'refer', ok: true });
      expect(transferRequests(call, 'sipRefer')).toHaveLength(1);
    });

    test('the caller hangs up while it rings: nothing more is tried', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:slow@pbx.example.com', { kind: 'caller-hangs-up', afterMs: 100 });
      const result = await transfer(
        call,
        [{ toEndPoint: 'sip:slow@pbx.example.com' }, { toEndPoint: 'sip:backup@pbx.example.com' }],
        { onExhausted: { action: 'rollback' } }
      );

      expect(result).toMatchObject({ state: 'failed', outcome: 'caller-hung-up' });
      expect(result.attempts).toHaveLength(1);
      expect(result.fallback).toBeUndefined();
      expect(transferRequests(call)).toHaveLength(1);
    });

    test('the second destination answers after the first times out', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:second@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
      const result = await transfer(call, [
        { toEndPoint: ringing, answerTimeoutSec: 1 },
        { toEndPoint: 'sip:second@pbx.example.com' },
      ]);

      expect(result.state).toBe('completed');
      expect(result.attempts.map((a) => a.outcome)).toEqual(['no-answer', 'answered']);
      expect(transferRequests(call).map((r) => (r.body as { toEndPoint: string }).toEndPoint)).toEqual([
        ringing,
        'sip:second@pbx.example.com',
      ]);
    });
  });

  describe('webhook realities', () => {
    afterEach(() => stack.sandbox.setWebhookFaults({}));

    test('duplicated events have one effect', async () => {
      stack.sandbox.setWebhookFaults({ duplicate: 2 });
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:dup@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });

      const result = await transfer(call, [{ toEndPoint: 'sip:dup@pbx.example.com' }]);

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      const ids = result.attempts[0]?.events.map((e) => e.id) ?? [];
      expect(new Set(ids).size).toBe(ids.length);
      const delivered = stack.sandbox.deliveries().filter((d) => ids.includes(d.eventId) && d.status === 200);
      expect(delivered.length).toBeGreaterThanOrEqual(ids.length * 3);
    });

    test('reordered events (answered before initiated) still decide the attempt', async () => {
      stack.sandbox.setWebhookFaults({ reorder: true });
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:reorder@pbx.example.com', { kind: 'answer', afterMs: 0, hangUpAfterMs: 100 });

      const result = await transfer(call, [{ toEndPoint: 'sip:reorder@pbx.example.com' }]);

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(transferRequests(call)).toHaveLength(1);
    });

    test("busy reported before the caller's departure still rolls the caller back (events reversed)", async () => {
      stack.sandbox.setWebhookFaults({ reorder: true });
      const call = stack.newCall();
      stack.sandbox.setScenario('+15551230004', { kind: 'busy' });

      const result = await transfer(call, [{ toEndPoint: '+15551230004' }], { onExhausted: { action: 'rollback' } });

      expect(result).toMatchObject({ state: 'rolled_back', outcome: extended ? 'busy' : 'no-answer' });
      expect(result.fallback).toMatchObject({ action: 'rollback', ok: true, toEndPoint: call.roomSipUri });
      expect(transferRequests(call).map((r) => (r.body as { toEndPoint: string }).toEndPoint)).toEqual([
        '+15551230004',
        call.roomSipUri,
      ]);
    });

    test('a late answered after the timeout is recorded, not acted on', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:late@pbx.example.com', { kind: 'no-answer' });
      stack.sandbox.setScenario('sip:later@pbx.example.com', { kind: 'no-answer' });
      const started = await stack.transfers.start(
        request(call, [
          { toEndPoint: 'sip:late@pbx.example.com', answerTimeoutSec: 1 },
          { toEndPoint: 'sip:later@pbx.example.com', answerTimeoutSec: 4 },
        ])
      );
      await waitFor('the second attempt', async () => (await started.handle.query(statusQuery)).attempts.length === 2);

      // Daily delivers the first destination's `answered` only now, while the second one rings.
      const lateId = `late-answered-${call.sessionId}`;
      await postWebhook({
        version: '1.0.0',
        type: 'calltransfer.answered',
        id: lateId,
        event_ts: Date.now() / 1000,
        payload: {
          room: call.room,
          session_id: call.sessionId,
          to_endpoint: 'sip:late@pbx.example.com',
          timestamp: String(Math.floor(Date.now() / 1000)),
        },
      });
      const result = await started.handle.result();

      expect(result.attempts.map((a) => a.outcome)).toEqual(['no-answer', 'no-answer']);
      expect(result.lateEvents).toContainEqual(expect.objectContaining({ id: lateId, acted: false }));
      expect(result.state).toBe('failed');
    });
  });

  describe('Daily API failures, at most once', () => {
    test('429: waits for Retry-After, then sends again', async () => {
      const call = stack.newCall();
      // 2 s: longer than the workflow's own first backoff (1 s), so only Daily's Retry-After explains the wait.
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit', retryAfterSec: 2 });
      stack.sandbox.setScenario('sip:busy-api@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });

      const result = await transfer(call, [{ toEndPoint: 'sip:busy-api@pbx.example.com' }]);

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(result.attempts[0]?.requests).toBe(2);
      const sent = transferRequests(call);
      expect(sent.map((r) => r.status)).toEqual([429, 200]);
      expect(sent[1]!.at - sent[0]!.at).toBeGreaterThanOrEqual(2000);
    });

    test('5xx: reconciles (no triggered, leg still in the room), then sends again', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'server-error', status: 503 });
      stack.sandbox.setScenario('sip:flaky@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });

      const result = await transfer(call, [{ toEndPoint: 'sip:flaky@pbx.example.com' }]);

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(transferRequests(call).map((r) => r.status)).toEqual([503, 200]);
      expect(stack.sandbox.requests({ path: 'presence', room: call.room })).toHaveLength(1);
    });

    test('404 invalid session: a typed, non-retried API error', async () => {
      const call = stack.newCall();
      const result = await transfer({ ...call, sessionId: 'no-such-session' }, [
        { toEndPoint: 'sip:x@pbx.example.com' },
      ]);

      expect(result).toMatchObject({ state: 'failed', outcome: 'api-error' });
      expect(result.attempts[0]?.decidedBy).toMatch(/invalid sessionId/i);
      expect(transferRequests(call)).toHaveLength(1);
    });

    test('a 2xx whose body does not parse is success: taken once, no next destination', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'unreadable-ok' });
      stack.sandbox.setScenario('sip:garbled@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });

      const result = await transfer(call, [
        { toEndPoint: 'sip:garbled@pbx.example.com' },
        { toEndPoint: 'sip:never-asked@pbx.example.com' },
      ]);

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([['answered', 1]]);
      expect(transferRequests(call).map((r) => [r.status, r.faulted])).toEqual([[200, 'unreadable-ok']]);
    });

    test('a response lost after the transfer took effect: reconciled from `triggered`, never sent twice', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'lost-response' });
      stack.sandbox.setScenario('sip:lost@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });

      const result = await transfer(call, [{ toEndPoint: 'sip:lost@pbx.example.com' }]);

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(result.attempts[0]?.requests).toBe(1);
      expect(transferRequests(call)).toHaveLength(1);
    });
  });

  describe('at most once, once the leg may be out of the room (presence cannot tell)', () => {
    const first = 'sip:first-out@pbx.example.com';
    const second = 'sip:second-out@pbx.example.com';
    const sentTo = (call: Call) =>
      transferRequests(call).map((r) => `${(r.body as { toEndPoint: string }).toEndPoint} ${r.status}`);
    beforeAll(() => {
      stack.sandbox.setScenario(first, { kind: 'no-answer' });
      stack.sandbox.setScenario(second, { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
    });

    test('5xx on the second destination: never confirmed, so never sent again; unknown, and flagged', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer', toEndPoint: second }, { kind: 'server-error', status: 503 });

      const result = await transfer(call, [
        { toEndPoint: first, answerTimeoutSec: 1 },
        { toEndPoint: second, answerTimeoutSec: 2 },
      ]);

      // The leg was out of the room, ringing the first destination: presence could not tell whether the 503 took
      // effect, and no event came for it. Sending it again could have transferred the caller twice.
      expect(result.attempts.map((a) => [a.outcome, a.requests])).toEqual([
        ['no-answer', 1],
        ['unknown', 1],
      ]);
      expect(result.needsAttention).toMatch(/attempt 2: request outcome unknown/);
      expect(sentTo(call)).toEqual([`${first} 200`, `${second} 503`]);
      expect(stack.sandbox.requests({ path: 'presence', room: call.room })).toEqual([]);
      const listed = await waitFor('visibility', async () => {
        const { executions } = await listByQuery(
          `TransferNeedsAttention = 'unknown-outcome' AND DailyRoom = '${call.room}'`
        );
        return executions.length === 1 ? executions : undefined;
      });
      expect(listed).toHaveLength(1);
    });

    test('a response lost on the second destination: its `triggered` settles it, never sent twice', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer', toEndPoint: second }, { kind: 'lost-response' });

      // The window only has to outlast the `triggered` webhook, which ends the wait as soon as it lands.
      const result = await transfer(call, [{ toEndPoint: first, answerTimeoutSec: 1 }, { toEndPoint: second }], {
        reconcileWindowSec: 10,
      });

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(result.attempts[1]?.requests).toBe(1);
      expect(sentTo(call)).toEqual([`${first} 200`, `${second} 200`]);
    });

    test('5xx on the rollback: not sent again blindly; the fallback is recorded as unknown and flagged', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('+15551230044', { kind: 'busy' });
      stack.sandbox.queueFault(
        { path: 'sipCallTransfer', toEndPoint: call.roomSipUri },
        { kind: 'server-error', status: 502 }
      );

      const result = await transfer(call, [{ toEndPoint: '+15551230044', answerTimeoutSec: 1 }], {
        onExhausted: { action: 'rollback' },
      });

      expect(result).toMatchObject({ state: 'failed', outcome: extended ? 'busy' : 'no-answer' });
      expect(result.fallback).toMatchObject({ action: 'rollback', ok: false, toEndPoint: call.roomSipUri });
      expect(result.fallback?.detail).toMatch(/unknown/);
      expect(result.needsAttention).toMatch(/request outcome unknown/);
      expect(sentTo(call)).toEqual(['+15551230044 200', `${call.roomSipUri} 502`]);
    });
  });

  describe("the leg model's rules, from outside", () => {
    const never = 'sip:never-answers@pbx.example.com';
    beforeAll(() => stack.sandbox.setScenario(never, { kind: 'no-answer' }));

    test('a cancel during a long Retry-After is seen at once, and the wait is capped by maxRetryAfterSec', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit', retryAfterSec: 600 });
      const started = await stack.transfers.start(
        request(call, [{ toEndPoint: never, answerTimeoutSec: 60 }], { maxRetryAfterSec: 45 })
      );
      await waitFor('the 429', () => transferRequests(call).length === 1);

      const final = await stack.transfers.cancel(started.workflowId, 'operator gave up');

      expect(final).toMatchObject({ state: 'canceled', canceledBy: 'operator gave up', leg: 'in-room' });
      expect(final.attempts[0]).toMatchObject({ outcome: 'canceled', requests: 1 });
      expect(transferRequests(call).map((r) => r.status)).toEqual([429]);
    });

    test('Retry-After is capped: 600 s asked, maxRetryAfterSec 1 obeyed', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit', retryAfterSec: 600 });
      stack.sandbox.setScenario('sip:capped@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });

      const result = await transfer(call, [{ toEndPoint: 'sip:capped@pbx.example.com', answerTimeoutSec: 30 }], {
        maxRetryAfterSec: 1,
      });

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      const sent = transferRequests(call);
      expect(sent.map((r) => r.status)).toEqual([429, 200]);
      expect(sent[1]!.at - sent[0]!.at).toBeLessThan(60_000);
    });

    test('a cancel while the fallback waits out a 429 changes only the recorded reason: the caller is rolled back', async () => {
      const call = stack.newCall();
      stack.sandbox.queueFault(
        { path: 'sipCallTransfer', toEndPoint: call.roomSipUri },
        { kind: 'rate-limit', retryAfterSec: 2 }
      );
      const started = await stack.transfers.start(
        request(call, [{ toEndPoint: never, answerTimeoutSec: 1 }], { onExhausted: { action: 'rollback' } })
      );
      await waitFor('the rollback 429', () => transferRequests(call).some((r) => r.status === 429));

      const final = await stack.transfers.cancel(started.workflowId, 'operator gave up');

      expect(final).toMatchObject({ state: 'canceled', canceledBy: 'operator gave up' });
      expect(final.fallback).toMatchObject({ action: 'rollback', ok: true });
      expect(transferRequests(call).map((r) => `${(r.body as { toEndPoint: string }).toEndPoint} ${r.status}`)).toEqual(
        [`${never} 200`, `${call.roomSipUri} 429`, `${call.roomSipUri} 200`]
      );
    });

    test("the cancel update returns the final state while Temporal's own cancel is cleaning up", async () => {
      const call = stack.newCall();
      // The rollback waits out a 429, so the cleanup is still running when both cancels arrive.
      stack.sandbox.queueFault(
        { path: 'sipCallTransfer', toEndPoint: call.roomSipUri },
        { kind: 'rate-limit', retryAfterSec: 3 }
      );
      const started = await stack.transfers.start(
        request(call, [{ toEndPoint: never, answerTimeoutSec: 1 }], { onExhausted: { action: 'rollback' } })
      );
      await waitFor('the rollback 429', () => transferRequests(call).some((r) => r.status === 429));

      await started.handle.cancel();
      const final = await stack.transfers.cancel(started.workflowId, 'second cancel');

      // Both cancels arrive in the same workflow task or not: the first one seen is the recorded reason.
      expect(final).toMatchObject({
        state: 'canceled',
        canceledBy: expect.stringMatching(/^(canceled through Temporal|second cancel)$/),
      });
      expect(final.fallback).toMatchObject({ action: 'rollback', ok: true });
      await expect(started.handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    });

    test('while following an answered call, a late completed naming an earlier destination is only recorded', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:stays@pbx.example.com', { kind: 'answer', afterMs: 50 });
      const started = await stack.transfers.start(
        request(call, [
          { toEndPoint: never, answerTimeoutSec: 1 },
          { toEndPoint: 'sip:stays@pbx.example.com', answerTimeoutSec: 5 },
        ])
      );
      await waitFor('answered', async () => (await started.handle.query(statusQuery)).state === 'answered');

      const lateId = `late-completed-${call.sessionId}`;
      await postWebhook(transferEvent('calltransfer.completed', lateId, call, never));
      await waitFor('the late event recorded', async () =>
        (await started.handle.query(statusQuery)).lateEvents.some((e) => e.id === lateId)
      );
      expect((await started.handle.query(statusQuery)).state).toBe('answered');

      await stack.transfers.cancel(started.workflowId, 'stop following');
      const result = await started.handle.result();
      expect(result).toMatchObject({ state: 'completed', outcome: 'answered', leg: 'connected' });
      expect(result.callDurationSec).toBeUndefined();
    });

    test('an event from an earlier transfer of the same leg never decides this one', async () => {
      const call = stack.newCall();
      const started = await stack.transfers.start(request(call, [{ toEndPoint: never, answerTimeoutSec: 2 }]));
      const oldId = `earlier-run-answered-${call.sessionId}`;
      await postWebhook(transferEvent('calltransfer.answered', oldId, call, never, Date.now() - 60_000));

      const result = await started.handle.result();
      expect(result.attempts[0]).toMatchObject({ outcome: 'no-answer' });
      expect(result.lateEvents).toContainEqual(expect.objectContaining({ id: oldId, acted: false }));
    });

    test("the caller's own leg failing (dialin.error) ends the attempt with an outcome that says so", async () => {
      const call = stack.newCall();
      const started = await stack.transfers.start(request(call, [{ toEndPoint: never, answerTimeoutSec: 30 }]));
      await waitFor('ringing', async () => (await started.handle.query(statusQuery)).state === 'initiated');

      stack.sandbox.failCaller(call.room, call.sessionId, { errorMsg: 'media timeout' });
      const result = await started.handle.result();

      expect(result).toMatchObject({ state: 'failed', outcome: 'caller-leg-failed', leg: 'gone' });
      expect(result.attempts[0]?.decidedBy).toMatch(/dialin\.error: media timeout/);
    });

    test("a dial-out caller's leg failing (dialout.error, from Daily's webhook) ends the attempt the same way", async () => {
      const call = stack.newCall();
      const started = await stack.transfers.start(request(call, [{ toEndPoint: never, answerTimeoutSec: 30 }]));
      await waitFor('ringing', async () => (await started.handle.query(statusQuery)).state === 'initiated');

      await postWebhook({
        version: '1.0.0',
        type: 'dialout.error',
        id: `dialout-error-${call.sessionId}`,
        event_ts: Date.now() / 1000,
        payload: {
          room: call.room,
          session_id: call.sessionId,
          error_msg: 'remote endpoint unreachable',
          timestamp: String(Math.floor(Date.now() / 1000)),
        },
      });
      const result = await started.handle.result();

      expect(result).toMatchObject({ state: 'failed', outcome: 'caller-leg-failed', leg: 'gone' });
      expect(result.attempts[0]?.decidedBy).toMatch(/dialout\.error: remote endpoint unreachable/);
      expect(transferRequests(call)).toHaveLength(1);
    });

    test('repeated destinations are refused at validation, naming both', async () => {
      const call = stack.newCall();
      await expect(
        stack.transfers.start(request(call, [{ toEndPoint: never }, { toEndPoint: never }]))
      ).rejects.toThrow(/attempts\.1\.toEndPoint: repeats attempts\.0\.toEndPoint/);
    });
  });

  describe("when the sandbox's guesses about Daily go the other way", () => {
    const never = 'sip:never-again@pbx.example.com';
    beforeAll(() => stack.sandbox.setScenario(never, { kind: 'no-answer' }));
    afterEach(() => {
      stack.sandbox.setModel({
        ringingLegTransfer: 'retarget',
        failedTransferLeg: 'parked',
        ejectOutsideRoom: 'ends',
        presenceLagMs: 0,
      });
      stack.sandbox.setWebhookFaults({});
    });

    test('a ringing leg cannot be re-targeted: the next request is refused, the attempt is an api-error, and the leg is ended (none)', async () => {
      stack.sandbox.setModel({ ringingLegTransfer: 'refuse' });
      const call = stack.newCall();
      const result = await transfer(call, [
        { toEndPoint: never, answerTimeoutSec: 1 },
        { toEndPoint: 'sip:next@pbx.example.com', answerTimeoutSec: 5 },
      ]);

      expect(result.attempts.map((a) => a.outcome)).toEqual(['no-answer', 'api-error']);
      expect(result.attempts[1]?.decidedBy).toMatch(/no longer takes requests/);
      expect(result.needsAttention).toMatch(/Daily refused the leg/);
      expect(result.fallback).toMatchObject({ action: 'none', ok: true });
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('ended');
    });

    test('an answer just after the ring timeout, then a 404 for the next request: the caller is with that destination', async () => {
      stack.sandbox.setModel({ ringingLegTransfer: 'refuse' });
      stack.sandbox.setScenario('sip:just-late@pbx.example.com', {
        kind: 'answer',
        afterMs: 3000,
        hangUpAfterMs: 1000,
      });
      const call = stack.newCall();
      const result = await transfer(
        call,
        [
          { toEndPoint: 'sip:just-late@pbx.example.com', answerTimeoutSec: 1 },
          { toEndPoint: 'sip:next@pbx.example.com', answerTimeoutSec: 5 },
        ],
        { reconcileWindowSec: 8 }
      );

      // Not `caller-hung-up`: Daily's late `answered` explains the 404, and the call it connected is followed.
      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(result.attempts.map((a) => a.outcome)).toEqual(['no-answer', 'api-error']);
      expect(result.attempts[1]?.decidedBy).toMatch(/the caller is with destination 1/);
      expect(result.callDurationSec).toBeGreaterThanOrEqual(0);
      expect(result.needsAttention).toBeUndefined();
      expect(transferRequests(call).map((r) => (r.body as { toEndPoint: string }).toEndPoint)).toEqual([
        'sip:just-late@pbx.example.com',
        'sip:next@pbx.example.com',
      ]);
    });

    test('a busy leg is dropped: no rollback is sent to a leg that no longer exists', async () => {
      stack.sandbox.setModel({ failedTransferLeg: 'dropped' });
      stack.sandbox.setScenario('+15551230066', { kind: 'busy' });
      const call = stack.newCall();
      const result = await transfer(call, [{ toEndPoint: '+15551230066', answerTimeoutSec: 2 }], {
        onExhausted: { action: 'rollback' },
      });

      // Under `docs` nothing says busy: the second dialin.stopped is all Daily sends.
      expect(result).toMatchObject({ state: 'failed', outcome: extended ? 'busy' : 'caller-hung-up', leg: 'gone' });
      expect(transferRequests(call)).toHaveLength(1);
    });

    test('eject does not reach a leg outside the room: the promise degrades, and the transfer says so', async () => {
      stack.sandbox.setModel({ ejectOutsideRoom: 'ignored' });
      const call = stack.newCall();
      const result = await transfer(call, [{ toEndPoint: never, answerTimeoutSec: 1 }], {
        onExhausted: { action: 'hangup' },
      });

      expect(result).toMatchObject({ state: 'failed', outcome: 'no-answer', leg: 'parked' });
      expect(result.fallback).toMatchObject({ action: 'hangup', ok: false });
      expect(result.needsAttention).toMatch(/eject did not reach the leg/);
      expect(stack.sandbox.participant(call.room, call.sessionId)?.state).toBe('ringing');
    });

    test('presence lags: a reconcile window longer than the lag keeps a lost response from being sent twice', async () => {
      stack.sandbox.setModel({ presenceLagMs: 2000 });
      stack.sandbox.setWebhookFaults({ delayMs: 6000 });
      stack.sandbox.setScenario('sip:lagged@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'lost-response' });
      const call = stack.newCall();
      const result = await transfer(call, [{ toEndPoint: 'sip:lagged@pbx.example.com', answerTimeoutSec: 30 }], {
        reconcileWindowSec: 4,
      });

      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(transferRequests(call)).toHaveLength(1);
      expect(stack.sandbox.requests({ path: 'presence', room: call.room })).toHaveLength(1);
    });

    test('presence lags: a window shorter than the lag sends a lost request again (the stated limit)', async () => {
      stack.sandbox.setModel({ presenceLagMs: 3000 });
      stack.sandbox.setWebhookFaults({ delayMs: 6000 });
      stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'lost-response' });
      const call = stack.newCall();
      // Presence lags both ways: a caller who joined less than the lag ago is not listed yet.
      await new Promise((resolve) => setTimeout(resolve, 3500));
      const result = await transfer(call, [{ toEndPoint: never, answerTimeoutSec: 2 }], { reconcileWindowSec: 1 });

      expect(result.attempts[0]?.requests).toBe(2);
      expect(transferRequests(call)).toHaveLength(2);
    });
  });

  describe('cancel', () => {
    /** A transfer whose destination never answers, once the caller has left the room and it rings. */
    async function startRinging() {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:forever@pbx.example.com', { kind: 'no-answer' });
      const started = await stack.transfers.start(
        request(call, [{ toEndPoint: 'sip:forever@pbx.example.com', answerTimeoutSec: 60 }], {
          onExhausted: { action: 'rollback' },
        })
      );
      await waitFor('ringing', async () => (await stack.transfers.status(started.workflowId)).state === 'initiated');
      return { call, started };
    }

    test('the cancel update while it rings returns the final state and brings the caller back', async () => {
      const { call, started } = await startRinging();

      const final = await stack.transfers.cancel(started.workflowId, 'operator gave up');

      expect(final).toMatchObject({ state: 'canceled', canceledBy: 'operator gave up', outcome: 'canceled' });
      expect(final.fallback).toMatchObject({ action: 'rollback', ok: true });
      expect(transferRequests(call).map((r) => (r.body as { toEndPoint: string }).toEndPoint)).toEqual([
        'sip:forever@pbx.example.com',
        call.roomSipUri,
      ]);
    });

    test("Temporal's own cancel does the same cleanup", async () => {
      const { call, started } = await startRinging();

      await started.handle.cancel();
      const error = await started.handle.result().catch((err: unknown) => err);

      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      const status = await stack.transfers.status(started.workflowId);
      expect(status).toMatchObject({ state: 'canceled', canceledBy: 'canceled through Temporal' });
      expect(status.fallback).toMatchObject({ action: 'rollback', ok: true });
      expect(transferRequests(call)).toHaveLength(2);
    });
    test("Temporal's cancel before the first task (no worker yet): nothing is sent, the transfer ends canceled", async () => {
      const call = stack.newCall();
      await stack.stopWorker();
      let started;
      try {
        started = await stack.transfers.start(request(call, [{ toEndPoint: 'sip:never-asked@pbx.example.com' }]));
        await started.handle.cancel();
      } finally {
        await stack.startWorker();
      }

      const error = await started.handle.result().catch((err: unknown) => err);

      expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      const status = await stack.transfers.status(started.workflowId);
      expect(status).toMatchObject({ state: 'canceled', canceledBy: 'canceled through Temporal', leg: 'in-room' });
      expect(transferRequests(call)).toEqual([]);
    });
  });

  describe('identity and input', () => {
    test('one transfer per leg: a second start is rejected unless it carries the same requestId', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:forever@pbx.example.com', { kind: 'no-answer' });
      const first = await stack.transfers.start(
        request(call, [{ toEndPoint: 'sip:forever@pbx.example.com', answerTimeoutSec: 60 }], { requestId: 'req-1' })
      );

      const again = await stack.transfers.start(
        request(call, [{ toEndPoint: 'sip:forever@pbx.example.com', answerTimeoutSec: 60 }], { requestId: 'req-1' })
      );
      expect(again).toMatchObject({ existing: true, workflowId: first.workflowId, runId: first.runId });
      await expect(
        stack.transfers.start(request(call, [{ toEndPoint: 'sip:other@pbx.example.com' }], { requestId: 'req-2' }))
      ).rejects.toBeInstanceOf(TransferAlreadyRunningError);

      // A cancel that arrives first is taken too (nothing sent): wait for the request this test is about.
      await waitFor('the first request', () => transferRequests(call).length === 1);
      await stack.transfers.cancel(first.workflowId);
      expect(transferRequests(call)).toHaveLength(1);
      expect(first.workflowId).toBe(transferWorkflowId(call.room, call.sessionId));
    });

    test('a cancel sent with the start (update-with-start, so in the first task) is taken: nothing is sent', async () => {
      const call = stack.newCall();
      const input = parseTransferRequest(
        request(call, [{ toEndPoint: 'sip:never-asked@pbx.example.com' }], { requestId: 'req-cancel-first' }),
        () => 'unused'
      );
      const startWorkflowOperation = new WithStartWorkflowOperation<typeof transferCall>(TRANSFER_WORKFLOW_TYPE, {
        workflowId: transferWorkflowId(call.room, call.sessionId),
        taskQueue: stack.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
      });

      const result = await stack.env.client.workflow.executeUpdateWithStart(cancelUpdate, {
        args: [{ reason: 'changed our mind' }],
        startWorkflowOperation,
      });

      expect(result).toMatchObject({ state: 'canceled', canceledBy: 'changed our mind', leg: 'in-room' });
      expect(result.attempts[0]).toMatchObject({ outcome: 'canceled', requests: 0 });
      expect(transferRequests(call)).toEqual([]);
      expect((await (await startWorkflowOperation.workflowHandle()).result()).state).toBe('canceled');
    });

    test('update-with-start: the decision arrives in one round trip, while the answered call goes on', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:decided@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 3000 });
      const req = request(call, [{ toEndPoint: 'sip:decided@pbx.example.com' }], { requestId: 'decide-1' });

      const [first, again] = await Promise.all([stack.transfers.decide(req), stack.transfers.decide(req)]);

      expect(first.decision).toMatchObject({ state: 'answered', outcome: 'answered', leg: 'connected' });
      expect(again.decision).toEqual(first.decision);
      expect((await stack.transfers.handle(first.workflowId).describe()).status.name).toBe('RUNNING');
      await expect(stack.transfers.decide({ ...req, requestId: 'decide-2' })).rejects.toBeInstanceOf(
        TransferAlreadyRunningError
      );
      expect(await stack.transfers.result(first.workflowId)).toMatchObject({ state: 'completed' });
      expect(transferRequests(call)).toHaveLength(1);
    });

    test('update-with-start: a fallback is the decision too', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:nobody-decides@pbx.example.com', { kind: 'no-answer' });
      const { decision } = await stack.transfers.decide(
        request(call, [{ toEndPoint: 'sip:nobody-decides@pbx.example.com', answerTimeoutSec: 1 }], {
          onExhausted: { action: 'rollback' },
        })
      );

      expect(decision).toMatchObject({ state: 'rolled_back', outcome: 'no-answer' });
      expect(decision.fallback).toMatchObject({ action: 'rollback', ok: true });
    });

    test('tenancy: an event verified for another Daily domain is recorded, never acted on, even when ids collide', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('sip:tenant@pbx.example.com', { kind: 'no-answer' });
      const started = await stack.transfers.start(
        request(call, [{ toEndPoint: 'sip:tenant@pbx.example.com', answerTimeoutSec: 3 }], {
          domainId: DEFAULT_DOMAIN_ID,
        })
      );
      await waitFor('ringing', async () => (await started.handle.query(statusQuery)).state === 'initiated');

      // Another domain's webhook names this room, session and destination, and says it answered.
      const foreignId = `foreign-answered-${call.sessionId}`;
      await postWebhook({
        version: '1.0.0',
        type: 'calltransfer.answered',
        id: foreignId,
        event_ts: Date.now() / 1000,
        payload: {
          domain_id: 'another-domain',
          room: call.room,
          session_id: call.sessionId,
          to_endpoint: 'sip:tenant@pbx.example.com',
          timestamp: String(Math.floor(Date.now() / 1000)),
        },
      });
      const result = await started.handle.result();

      // This domain's own events (the sandbox's) still count: `initiated` was acted on, the foreign answer was not.
      expect(result.attempts[0]).toMatchObject({ outcome: 'no-answer' });
      expect(result.attempts[0]?.events.map((e) => e.type)).toContain('calltransfer.initiated');
      expect(result.lateEvents).toContainEqual(expect.objectContaining({ id: foreignId, acted: false }));
    });

    test('bad input is rejected before any workflow runs, naming the field', async () => {
      const call = stack.newCall();
      const bad = request(call, [{ toEndPoint: 'not-a-destination' }]);

      await expect(stack.transfers.start(bad)).rejects.toThrow(TransferInputError);
      await expect(stack.transfers.start(bad)).rejects.toThrow(/attempts\.0\.toEndPoint/);
      await expect(
        stack.transfers.start(request(call, [{ method: 'sipRefer', toEndPoint: '+15551230000' }]))
      ).rejects.toThrow(/sipRefer needs a sip: URI/);
      await expect(
        stack.transfers.handle(transferWorkflowId(call.room, call.sessionId)).describe()
      ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    });

    test('raw JSON from another language is validated by the workflow itself', async () => {
      const call = stack.newCall();
      const handle = await stack.env.client.workflow.start(TRANSFER_WORKFLOW_TYPE, {
        taskQueue: stack.taskQueue,
        workflowId: transferWorkflowId(call.room, call.sessionId),
        args: [{ room: call.room, sessionId: call.sessionId, attempts: [{ toEndPoint: 'sip:a@b.c' }] }],
      });
      const error = await handle.result().catch((err: unknown) => err);

      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect(String((error as WorkflowFailedError).cause?.message)).toMatch(/requestId/);
      expect(transferRequests(call)).toHaveLength(0);
    });
  });

  describe('operators', () => {
    test('search attributes find a finished transfer by room and state, with no phone number in them', async () => {
      const call = stack.newCall();
      stack.sandbox.setScenario('+15551230003', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
      const started = await stack.transfers.start(request(call, [{ toEndPoint: '+15551230003' }]));
      await started.handle.result();

      const found = await waitFor('visibility', async () => {
        const items = await stack.transfers.list({ room: call.room, state: 'completed' });
        return items.length === 1 ? items : undefined;
      });
      expect(found[0]).toMatchObject({
        workflowId: started.workflowId,
        outcome: 'answered',
        method: 'sipCallTransfer',
      });
      const description = await started.handle.describe();
      expect(JSON.stringify(description.raw.executionConfig?.userMetadata ?? {})).not.toContain('5551230003');
      expect(JSON.stringify(found)).not.toContain('5551230003');
      expect(await description.staticSummary()).toContain('+1•••••••003');
    });
  });
});

/** A signed `calltransfer.*` webhook for the call's leg, as Daily would send it (timestamp in seconds). */
function transferEvent(type: string, id: string, call: Call, toEndPoint: string, atMs = Date.now()) {
  return {
    version: '1.0.0',
    type,
    id,
    event_ts: Date.now() / 1000,
    payload: {
      room: call.room,
      session_id: call.sessionId,
      to_endpoint: toEndPoint,
      timestamp: String(Math.floor(atMs / 1000)),
    },
  };
}

function listByQuery(query: string) {
  return (async () => {
    const executions = [];
    for await (const execution of stack.env.client.workflow.list({ query })) executions.push(execution);
    return { executions };
  })();
}
