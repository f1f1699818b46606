/**
 * FROZEN: the `transferCall` code from before the leg model, kept so that transfers started by it finish on it
 * (`transferCall` runs it when patch `leg-model` is absent from the history). Change nothing here.
 *
 * `transferCall`: moves one caller leg through its destinations in order, following Daily's webhooks, and falls
 * back when none answers. Deterministic: all I/O happens in activities; Daily's events arrive as signals.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  TimeoutFailure,
  condition,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, DailyFailureDetails } from '../../activities';
import type * as inputActivities from '../../activities/validate-input';
import { maskEndpoint } from '../../mask';
import type {
  AttemptOutcome,
  AttemptRecord,
  FallbackRecord,
  TransferAttempt,
  TransferInput,
  TransferMethod,
  TransferResult,
  TransferState,
  TransferStatus,
} from '../../shared';
import {
  FailureTypes,
  FINAL_STATES,
  cancelUpdate,
  dailyEventSignal,
  searchAttributes,
  statusQuery,
  transferWorkflowId,
} from '../../shared';
import { EventInbox, record as eventRecord } from './event-inbox';
import { applyEvent, decideFromEvents, type AttemptProgress } from './outcome';

/** Daily's transfer POST is not idempotent: never let Temporal retry it. Retrying is the workflow's decision. */
const TRANSFER_REQUEST_OPTIONS = { startToCloseTimeout: '15s', retry: { maximumAttempts: 1 } } as const;
/** Reads and the hang-up are safe to retry; permanent 4xx are not. */
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

/**
 * Patch: a rollback used to trust only the events seen before the attempt was decided to know whether the caller
 * had left the room. With reordered webhooks (`completed` before `initiated`) that left callers parked outside it.
 */
const ROLLBACK_KNOWS_CALLER_LEFT = 'rollback-knows-caller-left';
/**
 * Patch: an unknown request outcome used to be settled by presence alone once `triggered` did not come: a leg not in
 * the room counted as sent. Once an earlier request may have moved the leg out (ringing an earlier destination, or
 * parked before a rollback), presence proves nothing, and a request that never reached Daily stranded the caller.
 */
const RESEND_UNHEARD_REQUEST_OUTSIDE_ROOM = 'resend-unheard-request-outside-room';

/** How many times one destination is requested (429s, connection failures, reconciled unknowns) before giving up. */
const MAX_REQUESTS_PER_ATTEMPT = 5;

export async function transferCallV1(rawInput: TransferInput): Promise<TransferResult> {
  const input = await validated(rawInput);
  const status: TransferStatus = {
    workflowId: workflowInfo().workflowId,
    room: input.room,
    sessionId: input.sessionId,
    requestId: input.requestId,
    state: 'requested',
    attempts: [],
    lateEvents: [],
  };
  const inbox = new EventInbox(input.sessionId);
  let cancelReason: string | undefined;
  let finished = false;
  /** Set once a transfer request took effect, or may have (unknown outcome): the leg may be out of the room. */
  let legMayBeOutsideRoom = false;

  setHandler(statusQuery, () => status);
  // Several events per signal (a relay batch) are taken in order; histories from before batching carry one.
  setHandler(dailyEventSignal, (...events) => events.forEach((event) => inbox.receive(event, now())));
  setHandler(
    cancelUpdate,
    async (request) => {
      cancelReason ??= request?.reason ?? 'canceled by update';
      await condition(() => finished);
      return status;
    },
    {
      validator: (_request) => {
        if (finished) throw new Error(`transfer already finished (${status.state})`);
      },
    }
  );
  // Temporal's own cancel takes the same path as the update: stop, clean up, record why.
  let canceledByTemporal = false;
  CancellationScope.current().cancelRequested.catch(() => {
    canceledByTemporal = true;
    cancelReason ??= 'canceled through Temporal';
  });

  const setState = (state: TransferState, outcome?: AttemptOutcome) => {
    status.state = state;
    if (outcome) status.outcome = outcome;
    upsertSearchAttributes([
      { key: searchAttributes.state, value: state },
      ...(status.outcome ? [{ key: searchAttributes.outcome, value: status.outcome }] : []),
    ]);
    setCurrentDetails(describe(status));
  };
  upsertSearchAttributes([
    { key: searchAttributes.room, value: input.room },
    { key: searchAttributes.sessionId, value: input.sessionId },
    { key: searchAttributes.method, value: input.attempts[0]?.method ?? 'sipCallTransfer' },
  ]);
  setState('requested');

  /**
   * Requests one destination and follows it until an outcome is decided. At most once: an unknown request outcome
   * is reconciled (Daily's `triggered` event, then presence) before the request is ever sent again.
   */
  async function runAttempt(attempt: TransferAttempt, record: AttemptRecord): Promise<AttemptProgress> {
    inbox.startAttempt(status.lateEvents);
    const progress: AttemptProgress = { method: attempt.method };
    const decide = (outcome: AttemptOutcome, decidedBy: string) => {
      progress.outcome ??= outcome;
      progress.decidedBy ??= decidedBy;
    };
    // Called from condition() predicates, so that events are taken at the moment they wake the workflow. The SDK
    // evaluates predicates at fixed points of every activation, and replay evaluates them the same way, so the
    // state changes (and search-attribute upserts) made here are as deterministic as a signal handler's.
    const absorbEvents = () => {
      for (const { event, receivedAtMs } of inbox.take()) {
        // A transfer event naming another destination belongs to an earlier attempt: late, not acted on.
        if (event.type.startsWith('calltransfer.') && event.toEndPoint && event.toEndPoint !== attempt.toEndPoint) {
          status.lateEvents.push(eventRecord(event, receivedAtMs, false));
          continue;
        }
        const acted = applyEvent(progress, event);
        record.events.push(eventRecord(event, receivedAtMs, acted));
        if (!acted) continue;
        if (event.type === 'calltransfer.triggered' && status.state === 'requested') setState('triggered');
        if (event.type === 'calltransfer.initiated') setState('initiated');
        if (event.type === 'calltransfer.answered') record.answeredAt = new Date(receivedAtMs).toISOString();
      }
      const verdict = decideFromEvents(progress);
      if (verdict) decide(verdict.outcome, verdict.decidedBy);
    };

    // 1. Send the request, reconciling any unknown outcome before sending it again.
    let backoffMs = 1000;
    for (;;) {
      if (cancelReason) {
        decide('canceled', cancelReason);
        return progress;
      }
      if (record.requests >= MAX_REQUESTS_PER_ATTEMPT) {
        decide('api-error', `gave up after ${record.requests} transfer requests`);
        return progress;
      }
      record.requests++;
      // Presence can judge this request only if no earlier one may have taken the leg out of the room.
      const outsideBefore = legMayBeOutsideRoom;
      const failure = await requestTransfer(input, attempt, record.index);
      if (!failure) break;
      if (failure.kind === 'retry-after') {
        log.warn('Daily asked to slow down', { delayMs: failure.delayMs ?? backoffMs });
        await sleep(failure.delayMs ?? backoffMs);
        backoffMs = Math.min(backoffMs * 2, 30_000);
        continue;
      }
      if (failure.kind === 'rejected') {
        // The leg is gone once an earlier destination took the caller out of the room and they hung up.
        const legGone = failure.type === FailureTypes.invalidSession && record.index > 0;
        decide(legGone ? 'caller-hung-up' : 'api-error', failure.detail);
        return progress;
      }
      // Unknown: did Daily act on it? Its `triggered` webhook (for this destination) says so. Without it, the leg
      // still being in the room says it did not. Only then is it safe to ask again.
      legMayBeOutsideRoom = true;
      absorbEvents();
      const heard = await condition(() => {
        absorbEvents();
        return progress.triggered !== undefined || progress.initiated !== undefined || progress.outcome !== undefined;
      }, input.reconcileWindowSec * 1000);
      if (heard) break;
      if (outsideBefore && patched(RESEND_UNHEARD_REQUEST_OUTSIDE_ROOM)) {
        // An earlier request may have taken the leg out of the room, so presence cannot tell. Daily sends
        // `triggered` for every request it accepts, and none came for this one within the window.
        log.warn('Transfer request outcome unknown and Daily never confirmed it; sending it again', {
          detail: failure.detail,
        });
        continue;
      }
      if (!(await isSessionInRoom({ room: input.room, sessionId: input.sessionId }))) {
        log.warn('Transfer request outcome unknown and the leg left the room: treating it as sent', {
          detail: failure.detail,
        });
        break;
      }
      log.warn('Transfer request did not take effect; sending it again', { detail: failure.detail });
      legMayBeOutsideRoom = outsideBefore;
    }
    legMayBeOutsideRoom = true;

    // 2. Follow the transfer until the destination answers, fails, or the answer timeout (owned here) expires.
    absorbEvents();
    const answeredInTime = await condition(() => {
      absorbEvents();
      return progress.outcome !== undefined || cancelReason !== undefined;
    }, attempt.answerTimeoutSec * 1000);
    if (!answeredInTime) {
      decide(
        'no-answer',
        attempt.method === 'sipRefer'
          ? `REFER not confirmed within ${attempt.answerTimeoutSec}s (needs calltransfer.initiated and the leg leaving the room)`
          : `no calltransfer.answered within ${attempt.answerTimeoutSec}s`
      );
    }
    if (cancelReason) decide('canceled', cancelReason);
    return progress;
  }

  function finishAttempt(record: AttemptRecord, progress: AttemptProgress): AttemptOutcome {
    const outcome = progress.outcome ?? 'failed';
    record.outcome = outcome;
    record.decidedBy = progress.decidedBy;
    record.endedAt = new Date(now()).toISOString();
    return outcome;
  }

  /**
   * Runs `onExhausted` (also after a cancel that left the caller outside the room). A fallback that fails is
   * recorded, never thrown: the transfer still ends with its record.
   */
  async function fallBack(movedOut: boolean): Promise<TransferState> {
    const policy = input.onExhausted;
    if (policy.action === 'none') return 'failed';
    setState('falling_back');
    const record = (ok: boolean, detail: string, toEndPoint?: string): FallbackRecord =>
      (status.fallback = { action: policy.action, toEndPoint, ok, detail, at: new Date(now()).toISOString() });
    try {
      if (policy.action === 'hangup') {
        await hangUp({ room: input.room, sessionId: input.sessionId });
        record(true, 'caller leg ejected');
        return 'failed';
      }
      if (policy.action === 'rollback' && !movedOut) {
        // No event said the caller left; presence says whether they are still there.
        const stillThere =
          !patched(ROLLBACK_KNOWS_CALLER_LEFT) ||
          (await isSessionInRoom({ room: input.room, sessionId: input.sessionId }));
        if (stillThere) {
          record(true, 'caller never left the room');
          return 'rolled_back';
        }
      }
      const target =
        policy.action === 'refer' ? policy.toEndPoint : (policy.returnTo ?? (await getRoomSipUri(input.room)));
      const method: TransferMethod = policy.action === 'refer' ? 'sipRefer' : 'sipCallTransfer';
      const fallbackAttempt: TransferAttempt = {
        method,
        toEndPoint: target,
        answerTimeoutSec: Math.max(...input.attempts.map((a) => a.answerTimeoutSec)),
      };
      const fallbackRecord = newRecord(status.attempts.length, fallbackAttempt);
      const savedCancel = cancelReason;
      cancelReason = undefined; // a cancel must not cancel its own cleanup
      const progress = await runAttempt(fallbackAttempt, fallbackRecord);
      cancelReason = savedCancel;
      const outcome = finishAttempt(fallbackRecord, progress);
      const ok = outcome === 'answered';
      record(ok, `${method} ${maskEndpoint(target)}: ${outcome} (${progress.decidedBy ?? 'no detail'})`, target);
      if (!ok) return 'failed';
      return policy.action === 'refer' ? 'referred' : 'rolled_back';
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      record(false, `${policy.action} failed: ${err.cause?.message ?? err.message}`);
      return 'failed';
    }
  }

  const newRecord = (index: number, attempt: TransferAttempt): AttemptRecord => ({
    index,
    method: attempt.method,
    toEndPoint: attempt.toEndPoint,
    startedAt: new Date(now()).toISOString(),
    requests: 0,
    events: [],
  });

  async function run(): Promise<TransferState> {
    let movedOut = false;
    for (const [index, attempt] of input.attempts.entries()) {
      if (index > 0) setState('falling_back');
      const record = newRecord(index, attempt);
      status.attempts.push(record);
      status.currentAttempt = index;
      upsertSearchAttributes([{ key: searchAttributes.method, value: attempt.method }]);
      const progress = await runAttempt(attempt, record);
      const outcome = finishAttempt(record, progress);
      status.outcome = outcome;
      movedOut ||= callerLeft(progress);
      if (outcome === 'answered') {
        if (attempt.method === 'sipCallTransfer') {
          setState('answered', outcome);
          await followCall(progress, record);
        }
        return 'completed';
      }
      setState(status.state, outcome);
      if (outcome === 'caller-hung-up') return 'failed';
      if (outcome === 'canceled') {
        // Leave no caller stranded outside the room: a cancel still runs the fallback once they were moved out.
        if (movedOut) await fallBack(true);
        return 'canceled';
      }
    }
    return fallBack(movedOut);
  }

  /** After an answer: wait (bounded) for Daily's `completed` to record how long the transferred call lasted. */
  async function followCall(progress: AttemptProgress, record: AttemptRecord): Promise<void> {
    await condition(() => {
      for (const { event, receivedAtMs } of inbox.take()) {
        record.events.push(eventRecord(event, receivedAtMs, applyEvent(progress, event)));
      }
      return progress.completed !== undefined || cancelReason !== undefined;
    }, input.maxCallDurationSec * 1000);
    const { answered, completed } = progress;
    if (completed?.occurredAtMs !== undefined && answered?.occurredAtMs !== undefined) {
      status.callDurationSec = Math.max(0, Math.round((completed.occurredAtMs - answered.occurredAtMs) / 1000));
    }
  }

  const finalState = await CancellationScope.nonCancellable(run);
  if (cancelReason && finalState !== 'completed') status.canceledBy = cancelReason;
  setState(cancelReason && finalState !== 'completed' ? 'canceled' : finalState);
  finished = true;
  if (!FINAL_STATES.includes(status.state)) throw ApplicationFailure.nonRetryable(`ended in ${status.state}`);
  if (canceledByTemporal) throw new CancelledFailure(cancelReason);
  return status;
}

/** Whether the attempt's events show the caller out of the room. */
function callerLeft(progress: AttemptProgress): boolean {
  if (progress.initiated !== undefined || progress.left !== undefined) return true;
  // Daily sends `completed` only for a transfer that was initiated, which takes the caller out of the room, even
  // when it arrives first.
  return progress.completed !== undefined && patched(ROLLBACK_KNOWS_CALLER_LEFT);
}

type RequestFailure =
  | { kind: 'retry-after'; delayMs?: number }
  | { kind: 'rejected'; type: string; detail: string }
  | { kind: 'unknown'; detail: string };

/** Sends one transfer request; classifies a failure by what it tells us about whether Daily acted on it. */
async function requestTransfer(
  input: TransferInput,
  attempt: TransferAttempt,
  index: number
): Promise<RequestFailure | undefined> {
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
    return undefined;
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const cause = err.cause;
    if (cause instanceof TimeoutFailure)
      return { kind: 'unknown', detail: 'transfer request timed out (worker lost?)' };
    if (!(cause instanceof ApplicationFailure)) return { kind: 'unknown', detail: cause?.message ?? err.message };
    const detail = `Daily: ${cause.message}`;
    switch (cause.type) {
      case FailureTypes.rateLimited:
        return { kind: 'retry-after', delayMs: (cause.details?.[0] as DailyFailureDetails | undefined)?.retryAfterMs };
      case FailureTypes.networkError:
        return { kind: 'retry-after' };
      case FailureTypes.outcomeUnknown:
      case FailureTypes.serverError:
        return { kind: 'unknown', detail };
      default:
        return { kind: 'rejected', type: cause.type ?? 'unknown', detail };
    }
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

/** Workflow time (deterministic). */
const now = (): number => Date.now();

/** The Temporal UI's "current details": a short markdown view of where the transfer is. */
function describe(status: TransferStatus): string {
  const header = `**${status.state}**${status.outcome ? ` — last outcome: ${status.outcome}` : ''}`;
  const attempts = status.attempts.map((a) => {
    const outcome = a.outcome ? `${a.outcome}${a.decidedBy ? ` (${a.decidedBy})` : ''}` : 'in progress';
    return `${a.index + 1}. ${a.method} → ${maskEndpoint(a.toEndPoint)}: ${outcome}`;
  });
  const fallback = status.fallback ? [`fallback ${status.fallback.action}: ${status.fallback.detail}`] : [];
  // Blank lines: markdown joins single newlines into one paragraph.
  return [header, attempts.join('\n'), ...fallback].filter(Boolean).join('\n\n');
}
