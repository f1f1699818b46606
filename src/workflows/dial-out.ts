/**
 * The dial-out legs of `dialFirst` attempts: where each destination the workflow dialed into the caller's room is,
 * which one won its group, and which must still be stopped. The caller's own leg stays with `./leg.ts`: it never
 * moves during a `dialFirst` attempt.
 *
 * Pure and deterministic (no Temporal imports), like the leg model: the workflow feeds it request results, Daily's
 * `dialout.*` events and timers, and asks it. Its rules are the "Dial first" table in `./README.md`.
 */
import type { DailyEvent, DialOutLegOutcome } from '../shared';
import { dialOutUserId, parseDialOutUserId } from '../shared';
import type { RequestResult } from './leg';

/**
 * dialOut/start's result: as a transfer request's; an accepted one names the new leg's session unless the 2xx body
 * was unreadable (then its events will).
 */
export type StartResult = Exclude<RequestResult, { kind: 'accepted' }> | { kind: 'accepted'; sessionId?: string };

export interface LegVerdict {
  outcome: DialOutLegOutcome;
  decidedBy: string;
}

export interface DialOutLeg {
  /** Number within the transfer: the suffix of its `userId`. */
  leg: number;
  /** The attempt (group) it belongs to. */
  attempt: number;
  toEndPoint: string;
  userId: string;
  /** dialOut/start requests sent; more than `starts.length` while one is in flight. */
  sent: number;
  starts: StartResult[];
  /** Daily's session id of the dial-out: from the start reply, or from any event naming the leg. */
  sessionId?: string;
  connected?: DailyEvent;
  answered?: DailyEvent;
  stopped?: DailyEvent;
  error?: DailyEvent;
  verdict?: LegVerdict;
  /** What dialOut/stop answered. */
  stop?: 'stopped' | 'not-running' | 'failed';
}

export type DialOutReceipt = { acted: boolean; leg: DialOutLeg };

export class DialOutLegs {
  readonly legs: DialOutLeg[] = [];
  /** The winning leg of each attempt (group), by attempt index. */
  private readonly winners = new Map<number, DialOutLeg>();
  private readonly seen = new Set<string>();

  constructor(private readonly callerSessionId: string) {}

  add(attempt: number, toEndPoint: string): DialOutLeg {
    const leg = this.legs.length;
    const facts: DialOutLeg = {
      leg,
      attempt,
      toEndPoint,
      userId: dialOutUserId(this.callerSessionId, leg),
      sent: 0,
      starts: [],
    };
    this.legs.push(facts);
    return facts;
  }

  group(attempt: number): DialOutLeg[] {
    return this.legs.filter((l) => l.attempt === attempt);
  }

  winner(attempt: number): DialOutLeg | undefined {
    return this.winners.get(attempt);
  }

  /**
   * Applies a `dialout.*` event about one of this transfer's legs — its `user_id` names the caller and a leg started
   * here, or its session is one a start reply named; undefined for any other event. Duplicates change nothing.
   */
  receive(event: DailyEvent): DialOutReceipt | undefined {
    const leg = this.legFor(event);
    if (!leg) return undefined;
    if (this.seen.has(event.id)) return { acted: false, leg };
    this.seen.add(event.id);
    leg.sessionId ??= event.sessionId;
    const slot = (
      {
        'dialout.connected': 'connected',
        'dialout.answered': 'answered',
        'dialout.stopped': 'stopped',
        'dialout.error': 'error',
      } as const
    )[event.type as 'dialout.connected'];
    if (!slot || leg[slot]) return { acted: false, leg };
    leg[slot] = event;
    this.decide(leg);
    return { acted: true, leg };
  }

  requesting(leg: DialOutLeg): void {
    leg.sent++;
  }

  startResult(leg: DialOutLeg, result: StartResult): void {
    leg.starts.push(result);
    if (result.kind === 'accepted') leg.sessionId ??= result.sessionId;
    // A refusal decides only when no earlier start may have taken effect (at most once: no second leg ringing).
    if (result.kind === 'refused' && !leg.starts.some((r) => r.kind === 'unknown' || r.kind === 'accepted')) {
      leg.verdict ??= { outcome: 'api-error', decidedBy: result.detail };
    }
  }

  /**
   * dialOut/start may be sent (again) only while nothing says an earlier one took effect: never sent, or every earlier
   * one was not taken (429, never reached Daily). After an unknown outcome it is never sent again: no presence or
   * listing shows a ringing dial-out, so nothing could prove it did not ring.
   */
  mayStart(leg: DialOutLeg): boolean {
    if (leg.verdict || this.winners.has(leg.attempt)) return false;
    if (leg.connected || leg.answered || leg.stopped || leg.error) return false;
    return leg.starts.length === leg.sent && leg.starts.every((r) => r.kind === 'not-sent');
  }

  /** The attempt is decided: a leg won, or every leg has a verdict. */
  decided(attempt: number): boolean {
    return this.winners.has(attempt) || this.group(attempt).every((l) => l.verdict !== undefined);
  }

  /**
   * The ring budget ran out: the legs still open are `no-answer`; `unknown` if a start may have rung but Daily never
   * showed the leg; `api-error` if Daily never took a start (429s until the budget was spent).
   */
  timedOut(attempt: number, seconds: number): void {
    for (const leg of this.group(attempt)) {
      if (leg.verdict) continue;
      if (this.evidenced(leg)) {
        leg.verdict = { outcome: 'no-answer', decidedBy: `no dialout.answered within ${seconds}s` };
      } else if (this.mayHaveStarted(leg)) {
        leg.verdict = {
          outcome: 'unknown',
          decidedBy: `dialOut/start's outcome unknown (${this.lastUnknown(leg)}) and no dialout.* event within ${seconds}s`,
        };
      } else {
        const last = leg.starts.at(-1);
        leg.verdict = {
          outcome: 'api-error',
          decidedBy: `Daily took no dialOut/start within ${seconds}s${last?.kind === 'not-sent' ? ` (${last.detail})` : ''}`,
        };
      }
    }
  }

  /** Ends the attempt's open legs for a reason outside their own evidence (cancel, the caller hung up). */
  close(attempt: number, verdict: LegVerdict): void {
    for (const leg of this.group(attempt)) leg.verdict ??= verdict;
  }

  /** Ends one leg for a reason outside its evidence (its starts were never taken). */
  closeLeg(leg: DialOutLeg, verdict: LegVerdict): void {
    leg.verdict ??= verdict;
  }

  stopResult(leg: DialOutLeg, result: 'stopped' | 'not-running' | 'failed'): void {
    leg.stop = result;
  }

  /** dialOut/start may have rung the destination: accepted, unknown, or Daily named the leg. */
  mayHaveStarted(leg: DialOutLeg): boolean {
    return this.evidenced(leg) || leg.starts.some((r) => r.kind === 'unknown') || leg.sent > leg.starts.length;
  }

  /**
   * The leg ended: Daily said so, or dialOut/stop did. A stop Daily took ends the leg whatever it was doing (an
   * answered one is hung up), so an event that arrives after it — even an answer — happened before it: it is
   * recorded, and there is nothing left to stop.
   */
  ended(leg: DialOutLeg): boolean {
    return !!leg.stopped || !!leg.error || leg.stop === 'stopped' || leg.stop === 'not-running';
  }

  /** The legs to stop now: every one that may ring or talk and is not a winner on the call. */
  toStop(): DialOutLeg[] {
    return this.legs.filter(
      (l) => this.winners.get(l.attempt) !== l && l.verdict !== undefined && this.mayHaveStarted(l) && !this.ended(l)
    );
  }

  /** Legs that may ring while nobody can stop them: their session id was never learned. */
  unreachable(): DialOutLeg[] {
    return this.toStop().filter((l) => l.sessionId === undefined);
  }

  private decide(leg: DialOutLeg): void {
    const winner = this.winners.get(leg.attempt);
    if (leg.answered) {
      if (!winner && !leg.verdict) {
        this.winners.set(leg.attempt, leg);
        leg.verdict = { outcome: 'answered', decidedBy: `dialout.answered (${leg.answered.id})` };
        for (const other of this.group(leg.attempt)) {
          other.verdict ??= { outcome: 'lost-race', decidedBy: `leg ${leg.leg + 1} answered first` };
        }
        return;
      }
      // Rule "second answer": the leg answered after its group was decided (another leg won, or its own ring
      // budget ran out): recorded, and hung up (it is in `toStop` unless a stop already ended it).
      if (winner !== leg) {
        leg.verdict = {
          outcome: 'answered-too-late',
          decidedBy: `dialout.answered (${leg.answered.id}) after ${winner ? `leg ${winner.leg + 1} won` : `its ${leg.verdict?.outcome ?? 'decision'}`}: hung up`,
        };
      }
      return;
    }
    if (leg.verdict) return;
    if (leg.error) {
      leg.verdict = {
        outcome: 'failed',
        decidedBy: `dialout.error: ${leg.error.errorMessage ?? 'no message'} (${leg.error.id})`,
      };
    } else if (leg.stopped) {
      // Daily gives no reason: a leg that never reached its destination was refused (busy); one that rang was declined.
      leg.verdict = leg.connected
        ? { outcome: 'rejected', decidedBy: `dialout.stopped after dialout.connected, unanswered (${leg.stopped.id})` }
        : { outcome: 'busy', decidedBy: `dialout.stopped before dialout.connected (${leg.stopped.id})` };
    }
  }

  private legFor(event: DailyEvent): DialOutLeg | undefined {
    if (!event.type.startsWith('dialout.')) return undefined;
    const named = parseDialOutUserId(event.userId);
    if (named && named.callerSessionId === this.callerSessionId) return this.legs[named.leg];
    return this.legs.find((l) => l.sessionId !== undefined && l.sessionId === event.sessionId);
  }

  private evidenced(leg: DialOutLeg): boolean {
    return (
      leg.starts.some((r) => r.kind === 'accepted') ||
      leg.connected !== undefined ||
      leg.answered !== undefined ||
      leg.stopped !== undefined ||
      leg.error !== undefined
    );
  }

  private lastUnknown(leg: DialOutLeg): string {
    const unknown = [...leg.starts].reverse().find((r) => r.kind === 'unknown');
    return unknown?.kind === 'unknown' ? unknown.detail : 'no reply';
  }
}
