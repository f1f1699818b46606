/**
 * `dialFirst` attempts of `transferCall`: dial the destination (or a group rung together) into the caller's room,
 * own the ring budget, keep the first leg that answers and stop every other one. The caller never leaves the room,
 * so an unanswered attempt leaves nothing to roll back. Leg state lives in the pure `./dial-out.ts`; this module
 * sends the requests and waits.
 */
import { ActivityFailure, condition, log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { maskEndpoint } from '../mask';
import type {
  AttemptOutcome,
  AttemptRecord,
  DailyEvent,
  DialOutLegOutcome,
  DialOutLegRecord,
  EventRecord,
  TransferAttempt,
  TransferInput,
} from '../shared';
import { FailureTypes } from '../shared';
import { DialOutLegs, type DialOutLeg, type LegVerdict } from './dial-out';
import { classifyRequestFailure } from './request-failure';

/** dialOut/start requests for one leg (429s, unsent requests) before giving up on it. */
const MAX_STARTS_PER_LEG = 5;

/** Stopping a dial-out is safe to repeat ("No dialout to stop" is success): Temporal retries it, long. */
const { stopDialOut } = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: {
    initialInterval: '1s',
    maximumInterval: '20s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [
      FailureTypes.roomNotSfu,
      FailureTypes.badRequest,
      FailureTypes.auth,
      FailureTypes.forbidden,
      FailureTypes.invalidInput,
    ],
  },
});

/** One destination of a `dialFirst` attempt, with the options Daily's dialOut/start takes for it. */
type Destination = Pick<
  TransferAttempt,
  'toEndPoint' | 'callerId' | 'sipHeaders' | 'extension' | 'waitBeforeExtensionDialSec'
>;

/** What `transferCall` lends a `dialFirst` attempt. */
export interface DialFirstContext {
  input: TransferInput;
  /** A cancel interrupts the ring (not the stops that follow it). */
  interrupted(): boolean;
  cancelReason(): string | undefined;
  /** The caller's leg is no longer in the room (hung up, failed, ejected): nobody is left to connect. */
  callerLeft(): string | undefined;
  /** Daily accepted a start / a leg reached its destination / a leg answered. */
  progressed(step: 'triggered' | 'initiated'): void;
  /** Ejects one session from the room (idempotent); false when Daily did not reach it. */
  eject(sessionId: string): Promise<boolean>;
  flag(reason: 'unknown-outcome' | 'leg-not-ended', detail: string): void;
  now(): number;
}

export class DialFirst {
  private readonly model: DialOutLegs;
  private readonly records = new Map<number, AttemptRecord>();

  constructor(private readonly ctx: DialFirstContext) {
    this.model = new DialOutLegs(ctx.input.sessionId);
  }

  /** Whether any dial-out was started: only then is there anything to sweep or to route. */
  get active(): boolean {
    return this.model.legs.length > 0;
  }

  /**
   * A `dialout.*` event about one of this transfer's legs, from the signal handler: applied and recorded on its leg.
   * False for any other event (the caller's own leg takes those).
   */
  receive(event: DailyEvent, receivedAtMs: number): boolean {
    const receipt = this.model.receive(event);
    if (!receipt) return false;
    const legRecord = this.legRecord(receipt.leg);
    if (!legRecord) return true;
    if (!legRecord.events.some((e) => e.id === event.id)) {
      const entry: EventRecord = {
        id: event.id,
        type: event.type,
        receivedAt: new Date(receivedAtMs).toISOString(),
        acted: receipt.acted,
      };
      legRecord.events.push(entry);
    }
    if (receipt.acted && event.type === 'dialout.connected') this.ctx.progressed('initiated');
    this.sync(receipt.leg.attempt);
    return true;
  }

  /** Rings the attempt's destinations together until one answers, the ring budget runs out, a cancel or a hang-up. */
  async run(index: number, attempt: TransferAttempt, record: AttemptRecord): Promise<AttemptOutcome> {
    const { ctx, model } = this;
    const destinations: Destination[] = [
      {
        toEndPoint: attempt.toEndPoint,
        callerId: attempt.callerId,
        sipHeaders: attempt.sipHeaders,
        extension: attempt.extension,
        waitBeforeExtensionDialSec: attempt.waitBeforeExtensionDialSec,
      },
      ...(attempt.ringTogether ?? []),
    ];
    const deadline = ctx.now() + attempt.answerTimeoutSec * 1000;
    const legs = destinations.map((d) => model.add(index, d.toEndPoint));
    record.legs = legs.map((l) => ({ leg: l.leg, toEndPoint: l.toEndPoint, startRequests: 0, events: [] }));
    this.records.set(index, record);

    const open = () => !model.decided(index) && !ctx.interrupted() && !ctx.callerLeft();
    await Promise.all(legs.map((leg, i) => this.start(leg, destinations[i]!, deadline, open)));
    // The budget counts from the first start: 429 waits for one leg spend it too (a caller is waiting).
    if (open() && deadline > ctx.now()) {
      await condition(() => !open(), deadline - ctx.now(), {
        summary: `ring timeout, destination ${index + 1} (dial first)`,
      });
    }
    const winner = model.winner(index);
    if (!winner) {
      const reason = ctx.callerLeft();
      if (ctx.interrupted()) model.close(index, { outcome: 'canceled', decidedBy: ctx.cancelReason() ?? 'canceled' });
      else if (reason) model.close(index, { outcome: 'caller-hung-up', decidedBy: reason });
      else model.timedOut(index, attempt.answerTimeoutSec);
    }
    this.sync(index);
    await this.stopLosers();
    if (winner && attempt.removeSessionIds?.length) {
      record.removedSessionIds = [];
      for (const sessionId of attempt.removeSessionIds) {
        if (await ctx.eject(sessionId)) record.removedSessionIds.push(sessionId);
      }
    }
    this.sync(index);
    return this.outcome(index, record);
  }

  /**
   * After the answer: the caller and the destination talk in the room. Follows the call until the winning leg ends,
   * the caller leaves (then the leg is stopped: nobody is left for it to talk to), a cancel, or `maxCallDurationSec`.
   * Returns the call's length in seconds when both ends are known.
   */
  async follow(index: number): Promise<number | undefined> {
    const winner = this.model.winner(index)!;
    await condition(
      () => this.model.ended(winner) || !!this.ctx.callerLeft() || this.ctx.cancelReason() !== undefined,
      this.ctx.input.maxCallDurationSec * 1000,
      { summary: 'follow the call, at most maxCallDurationSec' }
    );
    if (this.ctx.callerLeft() && !this.model.ended(winner)) await this.stop(winner);
    const from = winner.answered?.occurredAtMs;
    const to = winner.stopped?.occurredAtMs;
    return from !== undefined && to !== undefined ? Math.max(0, Math.round((to - from) / 1000)) : undefined;
  }

  /**
   * Before the transfer ends: no leg it started may still ring. Stops every loser that needs it (one that answered
   * after its group was decided, a session learned late) and, for a leg whose session id never became known, waits
   * `reconcileWindowSec` for an event naming it; what stays unknown is flagged for operators.
   */
  async sweep(): Promise<void> {
    if (!this.active) return;
    await this.stopLosers();
    for (const leg of this.model.legs) this.sync(leg.attempt);
  }

  private async start(leg: DialOutLeg, destination: Destination, deadline: number, open: () => boolean): Promise<void> {
    const { ctx, model } = this;
    const { startDialOut } = proxyActivities<Activities>({
      startToCloseTimeout: '15s',
      // Not idempotent: every accepted dialOut/start rings a new leg. Retrying is the model's decision.
      retry: { maximumAttempts: 1 },
      summary: `dialOut/start → ${maskEndpoint(leg.toEndPoint)} (leg ${leg.leg + 1})`,
    });
    let backoffMs = 1000;
    while (open() && model.mayStart(leg) && ctx.now() < deadline) {
      if (leg.sent >= MAX_STARTS_PER_LEG) {
        model.closeLeg(leg, { outcome: 'api-error', decidedBy: `gave up after ${leg.sent} dialOut/start requests` });
        return;
      }
      model.requesting(leg);
      this.sync(leg.attempt);
      try {
        const { sessionId } = await startDialOut({
          room: ctx.input.room,
          toEndPoint: leg.toEndPoint,
          userId: leg.userId,
          callerId: destination.callerId,
          // Validation admits only `X-` names.
          sipHeaders: destination.sipHeaders as Record<`X-${string}`, string> | undefined,
          extension: destination.extension,
          waitBeforeExtensionDialSec: destination.waitBeforeExtensionDialSec,
        });
        model.startResult(leg, { kind: 'accepted', sessionId });
        ctx.progressed('triggered');
      } catch (err) {
        const { result, retryAfterMs } = classifyRequestFailure(err, 'dialOut/start');
        model.startResult(leg, result);
        if (result.kind === 'accepted') ctx.progressed('triggered');
        if (result.kind === 'not-sent') {
          const waitMs = Math.min(retryAfterMs ?? backoffMs, ctx.input.maxRetryAfterSec * 1000, deadline - ctx.now());
          log.warn('Daily did not take dialOut/start; asking again', { detail: result.detail, waitMs });
          if (waitMs > 0) await condition(() => !open(), waitMs, { summary: `Retry-After, leg ${leg.leg + 1}` });
          backoffMs = Math.min(backoffMs * 2, 30_000);
        }
      }
      this.sync(leg.attempt);
    }
  }

  /** Stops every leg the model says must stop; a leg whose session is unknown gets a reconcile window first. */
  private async stopLosers(): Promise<void> {
    const { model, ctx } = this;
    if (model.unreachable().length > 0) {
      await condition(() => model.unreachable().length === 0, ctx.input.reconcileWindowSec * 1000, {
        summary: 'reconcile an unknown dialOut/start',
      });
    }
    // Stopping may race new answers (a loser answering just now): go round until nothing more is stoppable.
    for (;;) {
      const stoppable = model.toStop().filter((l) => l.sessionId !== undefined);
      if (stoppable.length === 0) break;
      await Promise.all(stoppable.map((l) => this.stop(l)));
      if (stoppable.some((l) => l.stop === 'failed')) break;
    }
    for (const leg of model.unreachable()) {
      const record = this.legRecord(leg);
      if (record) record.stop = 'session-unknown';
      ctx.flag(
        'unknown-outcome',
        `dial-out leg ${leg.leg + 1}: dialOut/start's outcome unknown and no event named its session; it cannot be stopped`
      );
    }
  }

  private async stop(leg: DialOutLeg): Promise<void> {
    let result: 'stopped' | 'not-running' | 'failed';
    try {
      result = await stopDialOut({ room: this.ctx.input.room, sessionId: leg.sessionId! });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      log.warn('dialOut/stop failed', { leg: leg.leg, error: err.cause?.message ?? err.message });
      result = 'failed';
      this.ctx.flag('leg-not-ended', `dial-out leg ${leg.leg + 1}: dialOut/stop failed; it may still ring`);
    }
    this.model.stopResult(leg, result);
    const record = this.legRecord(leg);
    if (record) record.stop = result;
  }

  /** Copies the model's view of the attempt's legs into its record (the status query and the result). */
  private sync(index: number): void {
    const record = this.records.get(index);
    if (!record?.legs) return;
    for (const leg of this.model.group(index)) {
      const legRecord = record.legs.find((r) => r.leg === leg.leg);
      if (!legRecord) continue;
      legRecord.startRequests = leg.sent;
      if (leg.sessionId !== undefined) legRecord.dialOutSessionId = leg.sessionId;
      if (leg.verdict) {
        legRecord.outcome = leg.verdict.outcome;
        legRecord.decidedBy = leg.verdict.decidedBy;
      }
    }
    record.requests = this.model.group(index).reduce((sum, l) => sum + l.sent, 0);
    const winner = this.model.winner(index);
    if (winner?.answered) record.answeredAt ??= new Date(this.ctx.now()).toISOString();
  }

  private legRecord(leg: DialOutLeg): DialOutLegRecord | undefined {
    return this.records.get(leg.attempt)?.legs?.find((r) => r.leg === leg.leg);
  }

  /** The attempt's outcome from its legs: the winner's answer, else what the legs agree on, else `no-answer`. */
  private outcome(index: number, record: AttemptRecord): AttemptOutcome {
    const legs = this.model.group(index);
    const winner = this.model.winner(index);
    const verdict: LegVerdict = winner
      ? { outcome: 'answered', decidedBy: `leg ${winner.leg + 1}: ${winner.verdict!.decidedBy}` }
      : summarise(legs.map((l) => l.verdict!));
    const outcome = toAttemptOutcome(verdict.outcome);
    record.outcome = outcome;
    record.decidedBy = verdict.decidedBy;
    record.endedAt = new Date(this.ctx.now()).toISOString();
    return outcome;
  }
}

/** One destination: its own verdict. Several: their common outcome, or `no-answer` naming each. */
function summarise(verdicts: LegVerdict[]): LegVerdict {
  if (verdicts.length === 1) return verdicts[0]!;
  const first = verdicts[0]!.outcome;
  const detail = verdicts.map((v, i) => `leg ${i + 1}: ${v.outcome}`).join('; ');
  return { outcome: verdicts.every((v) => v.outcome === first) ? first : 'no-answer', decidedBy: detail };
}

/** A leg's outcome as an attempt outcome (a group's own words for racing legs never decide an attempt). */
function toAttemptOutcome(outcome: DialOutLegOutcome): AttemptOutcome {
  switch (outcome) {
    case 'answered-too-late':
    case 'lost-race':
      return 'no-answer';
    default:
      return outcome;
  }
}
