/**
 * `transferCall`: moves one caller leg through its destinations in order, following Daily's webhooks, and falls
 * back when none answers. Deterministic: all I/O happens in activities; Daily's events arrive as signals and are
 * applied to the leg model (`./leg.ts`) in the signal handler; `condition()` predicates only read it.
 *
 * Phases: trying destinations (a cancel interrupts any wait) → cleanup/fallback (not cancellable: a cancel only
 * records its reason) → following the answered call → done.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type * as inputActivities from '../activities/validate-input';
import { maskEndpoint } from '../mask';
import type {
  AttemptRecord,
  DailyEvent,
  EventRecord,
  FallbackRecord,
  TransferAttempt,
  TransferInput,
  TransferResult,
  TransferState,
  TransferStatus,
} from '../shared';
import {
  FailureTypes,
  FINAL_STATES,
  cancelUpdate,
  dailyEventSignal,
  decisionUpdate,
  searchAttributes,
  statusQuery,
  transferWorkflowId,
} from '../shared';
import { CallerLeg, type AttemptFacts, type AttemptPlan, type RequestResult } from './leg';
import { DialFirst } from './dial-first';
import { classifyRequestFailure } from './request-failure';
import { transferCallV1 } from './v1/transfer-call';

/**
 * Patch: the leg model. Transfers started before it (no marker in their history) finish on the frozen code in
 * `./v1`; every new transfer runs the code below.
 */
const LEG_MODEL = 'leg-model';

/**
 * Patch: "the leg settled elsewhere" — a late answer from an earlier destination (or the leg's end) ends a 429 wait and
 * calls off the attempt; a refusal after an unknown request is followed as evidence about it. Decided only where
 * the code diverges (a 429 wait, a refusal after an unknown request, an attempt found connected elsewhere), so other
 * transfers' histories carry no marker; transfers that were there before it keep the old behaviour on replay.
 */
const SETTLED_ELSEWHERE = 'settled-elsewhere';

/** Daily's transfer POST is not idempotent: never let Temporal retry it. Retrying is the workflow's decision. */
const TRANSFER_REQUEST_OPTIONS = { startToCloseTimeout: '15s', retry: { maximumAttempts: 1 } } as const;
/** Reads and the hang-up (eject: ending an ended leg changes nothing) are safe to retry; permanent 4xx are not. */
const { isSessionInRoom, getRoomSipUri, hangUp } = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: {
    initialInterval: '1s',
    maximumInterval: '20s',
    maximumAttempts: 6,
    nonRetryableErrorTypes: [
      FailureTypes.roomNotHostingCall,
      FailureTypes.invalidSession,
      FailureTypes.roomNotSfu,
      FailureTypes.callClosed,
      FailureTypes.notFound,
      FailureTypes.badRequest,
      FailureTypes.auth,
      FailureTypes.forbidden,
      FailureTypes.invalidResponse,
    ],
  },
});
const { validateTransferInput } = proxyLocalActivities<typeof inputActivities>({
  startToCloseTimeout: '5s',
  retry: { maximumAttempts: 1 },
});

/** How many times one destination is requested (429s, unsent requests, presence-proven unknowns) before giving up. */
const MAX_REQUESTS_PER_ATTEMPT = 5;

type Phase = 'trying' | 'cleanup' | 'following' | 'done';

export async function transferCall(rawInput: TransferInput): Promise<TransferResult> {
  if (!patched(LEG_MODEL)) return transferCallV1(rawInput);
  // Registered before anything awaits: an update sent with the start (update-with-start) arrives in the first task.
  let decided: TransferStatus | undefined;
  let refused: ApplicationFailure | undefined;
  setHandler(
    decisionUpdate,
    async () => {
      // Not cancellable: Temporal's own cancel ends in a decision too, which this returns.
      await CancellationScope.nonCancellable(() => condition(() => decided !== undefined || refused !== undefined));
      if (refused) throw refused;
      return decided!;
    },
    {
      validator: (request) => {
        if (request?.requestId !== rawInput?.requestId) {
          throw ApplicationFailure.nonRetryable(
            `a transfer is already running for this caller leg with another requestId (${String(rawInput?.requestId)})`,
            'TransferAlreadyRunning'
          );
        }
      },
    }
  );
  // The status, the query and the cancel are there before validation too: a cancel sent with the start
  // (update-with-start) or right after it may arrive in the first task, while validation runs.
  const status: TransferStatus = {
    workflowId: workflowInfo().workflowId,
    room: rawInput?.room,
    sessionId: rawInput?.sessionId,
    requestId: rawInput?.requestId,
    state: 'requested',
    attempts: [],
    lateEvents: [],
    leg: 'in-room',
  };
  let phase: Phase = 'trying';
  let cancelReason: string | undefined;
  /** Waits end early on a cancel only while destinations are being tried. */
  const interrupted = () => phase === 'trying' && cancelReason !== undefined;
  setHandler(statusQuery, () => {
    if (refused) throw refused;
    return status;
  });
  setHandler(
    cancelUpdate,
    async (request) => {
      cancelReason ??= request?.reason ?? 'canceled by update';
      // Not cancellable: while Temporal's own cancel is cleaning up, this still returns the final state.
      await CancellationScope.nonCancellable(() => condition(() => phase === 'done' || refused !== undefined));
      if (refused) throw refused;
      return status;
    },
    {
      validator: (_request) => {
        if (refused) throw refused;
        if (phase === 'done') throw new Error(`transfer already finished (${status.state})`);
      },
    }
  );

  // Temporal's own cancel takes the same path as the update: stop, clean up, record why.
  let canceledByTemporal = false;
  CancellationScope.current().cancelRequested.catch(() => {
    canceledByTemporal = true;
    cancelReason ??= 'canceled through Temporal';
  });

  let input: TransferInput;
  try {
    // Not cancellable: a Temporal cancel in the first task is taken like one while ringing (nothing sent yet).
    input = await CancellationScope.nonCancellable(() => validated(rawInput));
  } catch (err) {
    refused = err instanceof ApplicationFailure ? err : ApplicationFailure.nonRetryable(String(err));
    await condition(allHandlersFinished);
    throw err;
  }
  // Validation may normalize the leg's identity.
  Object.assign(status, { room: input.room, sessionId: input.sessionId, requestId: input.requestId });
  const leg = new CallerLeg(input.sessionId, workflowInfo().runStartTime.getTime());
  /** Records of every attempt the leg model knows, fallback included, by attempt index. */
  const records: AttemptRecord[] = [];

  const upserted = new Map<string, string>(initialSearchAttributes());
  type Key = (typeof searchAttributes)[keyof typeof searchAttributes];
  /** Lean history: one upsert for whatever changed, never a value the attribute already has. */
  const upsert = (...pairs: Array<[Key, string]>) => {
    const changed = pairs.filter(([key, value]) => upserted.get(key.name) !== value);
    if (changed.length === 0) return;
    for (const [key, value] of changed) upserted.set(key.name, value);
    upsertSearchAttributes(changed.map(([key, value]) => ({ key, value })));
  };
  const setState = (state: TransferState) => {
    status.state = state;
    upsert(
      [searchAttributes.state, state],
      ...(status.outcome ? [[searchAttributes.outcome, status.outcome] as [Key, string]] : [])
    );
    setCurrentDetails(describe(status));
  };

  // Before the signal handler: signals that arrived earlier are delivered as soon as it is set.
  const dialFirst = new DialFirst({
    input,
    interrupted,
    cancelReason: () => cancelReason,
    callerLeft: () => leg.endedBy() ?? (leg.hasLeftRoom() ? "the caller's leg left the room" : undefined),
    progressed: (step) => {
      if (phase !== 'trying') return;
      if (step === 'triggered' && status.state === 'requested') setState('triggered');
      if (step === 'initiated' && status.state !== 'initiated') setState('initiated');
    },
    eject: async (sessionId) => {
      try {
        return (await hangUp({ room: input.room, sessionId })).ended;
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        log.warn('could not remove a session after the answer', { sessionId, error: err.cause?.message });
        return false;
      }
    },
    flag,
    now,
  });

  // A signal may carry several of the leg's events (a relay batch): each is applied in order, as if signaled alone.
  setHandler(dailyEventSignal, (...events) => events.forEach(applyEvent));
  function applyEvent(event: DailyEvent) {
    if (input.domainId !== undefined && event.domainId !== undefined && event.domainId !== input.domainId) {
      // Another Daily domain's leg with the same room and session ids: never this caller's evidence.
      status.lateEvents.push(eventRecord(event, now(), false));
      return;
    }
    // The legs `dialFirst` attempts dialed take their own events (by the `user_id` Switchboard gave them); Daily's
    // other dial-out ringing and answers are not the caller's leg's business.
    if (dialFirst.receive(event, now())) return;
    if (event.type === 'dialout.connected' || event.type === 'dialout.answered') return;
    const receipt = leg.receive(event);
    if (!receipt.acted && (receipt.why === 'other-leg' || receipt.why === 'duplicate')) return;
    const entry = eventRecord(event, now(), receipt.acted);
    const record = receipt.attempt === undefined ? undefined : records[receipt.attempt];
    if (receipt.acted && record) record.events.push(entry);
    else status.lateEvents.push(entry);
    if (receipt.acted && record && phase === 'trying') {
      if (event.type === 'calltransfer.triggered' && status.state === 'requested') setState('triggered');
      if (event.type === 'calltransfer.initiated' && status.state !== 'initiated') setState('initiated');
    }
    if (event.type === 'calltransfer.answered' && record) record.answeredAt ??= entry.receivedAt;
    // The one verdict the leg model refines (`failed` → `caller-leg-failed` once Daily's leg error explains it).
    const refined = receipt.attempt === undefined ? undefined : leg.attempts[receipt.attempt]?.verdict;
    if (record?.outcome === 'failed' && refined?.outcome === 'caller-leg-failed') {
      if (status.outcome === record.outcome) status.outcome = refined.outcome;
      record.outcome = refined.outcome;
      record.decidedBy = refined.decidedBy;
    }
    status.leg = leg.where();
  }

  setState('requested');

  /** Waits `ms`, or less when a cancel interrupts or (patched) the caller's leg is settled elsewhere. */
  const pause = (ms: number, summary: string) => {
    const endsWhenSettled = patched(SETTLED_ELSEWHERE);
    const settled = () => endsWhenSettled && (leg.isGone() || !!leg.connectedAttempt());
    return condition(() => interrupted() || settled(), ms, { summary });
  };
  /** How timers name an attempt in the Temporal UI. */
  const attemptName = (plan: AttemptPlan) =>
    plan.index < input.attempts.length ? `destination ${plan.index + 1}` : `fallback ${input.onExhausted.action}`;

  /**
   * Requests one destination and follows it until the leg model has a verdict. The request is sent again only on
   * evidence that no earlier one took effect (the leg model's `maySend`).
   */
  async function runAttempt(plan: AttemptPlan, attempt: TransferAttempt, record: AttemptRecord): Promise<AttemptFacts> {
    const facts = leg.startAttempt(plan);
    records[plan.index] = record;
    let backoffMs = 1000;

    // 1. Get the request to Daily.
    for (;;) {
      if (interrupted()) {
        leg.close(facts, { outcome: 'canceled', decidedBy: cancelReason! });
        return facts;
      }
      const elsewhere = leg.connectedElsewhere(facts);
      if (elsewhere && patched(SETTLED_ELSEWHERE)) {
        leg.close(facts, {
          outcome: 'canceled',
          decidedBy: `not sent: the caller is with destination ${elsewhere.plan.index + 1}, which answered late`,
        });
        return facts;
      }
      if (facts.verdict || !leg.maySend(facts)) break;
      if (facts.sent >= MAX_REQUESTS_PER_ATTEMPT) {
        leg.close(facts, { outcome: 'api-error', decidedBy: `gave up after ${facts.sent} transfer requests` });
        return facts;
      }
      leg.requesting(facts, now());
      record.requests = facts.sent;
      const { result, retryAfterMs } = await requestTransfer(input, attempt, plan.index);
      // Only a refusal after an unknown request meets the patched rule; asking elsewhere would mark every history.
      const afterUnknown = result.kind === 'refused' && facts.requests.some((r) => r.kind === 'unknown');
      leg.requestResult(facts, result, { refusalAfterUnknownIsEvidence: afterUnknown && patched(SETTLED_ELSEWHERE) });
      if (result.kind === 'accepted' || facts.verdict) break;
      if (result.kind === 'not-sent') {
        // Nothing reached Daily (or it said 429): wait as told, but never longer than the cap or the ring budget (a
        // caller is waiting); the attempt gives up after MAX_REQUESTS_PER_ATTEMPT.
        const waitMs = Math.min(
          retryAfterMs ?? backoffMs,
          input.maxRetryAfterSec * 1000,
          attempt.answerTimeoutSec * 1000
        );
        log.warn('Daily did not take the request; asking again', { detail: result.detail, waitMs });
        if (waitMs > 0) await pause(waitMs, `Retry-After, ${attemptName(plan)}`);
        backoffMs = Math.min(backoffMs * 2, 30_000);
        continue;
      }
      // A refusal after an unknown request is evidence about that request: follow it like a taken one.
      if (result.kind === 'refused' && leg.refusalFollowsUnknown(facts) && patched(SETTLED_ELSEWHERE)) break;
      if (result.kind === 'refused') {
        // A refusal that decides nothing is evidence about an earlier destination that may have answered late (or
        // the leg's end): wait for Daily's word on it.
        await condition(
          () => !!facts.verdict || interrupted() || leg.isGone() || !!leg.connectedAttempt(),
          input.reconcileWindowSec * 1000,
          { summary: `reconcile a refusal, ${attemptName(plan)}` }
        );
        if (!facts.verdict) {
          const connected = leg.connectedAttempt();
          if (!connected)
            flag('leg-unaddressable', `attempt ${plan.index + 1}: Daily refused the leg, and no event said why`);
          leg.close(facts, {
            outcome: 'api-error',
            decidedBy: connected
              ? `${result.detail}: the caller is with destination ${connected.plan.index + 1}`
              : `${result.detail}: the leg is out of the room and Daily no longer takes requests for it`,
          });
        }
        return facts;
      }
      // Unknown: Daily's word on it (any event for this attempt) settles it; without it, presence may judge only
      // while no earlier request can have moved the leg. Otherwise the ring budget decides (`unknown`).
      await condition(
        () => leg.hasEvidence(facts) || !!facts.verdict || interrupted(),
        input.reconcileWindowSec * 1000,
        { summary: `reconcile an unknown request, ${attemptName(plan)}` }
      );
      if (leg.hasEvidence(facts) || facts.verdict || interrupted() || !leg.presenceCanJudge(facts)) continue;
      leg.presence(facts, await isSessionInRoom({ room: input.room, sessionId: input.sessionId }));
      if (!leg.maySend(facts)) break;
      log.warn('Transfer request did not take effect (the leg is still in the room); sending it again', {
        detail: result.detail,
      });
    }

    // 2. Follow it until the destination answers, fails, or the ring budget (Daily has none) runs out.
    if (!facts.verdict) {
      await condition(() => !!facts.verdict || interrupted(), attempt.answerTimeoutSec * 1000, {
        summary: `ring timeout, ${attemptName(plan)}`,
      });
      if (!facts.verdict) {
        if (interrupted()) leg.close(facts, { outcome: 'canceled', decidedBy: cancelReason! });
        else leg.ringTimedOut(facts, attempt.answerTimeoutSec);
      }
    }
    return facts;
  }

  function finish(record: AttemptRecord, facts: AttemptFacts) {
    const verdict = facts.verdict ?? { outcome: 'failed', decidedBy: 'no verdict' };
    record.outcome = verdict.outcome;
    record.decidedBy = verdict.decidedBy;
    record.endedAt = new Date(now()).toISOString();
    status.leg = leg.where();
    if (verdict.outcome === 'unknown') flag('unknown-outcome', `attempt ${record.index + 1}: request outcome unknown`);
    return verdict.outcome;
  }

  /** Tells operators (the `TransferNeedsAttention` search attribute) that the evidence ran out; the first reason wins. */
  function flag(reason: 'unknown-outcome' | 'leg-unaddressable' | 'leg-not-ended', detail: string) {
    status.needsAttention ??= detail;
    if (!upserted.has(searchAttributes.needsAttention.name)) upsert([searchAttributes.needsAttention, reason]);
  }

  const newRecord = (index: number, attempt: TransferAttempt): AttemptRecord => ({
    index,
    method: attempt.method,
    toEndPoint: attempt.toEndPoint,
    startedAt: new Date(now()).toISOString(),
    requests: 0,
    events: [],
  });

  /**
   * Cleanup: runs `onExhausted` (also after a cancel that left the caller out of the room). Not cancellable. A
   * fallback that fails is recorded, never thrown: the transfer still ends with its record.
   */
  async function fallBack(): Promise<TransferState> {
    phase = 'cleanup';
    const policy = input.onExhausted;
    const where = leg.where();
    const record = (ok: boolean, detail: string, toEndPoint?: string): FallbackRecord =>
      (status.fallback = { action: policy.action, toEndPoint, ok, detail, at: new Date(now()).toISOString() });
    if (where === 'gone' || where === 'referred' || where === 'connected') return 'failed'; // nothing to move
    // Still in the room (never left, or a REFER the far end refused): nothing to undo, nobody stranded.
    const inRoom = where === 'in-room' || (where === 'requested' && (await stillInRoom()));
    if (policy.action === 'none' || (policy.action === 'rollback' && inRoom)) {
      if (policy.action === 'rollback') {
        record(true, 'caller never left the room');
        return 'rolled_back';
      }
      if (inRoom) return 'failed';
      // `none` with the caller out of the room, ringing or parked with nobody answering: Daily has no ring timeout,
      // so ending the leg is the only way not to leave the caller ringing with nobody in charge.
      await endLeg(record, 'caller was out of the room with nobody answering: leg ended');
      return 'failed';
    }
    setState('falling_back');
    try {
      if (policy.action === 'hangup') {
        await endLeg(record, 'caller leg ejected');
        return 'failed';
      }
      const target =
        policy.action === 'refer' ? policy.toEndPoint : (policy.returnTo ?? (await getRoomSipUri(input.room)));
      const fallbackAttempt: TransferAttempt = {
        method: policy.action === 'refer' ? 'sipRefer' : 'sipCallTransfer',
        toEndPoint: target,
        answerTimeoutSec: Math.max(...input.attempts.map((a) => a.answerTimeoutSec)),
      };
      const index = leg.attempts.length;
      const fallbackRecord = newRecord(index, fallbackAttempt);
      const facts = await runAttempt(
        { index, method: fallbackAttempt.method, toEndPoint: target },
        fallbackAttempt,
        fallbackRecord
      );
      const outcome = finish(fallbackRecord, facts);
      const ok = outcome === 'answered';
      const detail = `${fallbackAttempt.method} ${maskEndpoint(target)}: ${outcome} (${facts.verdict?.decidedBy ?? 'no detail'})`;
      record(ok, detail, target);
      if (!ok) return 'failed';
      return policy.action === 'refer' ? 'referred' : 'rolled_back';
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      record(false, `${policy.action} failed: ${err.cause?.message ?? err.message}`);
      return 'failed';
    }
  }

  /** Presence for a leg whose requests may have moved it, asked once every attempt is decided. */
  async function stillInRoom(): Promise<boolean> {
    const inRoom = await isSessionInRoom({ room: input.room, sessionId: input.sessionId });
    leg.presenceAfterAttempts(inRoom);
    status.leg = leg.where();
    return inRoom;
  }

  /** Ejects the caller's leg (idempotent: Temporal may retry it). */
  async function endLeg(record: (ok: boolean, detail: string) => FallbackRecord, detail: string): Promise<boolean> {
    try {
      // An activity worker from before `{ended}` existed answers nothing: its eject succeeded, as it always meant.
      const reply: { ended: boolean } | undefined = await hangUp({ room: input.room, sessionId: input.sessionId });
      if (reply?.ended === false) {
        record(false, `${input.onExhausted.action}: Daily's eject did not reach the leg (it is outside the room)`);
        flag('leg-not-ended', 'the caller may still be ringing or parked: eject did not reach the leg');
        return false;
      }
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      record(false, `${input.onExhausted.action} failed: ${err.cause?.message ?? err.message}`);
      return false;
    }
    leg.legEjected();
    status.leg = leg.where();
    record(true, detail);
    return true;
  }

  /** After an answer: follow the call (bounded) until Daily says it ended, to record how long it lasted. */
  async function followCall(facts: AttemptFacts): Promise<void> {
    phase = 'following';
    decided = structuredCloneStatus(status);
    const ended = () => facts.completed ?? facts.lateCompleted;
    await condition(() => !!ended() || leg.isGone() || cancelReason !== undefined, input.maxCallDurationSec * 1000, {
      summary: 'follow the call, at most maxCallDurationSec',
    });
    const answered = facts.answered ?? facts.lateAnswered;
    const completed = ended();
    if (completed?.occurredAtMs !== undefined && answered?.occurredAtMs !== undefined) {
      status.callDurationSec = Math.max(0, Math.round((completed.occurredAtMs - answered.occurredAtMs) / 1000));
    }
  }

  async function run(): Promise<TransferState> {
    for (const [index, attempt] of input.attempts.entries()) {
      if (index > 0) setState('falling_back');
      const record = newRecord(index, attempt);
      status.attempts.push(record);
      status.currentAttempt = index;
      if (index > 0) upsert([searchAttributes.method, attempt.method]);
      if (attempt.method === 'dialFirst') {
        const outcome = await dialFirst.run(index, attempt, record);
        status.outcome = outcome;
        status.leg = leg.where();
        if (outcome === 'answered') {
          setState('answered');
          phase = 'following';
          decided = structuredCloneStatus(status);
          const duration = await dialFirst.follow(index);
          if (duration !== undefined) status.callDurationSec = duration;
          return 'completed';
        }
        setState(status.state);
        // Validation puts dialFirst attempts before any transfer: the caller never left the room for them.
        if (outcome === 'caller-hung-up' || leg.isGone()) return 'failed';
        if (outcome === 'canceled') return 'canceled';
        continue;
      }
      const facts = await runAttempt(
        { index, method: attempt.method, toEndPoint: attempt.toEndPoint },
        attempt,
        record
      );
      const outcome = finish(record, facts);
      status.outcome = outcome;
      // A destination may have the caller even when its verdict was a timeout (it answered just after).
      const connected = leg.connectedAttempt();
      if (connected) {
        status.outcome = 'answered';
        if (connected.plan.method === 'sipCallTransfer') {
          setState('answered');
          await followCall(connected);
        }
        return 'completed';
      }
      setState(status.state);
      if (outcome === 'caller-hung-up' || outcome === 'caller-leg-failed' || leg.isGone()) return 'failed';
      if (outcome === 'canceled') {
        // Leave no caller stranded outside the room: a cancel still runs the fallback once they may have left.
        if (leg.where() !== 'in-room') await fallBack();
        return 'canceled';
      }
    }
    return fallBack();
  }

  const finalState = await CancellationScope.nonCancellable(async () => {
    const state = await run();
    // No dial-out this transfer started may ring on once it ends (a no-op without `dialFirst` attempts).
    await dialFirst.sweep();
    return state;
  });
  if (cancelReason && finalState !== 'completed') status.canceledBy = cancelReason;
  status.leg = leg.where();
  setState(cancelReason && finalState !== 'completed' ? 'canceled' : finalState);
  phase = 'done';
  decided ??= status;
  // The updates waiting for the end (cancel, decision) answer before the workflow closes.
  await condition(allHandlersFinished);
  if (!FINAL_STATES.includes(status.state)) throw ApplicationFailure.nonRetryable(`ended in ${status.state}`);
  if (canceledByTemporal) throw new CancelledFailure(cancelReason);
  return status;
}

/** The search attributes the start already set (the typed client sets them), so they are not written again. */
function initialSearchAttributes(): Array<[string, string]> {
  const attributes = workflowInfo().typedSearchAttributes;
  return Object.values(searchAttributes).flatMap((key) => {
    const value = attributes.get(key);
    return typeof value === 'string' ? [[key.name, value] as [string, string]] : [];
  });
}

/** Sends one transfer request; classifies the result by what it tells about whether Daily acted on it. */
async function requestTransfer(
  input: TransferInput,
  attempt: TransferAttempt,
  index: number
): Promise<{ result: RequestResult; retryAfterMs?: number }> {
  const { requestTransfer: send } = proxyActivities<Activities>({
    ...TRANSFER_REQUEST_OPTIONS,
    summary: `${attempt.method} → ${maskEndpoint(attempt.toEndPoint)} (destination ${index + 1})`,
  });
  try {
    await send({
      room: input.room,
      sessionId: input.sessionId,
      method: attempt.method,
      toEndPoint: attempt.toEndPoint,
      callerId: attempt.callerId,
      extension: attempt.extension,
      waitBeforeExtensionDialSec: attempt.waitBeforeExtensionDialSec,
    });
    return { result: { kind: 'accepted' } };
  } catch (err) {
    return classifyRequestFailure(err, 'transfer request');
  }
}

async function validated(raw: TransferInput): Promise<TransferInput> {
  try {
    const input = await validateTransferInput(raw);
    if (transferWorkflowId(input.room, input.sessionId) !== workflowInfo().workflowId) {
      log.warn('Workflow id does not follow transferWorkflowId(room, sessionId); one-per-leg is not enforced');
    }
    return input;
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      throw ApplicationFailure.nonRetryable(err.cause.message, FailureTypes.invalidInput);
    }
    throw err;
  }
}

function eventRecord(event: DailyEvent, receivedAtMs: number, acted: boolean): EventRecord {
  return { id: event.id, type: event.type, receivedAt: new Date(receivedAtMs).toISOString(), acted };
}

/** The status as it was at the decision (the running one goes on changing while the call is followed). */
function structuredCloneStatus(status: TransferStatus): TransferStatus {
  return JSON.parse(JSON.stringify(status)) as TransferStatus;
}

/** Workflow time (deterministic). */
const now = (): number => Date.now();

/** The Temporal UI's "current details": a short markdown view of where the transfer is. */
function describe(status: TransferStatus): string {
  const header = `**${status.state}**${status.outcome ? ` — last outcome: ${status.outcome}` : ''}${status.leg ? ` — caller: ${status.leg}` : ''}`;
  const attempts = status.attempts.map((a) => {
    const outcome = a.outcome ? `${a.outcome}${a.decidedBy ? ` (${a.decidedBy})` : ''}` : 'in progress';
    const legs = (a.legs ?? []).map(
      (l) =>
        `\n   - leg ${l.leg + 1} → ${maskEndpoint(l.toEndPoint)}: ${l.outcome ?? 'ringing'}${l.stop ? ` (${l.stop})` : ''}`
    );
    return `${a.index + 1}. ${a.method} → ${maskEndpoint(a.toEndPoint)}: ${outcome}${legs.join('')}`;
  });
  const fallback = status.fallback ? [`fallback ${status.fallback.action}: ${status.fallback.detail}`] : [];
  const attention = status.needsAttention ? [`needs attention: ${status.needsAttention}`] : [];
  // Blank lines: markdown joins single newlines into one paragraph.
  return [header, attempts.join('\n'), ...fallback, ...attention].filter(Boolean).join('\n\n');
}
