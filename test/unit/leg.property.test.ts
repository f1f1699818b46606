/**
 * The leg model against a simulated Daily, over random scenarios, request faults and webhook orders, delays,
 * duplicates and drops. A small driver asks the model exactly what the workflow asks it (send? presence? verdict?),
 * in simulated time, and the invariants are checked against what Daily really did:
 *
 * - at most once: never two requests for one attempt that took effect at Daily;
 * - a verdict once given never changes;
 * - the outcome matches the evidence: `answered` only when the destination answered, `busy` only when it was busy,
 *   `caller-hung-up` only when the caller hung up (or Daily no longer knew the leg);
 * - where the model says the leg is agrees with Daily when the model is sure (connected, gone);
 * - nobody stranded: after the cleanup the workflow runs for `onExhausted: none` (end a leg the model places outside
 *   the room, not connected), Daily's leg is in the room, connected, or ended.
 */
import fc from 'fast-check';
import type { DailyEvent } from '../../src/shared';
import { CallerLeg, type AttemptFacts, type RequestResult } from '../../src/workflows/leg';

type Scenario = 'answer' | 'no-answer' | 'busy' | 'caller-hangs-up';
type RequestFault = 'none' | 'server-error' | 'lost-response' | 'rate-limit';

interface Case {
  model: 'docs' | 'extended';
  destinations: Array<{ scenario: Scenario; answerAfterMs: number; fault: RequestFault }>;
  /** Daily: request → triggered → initiated (the leg leaves the room). */
  initiatedAfterMs: number;
  presenceLagMs: number;
  webhook: { maxDelayMs: number; duplicate: boolean; dropEvery: number };
  seed: number;
}

const SESSION = 'caller-leg';
const RECONCILE_MS = 15_000;
const RING_BUDGET_MS = 10_000;

const caseArbitrary: fc.Arbitrary<Case> = fc.record({
  model: fc.constantFrom('docs', 'extended'),
  destinations: fc.array(
    fc.record({
      scenario: fc.constantFrom<Scenario>('answer', 'no-answer', 'busy', 'caller-hangs-up'),
      answerAfterMs: fc.integer({ min: 0, max: 15_000 }),
      fault: fc.constantFrom<RequestFault>('none', 'none', 'server-error', 'lost-response', 'rate-limit'),
    }),
    { minLength: 1, maxLength: 3 }
  ),
  // The documented assumption the README states: the reconcile window covers Daily moving the leg plus presence lag.
  initiatedAfterMs: fc.integer({ min: 0, max: 4_000 }),
  presenceLagMs: fc.integer({ min: 0, max: 10_000 }),
  webhook: fc.record({
    maxDelayMs: fc.integer({ min: 0, max: 30_000 }),
    duplicate: fc.boolean(),
    dropEvery: fc.integer({ min: 0, max: 5 }),
  }),
  seed: fc.integer(),
});

/** A minimal Daily: the caller's leg, what each request does to it, and the events it sends (late, repeated, lost). */
class SimulatedDaily {
  now = 0;
  inRoom = true;
  legEnded = false;
  /** Requests that took effect, per destination. */
  readonly effective = new Map<string, number>();
  readonly truth = new Map<string, 'answered' | 'busy' | 'hung-up'>();
  private readonly timers: Array<{ at: number; seq: number; fn: () => void }> = [];
  private seq = 0;
  private ringing?: string;
  private eventSeq = 0;
  private delivered = 0;
  private readonly leftAt: number[] = [];
  private random: () => number;

  constructor(
    private readonly c: Case,
    private readonly deliver: (event: DailyEvent) => void
  ) {
    let state = c.seed >>> 0 || 1;
    this.random = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
  }

  at(delayMs: number, fn: () => void): void {
    this.timers.push({ at: this.now + delayMs, seq: this.seq++, fn });
  }

  /** Runs everything due up to `untilMs`; `stop` ends early (a condition the driver waits for). */
  advance(untilMs: number, stop: () => boolean = () => false): void {
    for (;;) {
      if (stop()) return;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > untilMs) break;
      this.timers.shift();
      this.now = Math.max(this.now, next.at);
      next.fn();
    }
    this.now = Math.max(this.now, untilMs);
  }

  request(toEndPoint: string, scenario: Scenario, answerAfterMs: number, fault: RequestFault): RequestResult {
    if (this.legEnded) return { kind: 'refused', type: 'DailyInvalidSession', detail: 'invalid sessionId' };
    if (fault === 'rate-limit') return { kind: 'not-sent', detail: '429' };
    if (fault === 'server-error') return { kind: 'unknown', detail: '503' };
    this.effective.set(toEndPoint, (this.effective.get(toEndPoint) ?? 0) + 1);
    this.ringing = toEndPoint; // a new request re-targets a ringing leg
    this.emit('calltransfer.triggered', toEndPoint);
    this.at(this.c.initiatedAfterMs, () => {
      if (this.ringing !== toEndPoint || this.legEnded) return;
      this.emit('calltransfer.initiated', toEndPoint);
      if (this.inRoom) {
        this.inRoom = false;
        this.leftAt.push(this.now);
        this.emit('participant.left');
        this.emit('dialin.stopped');
      }
      const outcomeAfter = scenario === 'busy' || scenario === 'caller-hangs-up' ? 500 : answerAfterMs;
      if (scenario === 'no-answer') return;
      this.at(outcomeAfter, () => {
        if (this.ringing !== toEndPoint || this.legEnded) return;
        if (scenario === 'answer') {
          this.truth.set(toEndPoint, 'answered');
          this.ringing = undefined;
          this.emit('calltransfer.answered', toEndPoint);
        } else if (scenario === 'busy') {
          this.truth.set(toEndPoint, 'busy');
          this.ringing = undefined;
          if (this.c.model === 'extended') this.emit('calltransfer.completed', toEndPoint, 'busy');
        } else {
          this.truth.set(toEndPoint, 'hung-up');
          this.legEnded = true;
          if (this.c.model === 'extended') this.emit('calltransfer.completed', toEndPoint, 'canceled');
          this.emit('dialin.stopped');
        }
      });
    });
    return fault === 'lost-response' ? { kind: 'unknown', detail: 'lost response' } : { kind: 'accepted' };
  }

  /** Eject: ends the leg unless a destination has it (its reply then does not list the leg). */
  eject(): boolean {
    if ([...this.truth.values()].includes('answered')) return false;
    this.legEnded = true;
    return true;
  }

  /** Daily's leg is out of the room with nobody answering: ringing or parked. */
  stranded(): boolean {
    return !this.inRoom && !this.legEnded && ![...this.truth.values()].includes('answered');
  }

  /** Presence as Daily reports it: the room as it was `presenceLagMs` ago. */
  presence(): boolean {
    if (this.legEnded) return false;
    const asOf = this.now - this.c.presenceLagMs;
    return this.inRoom || this.leftAt.some((t) => t > asOf);
  }

  private emit(type: DailyEvent['type'], toEndPoint?: string, completeStatus?: string): void {
    const event: DailyEvent = {
      id: `e${this.eventSeq++}`,
      type,
      room: 'room',
      sessionId: SESSION,
      occurredAtMs: Math.floor(this.now / 1000) * 1000,
      ...(toEndPoint ? { toEndPoint } : {}),
      ...(completeStatus ? { completeStatus } : {}),
    };
    const copies = this.c.webhook.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.delivered++;
      if (this.c.webhook.dropEvery > 0 && this.delivered % (this.c.webhook.dropEvery + 3) === 0) continue;
      this.at(Math.floor(this.random() * this.c.webhook.maxDelayMs), () => this.deliver(event));
    }
  }
}

/** The workflow's attempt loop, in simulated time: it asks the leg model what the workflow asks it. */
function drive(c: Case) {
  const leg = new CallerLeg(SESSION, 0);
  const verdicts: Array<string | undefined> = [];
  const verdictChanged: string[] = [];
  const daily = new SimulatedDaily(c, (event) => {
    leg.receive(event);
    for (const [i, a] of leg.attempts.entries()) {
      const seen = a.verdict?.outcome;
      if (verdicts[i] !== undefined && seen !== verdicts[i])
        verdictChanged.push(`attempt ${i}: ${verdicts[i]} → ${seen}`);
      verdicts[i] = seen;
    }
  });
  const record = (a: AttemptFacts) => (verdicts[a.plan.index] ??= a.verdict?.outcome);

  for (const [index, d] of c.destinations.entries()) {
    if (leg.isGone() || leg.connectedAttempt()) break;
    const toEndPoint = `sip:d${index}@example.com`;
    const facts = leg.startAttempt({ index, method: 'sipCallTransfer', toEndPoint });
    let fault = d.fault;
    for (let sends = 0; sends < 5 && !facts.verdict && leg.maySend(facts); sends++) {
      leg.requesting(facts, daily.now);
      const result = daily.request(toEndPoint, d.scenario, d.answerAfterMs, fault);
      fault = 'none'; // faults are one-shot, like the sandbox's queue
      leg.requestResult(facts, result);
      if (result.kind === 'accepted' || facts.verdict) break;
      if (result.kind === 'not-sent') {
        daily.advance(daily.now + 1000);
        continue;
      }
      if (result.kind === 'refused') {
        daily.advance(daily.now + RECONCILE_MS, () => !!facts.verdict);
        leg.close(facts, { outcome: 'caller-hung-up', decidedBy: 'refused' });
        break;
      }
      daily.advance(daily.now + RECONCILE_MS, () => leg.hasEvidence(facts) || !!facts.verdict);
      if (leg.hasEvidence(facts) || facts.verdict || !leg.presenceCanJudge(facts)) continue;
      leg.presence(facts, daily.presence());
    }
    if (!facts.verdict) {
      daily.advance(daily.now + RING_BUDGET_MS, () => !!facts.verdict);
      if (!facts.verdict) leg.ringTimedOut(facts, RING_BUDGET_MS / 1000);
    }
    record(facts);
  }
  // The workflow's cleanup for `onExhausted: none`: a leg the model places outside the room, not connected, is ended.
  const where = leg.where();
  if (where === 'ringing' || where === 'parked' || where === 'requested') {
    if (daily.eject()) leg.legEjected();
  }
  // Let every straggling event arrive: late events must change no verdict.
  daily.advance(daily.now + 120_000);
  return { leg, daily, verdictChanged };
}

describe('the leg model against a simulated Daily', () => {
  test('invariants hold over random scenarios, faults and webhook orders', () => {
    fc.assert(
      fc.property(caseArbitrary, (c) => {
        // The README's stated assumption for presence: the window covers Daily moving the leg and the lag.
        fc.pre(RECONCILE_MS >= c.initiatedAfterMs + c.presenceLagMs);
        const { leg, daily, verdictChanged } = drive(c);

        for (const [endpoint, count] of daily.effective) expect([endpoint, count]).toEqual([endpoint, 1]);
        expect(verdictChanged).toEqual([]);
        for (const attempt of leg.attempts) {
          const truth = daily.truth.get(attempt.plan.toEndPoint);
          const outcome = attempt.verdict?.outcome;
          if (outcome === 'answered') expect(truth).toBe('answered');
          if (outcome === 'busy') expect(truth).toBe('busy');
          if (outcome === 'caller-hung-up') expect(daily.legEnded || truth === 'hung-up').toBe(true);
        }
        const where = leg.where();
        if (where === 'connected') expect([...daily.truth.values()]).toContain('answered');
        if (where === 'gone') expect(daily.legEnded).toBe(true);
        expect(daily.stranded()).toBe(false);
      }),
      { numRuns: 2000 }
    );
  });

  test('with prompt, complete webhooks the outcome is exactly what Daily did', () => {
    fc.assert(
      fc.property(caseArbitrary, (c) => {
        const prompt: Case = {
          ...c,
          presenceLagMs: 0,
          webhook: { maxDelayMs: 200, duplicate: c.webhook.duplicate, dropEvery: 0 },
          destinations: c.destinations.map((d) => ({ ...d, fault: d.fault === 'server-error' ? 'none' : d.fault })),
        };
        const { leg, daily } = drive(prompt);
        const first = leg.attempts[0]!;
        const d = prompt.destinations[0]!;
        const expected =
          d.scenario === 'answer' && d.answerAfterMs + prompt.initiatedAfterMs < RING_BUDGET_MS - 1000
            ? 'answered'
            : d.scenario === 'busy' && prompt.model === 'extended'
              ? 'busy'
              : d.scenario === 'caller-hangs-up'
                ? 'caller-hung-up'
                : undefined;
        if (expected) expect(first.verdict?.outcome).toBe(expected);
        if (expected === 'answered') expect(leg.where()).toBe('connected');
        if (expected === 'caller-hung-up') expect(leg.where()).toBe('gone');
        expect(daily.effective.get(first.plan.toEndPoint)).toBe(1);
      }),
      { numRuns: 1000 }
    );
  });
});
