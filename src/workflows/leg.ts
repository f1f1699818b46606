/**
 * The leg model: the single authority on where the caller's leg is and on what may be sent to Daily next.
 *
 * Pure and deterministic (no Temporal imports): the workflow feeds it every fact — request results, Daily's events,
 * presence answers, timers — and asks it. Its rules are the table in `./README.md`; each rule below names its row.
 */
import type { AttemptOutcome, DailyEvent, LegWhere, TransferMethod } from '../shared';

/**
 * Daily's payload `timestamp` is whole seconds (it floors), and its clock is not ours: an event may carry a time up
 * to this much before the workflow sent the request it answers.
 */
export const CLOCK_SKEW_MS = 2_000;

export type { LegWhere };

export type RequestResult =
  /** 2xx, whatever its body: Daily took it. */
  | { kind: 'accepted' }
  /** Refused before taking effect (a documented 4xx): `type` is the failure type. */
  | { kind: 'refused'; type: string; detail: string }
  /** Never reached Daily (connection refused, DNS) or refused with 429: nothing happened. */
  | { kind: 'not-sent'; detail: string }
  /** Sent, but no answer says whether Daily acted on it (5xx, timeout, reset, a worker lost mid-request). */
  | { kind: 'unknown'; detail: string };

export interface Verdict {
  outcome: AttemptOutcome;
  decidedBy: string;
}

export interface AttemptPlan {
  index: number;
  method: TransferMethod;
  toEndPoint: string;
}

/** What the model knows about one attempt. Evidence slots keep the first event of each kind. */
export interface AttemptFacts {
  plan: AttemptPlan;
  /** Workflow time of the first request; events older than this (less the skew) are not this attempt's. */
  requestedAtMs?: number;
  /** Requests sent; more than `requests.length` while one is in flight. */
  sent: number;
  requests: RequestResult[];
  /** Presence answered "in the room" after an unknown request: positive evidence it did not take effect. */
  presenceSaysNotTaken?: boolean;
  triggered?: DailyEvent;
  initiated?: DailyEvent;
  answered?: DailyEvent;
  completed?: DailyEvent;
  /** The leg was already out of the room when this attempt's first request was sent. */
  startedOutside: boolean;
  verdict?: Verdict;
  /**
   * `answered` / `completed` that arrived after the verdict: they change no decision, but they are facts about the
   * leg (a destination that answered just after its ring timeout has the caller).
   */
  lateAnswered?: DailyEvent;
  lateCompleted?: DailyEvent;
}

/** Why an event was not acted on. */
export type NotActed = 'duplicate' | 'other-leg' | 'before-this-run' | 'no-attempt' | 'decided' | 'nothing-new';

export type Receipt = { acted: true; attempt?: number } | { acted: false; why: NotActed; attempt?: number };

const LEG_EVENTS = new Set<DailyEvent['type']>(['participant.left', 'dialin.stopped', 'dialout.stopped']);
const LEG_ERRORS = new Set<DailyEvent['type']>(['dialin.error', 'dialout.error']);

export class CallerLeg {
  readonly attempts: AttemptFacts[] = [];
  private readonly seen = new Set<string>();
  /** Distinct `participant.left` for the caller's session. */
  private readonly departures: DailyEvent[] = [];
  /** Distinct `dialin.stopped` / `dialout.stopped` for the caller's session. */
  private readonly stops: DailyEvent[] = [];
  private legError?: DailyEvent;
  /**
   * A request was refused because Daily no longer knows the session while the leg was in the room: it is gone. (Out
   * of the room the same refusal is ambiguous — ended, connected to a late answer, or still ringing a destination
   * Daily will not re-target — and the workflow waits for events instead.)
   */
  private unaddressable?: string;
  /** The leg was ended on purpose (eject) by this workflow. */
  private ejected = false;
  /** Presence found the leg in the room after every request was decided (no request can still move it). */
  private presentAfterRequests = false;

  constructor(
    private readonly sessionId: string,
    /** Workflow time when this run started: older events belong to an earlier transfer of the same leg. */
    private readonly runStartedAtMs: number
  ) {}

  // -------------------------------------------------------------------------------------------------------------
  // Facts in
  // -------------------------------------------------------------------------------------------------------------

  startAttempt(plan: AttemptPlan): AttemptFacts {
    const facts: AttemptFacts = {
      plan,
      sent: 0,
      requests: [],
      startedOutside: this.hasLeftRoom(),
    };
    this.attempts.push(facts);
    return facts;
  }

  /** A request is about to be sent for the attempt (at workflow time `atMs`). */
  requesting(attempt: AttemptFacts, atMs: number): void {
    attempt.requestedAtMs ??= atMs;
    if (attempt.sent === 0) attempt.startedOutside = this.hasLeftRoom();
    attempt.sent++;
  }

  /**
   * `refusalAfterUnknownIsEvidence` (default true) is the rule below; false is the rule before it, kept for the
   * histories of transfers that ran under it (the workflow's `settled-elsewhere` patch).
   */
  requestResult(
    attempt: AttemptFacts,
    result: RequestResult,
    rules: { refusalAfterUnknownIsEvidence?: boolean } = {}
  ): void {
    attempt.requests.push(result);
    // Rule "refused: session unknown": Daily no longer knows the leg, so it is gone — unless an earlier request for
    // the attempt is unknown: that one may have moved the leg, and the refusal is evidence about it, not an end.
    const evidenceAboutUnknown = (rules.refusalAfterUnknownIsEvidence ?? true) && this.refusalFollowsUnknown(attempt);
    if (
      result.kind === 'refused' &&
      result.type === 'DailyInvalidSession' &&
      !this.hasLeftRoom() &&
      !evidenceAboutUnknown
    ) {
      this.unaddressable ??= result.detail;
    }
    this.decide(attempt);
  }

  /** Presence answered after an unknown request; only "still in the room" is evidence (see `presenceCanJudge`). */
  presence(attempt: AttemptFacts, inRoom: boolean): void {
    if (inRoom) attempt.presenceSaysNotTaken = true;
  }

  /**
   * Presence asked once every attempt is decided (before a fallback): "in the room" with no evidence of leaving means
   * the requests that Daily took did not move the leg (a REFER the far end refused, under the documented model).
   */
  presenceAfterAttempts(inRoom: boolean): void {
    this.presentAfterRequests = inRoom && !this.hasLeftRoom() && this.attempts.every((a) => a.verdict !== undefined);
  }

  legEjected(): void {
    this.ejected = true;
  }

  /** Applies one Daily event (from the signal handler). */
  receive(event: DailyEvent): Receipt {
    if (event.sessionId !== this.sessionId) return { acted: false, why: 'other-leg' };
    if (this.seen.has(event.id)) return { acted: false, why: 'duplicate' };
    this.seen.add(event.id);
    // Rule "earlier run": the same leg may have had a transfer before this run (same workflow id).
    if (event.occurredAtMs !== undefined && event.occurredAtMs < this.runStartedAtMs - CLOCK_SKEW_MS) {
      return { acted: false, why: 'before-this-run' };
    }
    if (LEG_EVENTS.has(event.type) || LEG_ERRORS.has(event.type)) return this.receiveLegEvent(event);

    const attempt = this.attemptFor(event);
    if (!attempt) return { acted: false, why: 'no-attempt' };
    if (attempt.verdict) {
      // An answered call's `completed` is its end, which the workflow follows: part of the record, not late.
      if (attempt.verdict.outcome === 'answered' && event.type === 'calltransfer.completed' && !attempt.completed) {
        attempt.completed = event;
        return { acted: true, attempt: attempt.plan.index };
      }
      if (event.type === 'calltransfer.answered') attempt.lateAnswered ??= event;
      if (event.type === 'calltransfer.completed') attempt.lateCompleted ??= event;
      return { acted: false, why: 'decided', attempt: attempt.plan.index };
    }
    const slot = (
      {
        'calltransfer.triggered': 'triggered',
        'calltransfer.initiated': 'initiated',
        'calltransfer.answered': 'answered',
        'calltransfer.completed': 'completed',
      } as const
    )[event.type as 'calltransfer.triggered'];
    if (!slot || attempt[slot]) return { acted: false, why: 'nothing-new', attempt: attempt.plan.index };
    attempt[slot] = event;
    this.decide(attempt);
    return { acted: true, attempt: attempt.plan.index };
  }

  /** The attempt's ring budget ran out with no verdict. */
  ringTimedOut(attempt: AttemptFacts, seconds: number): void {
    if (attempt.verdict) return;
    if (!this.requestMayHaveTakenEffect(attempt) || this.hasEvidence(attempt)) {
      attempt.verdict = {
        outcome: 'no-answer',
        decidedBy:
          attempt.plan.method === 'sipRefer'
            ? `REFER not confirmed within ${seconds}s (needs calltransfer.initiated and the leg out of the room)`
            : `no calltransfer.answered within ${seconds}s`,
      };
      return;
    }
    // Rule "unknown, never confirmed": no resend (it could transfer the caller twice); operators are told.
    attempt.verdict = {
      outcome: 'unknown',
      decidedBy: `Daily neither confirmed nor denied the request within ${seconds}s (${this.lastUnknown(attempt)})`,
    };
  }

  /** Ends an attempt for a reason outside Daily's evidence (cancel, gave up on requests). */
  close(attempt: AttemptFacts, verdict: Verdict): void {
    attempt.verdict ??= verdict;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Questions
  // -------------------------------------------------------------------------------------------------------------

  where(): LegWhere {
    if (this.isGone()) return 'gone';
    const answered = this.connectedAttempt();
    if (answered) return answered.plan.method === 'sipRefer' ? 'referred' : 'connected';
    const current = this.attempts.at(-1);
    if (this.hasLeftRoom()) return current && !current.verdict && current.initiated ? 'ringing' : 'parked';
    if (current && !current.verdict && this.requestMayHaveTakenEffect(current)) return 'requested';
    if (this.presentAfterRequests) return 'in-room';
    if (this.attempts.some((a) => this.acceptedOrUnknown(a) && !this.provedNotTaken(a) && !this.refusedByFarEnd(a)))
      return 'requested';
    return 'in-room';
  }

  /**
   * The attempt whose destination has the caller now: answered (even just after its ring timeout), with no later
   * request that Daily took.
   */
  connectedAttempt(): AttemptFacts | undefined {
    for (let i = this.attempts.length - 1; i >= 0; i--) {
      const attempt = this.attempts[i]!;
      if (attempt.verdict?.outcome === 'answered' || attempt.answered || attempt.lateAnswered) return attempt;
      if (this.hasEvidence(attempt)) return undefined;
    }
    return undefined;
  }

  hasLeftRoom(): boolean {
    return (
      this.departures.length > 0 ||
      this.stops.length > 0 ||
      this.attempts.some(
        (a) => a.initiated !== undefined && (a.plan.method !== 'sipRefer' || a.verdict?.outcome === 'answered')
      )
    );
  }

  isGone(): boolean {
    return this.endedBy() !== undefined;
  }

  /** The evidence that the leg ended, if any. */
  endedBy(): string | undefined {
    if (this.legError)
      return `${this.legError.type}: ${this.legError.errorMessage ?? 'no message'} (${this.legError.id})`;
    if (this.ejected) return 'ejected by this transfer';
    // Rule "second stop": the leg's first stop is its departure from the room; a second one is its end.
    if (this.stops.length >= 2) return `a second ${this.stops[1]!.type} (${this.stops[1]!.id})`;
    // Rule "stop with no transfer": a stop while no request could have moved the leg is the caller hanging up.
    if (this.stops.length === 1 && !this.attempts.some((a) => this.acceptedOrUnknown(a))) {
      return `${this.stops[0]!.type} before any transfer took effect (${this.stops[0]!.id})`;
    }
    // Rule "completed ends the call": only for the destination that has the leg (or is ringing it); a `completed`
    // naming an earlier destination says nothing about where the leg is now.
    const holder = this.connectedAttempt() ?? this.attempts.at(-1);
    const completed = holder && this.completedEndsLeg(holder) ? (holder.completed ?? holder.lateCompleted) : undefined;
    if (completed) return `calltransfer.completed (${completed.id})`;
    if (this.unaddressable && !this.connectedAttempt())
      return `Daily no longer knows the session (${this.unaddressable})`;
    return undefined;
  }

  /**
   * Whether this attempt's request may be sent (again) now. First send: yes. Again: only on positive evidence that
   * no earlier request for it took effect — it was refused, never sent, or presence (which may judge only while no
   * earlier request can have moved the leg) found the leg still in the room.
   */
  maySend(attempt: AttemptFacts): boolean {
    if (attempt.verdict || this.isGone()) return false;
    if (this.hasEvidence(attempt)) return false;
    return attempt.requests.every(
      (r) => r.kind === 'not-sent' || (r.kind === 'unknown' && attempt.presenceSaysNotTaken)
    );
  }

  /**
   * Rule "connected elsewhere": an earlier destination has the caller (it answered late) and nothing says this
   * attempt's request took effect. Nothing more may be sent for it: a request now would move a connected caller.
   */
  connectedElsewhere(attempt: AttemptFacts): AttemptFacts | undefined {
    const connected = this.connectedAttempt();
    return connected && connected !== attempt && !this.hasEvidence(attempt) ? connected : undefined;
  }

  /**
   * Rule "a 4xx after an unknown request": the attempt's last request was refused after an earlier one whose outcome
   * is unknown. The refusal is evidence about that earlier request (it may have moved the leg), not an outcome: the
   * attempt is followed as if taken, and its events or the ring budget decide.
   */
  refusalFollowsUnknown(attempt: AttemptFacts): boolean {
    return (
      attempt.requests.at(-1)?.kind === 'refused' &&
      attempt.requests.slice(0, -1).some((request) => request.kind === 'unknown')
    );
  }

  /** Presence can tell whether an unknown request took effect only if the leg was in the room before it. */
  presenceCanJudge(attempt: AttemptFacts): boolean {
    return !attempt.startedOutside && !this.hasLeftRoom() && !this.hasEvidence(attempt);
  }

  /** Daily said something about this attempt's request (it was accepted, or its destination acted). */
  hasEvidence(attempt: AttemptFacts): boolean {
    return (
      attempt.triggered !== undefined ||
      attempt.initiated !== undefined ||
      attempt.answered !== undefined ||
      attempt.completed !== undefined ||
      attempt.requests.some((r) => r.kind === 'accepted')
    );
  }

  /** Some request for the attempt was accepted or may have been. */
  requestMayHaveTakenEffect(attempt: AttemptFacts): boolean {
    return this.acceptedOrUnknown(attempt) && !this.provedNotTaken(attempt);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Rules
  // -------------------------------------------------------------------------------------------------------------

  private receiveLegEvent(event: DailyEvent): Receipt {
    if (LEG_ERRORS.has(event.type)) {
      this.legError ??= event;
    } else if (event.type === 'participant.left') {
      this.departures.push(event);
    } else {
      this.stops.push(event);
    }
    const current = this.attempts.at(-1);
    if (current) this.decide(current);
    // Rule "failed, then the leg's error": Daily's newer schema may send `completed` `failed` (no reason) and the
    // caller's `dialin.error` together, in either order. The decision (the transfer ends) is the same; the leg's
    // error is its reason.
    if (current && this.legError && current.verdict?.outcome === 'failed' && current.completed) {
      current.verdict = { outcome: 'caller-leg-failed', decidedBy: this.legErrorText() };
    }
    return { acted: true, attempt: current?.plan.index };
  }

  /**
   * An event names a destination: it counts for the attempt to that destination whose request came before it
   * (Daily's timestamp, less the skew). Destinations are unique within a transfer (validation), so only a fallback
   * to the same URI can share one; the latest attempt that fits wins.
   */
  private attemptFor(event: DailyEvent): AttemptFacts | undefined {
    const candidates = this.attempts.filter(
      (a) =>
        a.plan.toEndPoint === event.toEndPoint &&
        a.requestedAtMs !== undefined &&
        (event.occurredAtMs === undefined || event.occurredAtMs >= a.requestedAtMs - CLOCK_SKEW_MS)
    );
    return candidates.at(-1);
  }

  /** Decides the attempt from the evidence, once; a verdict is final. */
  private decide(attempt: AttemptFacts): void {
    if (attempt.verdict) return;
    const verdict =
      this.legVerdict(attempt) ??
      (attempt.plan.method === 'sipRefer' ? this.referVerdict(attempt) : this.callTransferVerdict(attempt)) ??
      this.refusalVerdict(attempt);
    if (verdict) attempt.verdict = verdict;
  }

  /** Rules "caller's leg failed" and "caller hung up": the leg ended while the attempt was open. */
  private legVerdict(attempt: AttemptFacts): Verdict | undefined {
    if (this.legError) return { outcome: 'caller-leg-failed', decidedBy: this.legErrorText() };
    if (attempt.answered || attempt.completed) return undefined; // the destination's own events decide
    const ended =
      this.stops.length >= 2 || (this.stops.length === 1 && !this.attempts.some((a) => this.acceptedOrUnknown(a)));
    if (ended) return { outcome: 'caller-hung-up', decidedBy: this.endedBy() ?? 'the leg stopped' };
    return undefined;
  }

  private callTransferVerdict({ answered, completed }: AttemptFacts): Verdict | undefined {
    if (answered) return { outcome: 'answered', decidedBy: `calltransfer.answered (${answered.id})` };
    if (!completed) return undefined;
    if (completed.completeStatus) {
      return {
        outcome: fromCompleteStatus(completed.completeStatus),
        decidedBy: `calltransfer.completed with completeStatus "${completed.completeStatus}" (${completed.id})`,
      };
    }
    // Rule "completed, no status, no answered": Daily documents `completed` only as "the destination side ended the
    // call", which needs a connected call; under the documented model failures send nothing. So the call was
    // answered (its `answered` is late or lost) and has ended.
    return {
      outcome: 'answered',
      decidedBy: `calltransfer.completed without status: Daily sends it when the destination ends a connected call (${completed.id})`,
    };
  }

  /**
   * REFER: Daily documents `triggered` and `initiated` only. Its newer schema adds `completed` with SIP codes, which
   * decide when present. Otherwise success is `initiated` plus the leg out of the room after the request — or
   * `initiated` alone when the leg had already left before it (nothing more can show).
   */
  private referVerdict(attempt: AttemptFacts): Verdict | undefined {
    const { initiated, completed } = attempt;
    if (completed) {
      const refer = sipCode(completed.referSipResponseCode);
      const notify = sipCode(completed.notifySipResponseCode);
      const codes = `REFER ${completed.referSipResponseCode ?? '-'}, NOTIFY ${completed.notifySipResponseCode ?? '-'}`;
      const decidedBy = `calltransfer.completed (${codes}${completed.completeStatus ? `, ${completed.completeStatus}` : ''})`;
      if (refer !== undefined && refer >= 300) return { outcome: fromSipCode(refer), decidedBy };
      if (notify !== undefined) return { outcome: notify < 300 ? 'answered' : fromSipCode(notify), decidedBy };
      if (completed.completeStatus) return { outcome: fromCompleteStatus(completed.completeStatus), decidedBy };
    }
    if (!initiated) return undefined;
    if (attempt.startedOutside) {
      return {
        outcome: 'answered',
        decidedBy: `REFER accepted: calltransfer.initiated with the leg already out of the room (${initiated.id})`,
      };
    }
    const left = [...this.departures, ...this.stops].find(
      (e) =>
        e.occurredAtMs === undefined ||
        attempt.requestedAtMs === undefined ||
        e.occurredAtMs >= attempt.requestedAtMs - CLOCK_SKEW_MS
    );
    if (left)
      return { outcome: 'answered', decidedBy: `REFER accepted: calltransfer.initiated and ${left.type} (${left.id})` };
    return undefined;
  }

  /** A refused request decides the attempt only when no earlier request for it may have taken effect. */
  private refusalVerdict(attempt: AttemptFacts): Verdict | undefined {
    const last = attempt.requests.at(-1);
    if (last?.kind !== 'refused') return undefined;
    if (this.refusalFollowsUnknown(attempt)) return undefined; // its own events (or the timer) decide
    // Rule "refused: session unknown, leg outside": the leg had left the room (ringing or parked after an earlier
    // destination) and Daily no longer knows it. It ended, or an earlier destination answered late: the workflow
    // waits for the evidence before closing the attempt.
    if (last.type === 'DailyInvalidSession' && this.hasLeftRoom()) return undefined;
    return { outcome: 'api-error', decidedBy: last.detail };
  }

  /** A `completed` ends the caller's leg unless it reports a failure that leaves the leg parked. */
  private completedEndsLeg(attempt: AttemptFacts): boolean {
    const completed = attempt.completed ?? attempt.lateCompleted;
    if (!completed || attempt.plan.method === 'sipRefer') return false;
    const status = completed.completeStatus;
    if (!status) return true;
    const outcome = fromCompleteStatus(status);
    return outcome === 'answered' || outcome === 'caller-hung-up';
  }

  /** A request for the attempt was accepted, may have been (unknown), or is in flight. */
  private acceptedOrUnknown(attempt: AttemptFacts): boolean {
    return (
      attempt.sent > attempt.requests.length ||
      attempt.requests.some((r) => r.kind === 'accepted' || r.kind === 'unknown') ||
      this.hasEvidence(attempt)
    );
  }

  private provedNotTaken(attempt: AttemptFacts): boolean {
    return !!attempt.presenceSaysNotTaken && !this.hasEvidence(attempt);
  }

  /** A REFER the far end refused (SIP ≥ 300) before the leg left: the leg stayed in the room. */
  private refusedByFarEnd(attempt: AttemptFacts): boolean {
    const code = sipCode(attempt.completed?.referSipResponseCode);
    return attempt.plan.method === 'sipRefer' && code !== undefined && code >= 300 && !attempt.initiated;
  }

  private legErrorText(): string {
    return `${this.legError?.type}: ${this.legError?.errorMessage ?? 'no message'} (${this.legError?.id})`;
  }

  private lastUnknown(attempt: AttemptFacts): string {
    const unknown = [...attempt.requests].reverse().find((r) => r.kind === 'unknown');
    return unknown?.kind === 'unknown' ? unknown.detail : 'no answer';
  }
}

/** `completeStatus` from Daily's newer schema ("completed, failed, busy, no-answer, canceled", not exhaustive). */
export function fromCompleteStatus(status: string): AttemptOutcome {
  switch (status.toLowerCase().replace(/[_\s]/g, '-')) {
    case 'completed':
    case 'answered':
      return 'answered';
    case 'busy':
      return 'busy';
    case 'no-answer':
    case 'noanswer':
    case 'timeout':
      return 'no-answer';
    case 'rejected':
    case 'declined':
      return 'rejected';
    case 'canceled':
    case 'cancelled':
      return 'caller-hung-up';
    default:
      return 'failed';
  }
}

export function fromSipCode(code: number): AttemptOutcome {
  if (code === 486 || code === 600) return 'busy';
  if (code === 403 || code === 603) return 'rejected';
  if (code === 408 || code === 480 || code === 487) return 'no-answer';
  return 'failed';
}

function sipCode(value: string | undefined): number | undefined {
  const code = value === undefined ? NaN : Number.parseInt(value, 10);
  return Number.isFinite(code) ? code : undefined;
}
