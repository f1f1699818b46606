import { randomUUID } from 'node:crypto';
import type { Calls, EventSink, Leg } from './calls';
import type { DialOutFacts, EventFactory, LegFacts } from './events';
import type { Scheduler } from './scheduler';
import type { DialOutFilter, DialOutState, DialOutView, SandboxEvent, SandboxTiming } from './types';

/** dialOut/start's body once validated: exactly one of `sipUri` / `phoneNumber`. */
export interface DialOutRequest {
  sipUri?: string;
  phoneNumber?: string;
  userId?: string;
  callerId?: string;
}

export type DialOutStartVerdict =
  { verdict: 'accepted'; sessionId: string } | { verdict: 'not-hosting' } | { verdict: 'session-limit'; max: number };
export type DialOutStopVerdict = 'stopped' | 'not-hosting' | 'not-sfu' | 'no-dialout';
export type DtmfVerdict = 'sent' | 'not-hosting' | 'no-session';

interface DialOut extends LegFacts {
  dialOut: DialOutFacts;
  transport: 'sip' | 'pstn';
  /** The state before it was answered; afterwards its leg in the room decides. */
  state: Exclude<DialOutState, 'answered'>;
  startedAt: number;
  answeredAt?: number;
  /** Its participant in the room once answered: from then on `Calls` owns the leg (transfer, eject, hang-up). */
  leg?: Leg;
  group: string;
  timers: Set<NodeJS.Timeout>;
}

export interface DialOutsDeps {
  calls: Calls;
  scheduler: Scheduler;
  events: EventFactory;
  sink: EventSink;
  timing: SandboxTiming;
}

/** The number the sandbox "owns" for PSTN dial-outs: Daily's examples show the calling number as `origin`. */
const SANDBOX_ORIGIN_NUMBER = '+15550100000';

/**
 * Dial-outs started through `POST /rooms/:name/dialOut/start`: each rings its destination by that destination's
 * scenario (the same ones transfers use), and once answered joins the room as a regular participant.
 */
export class DialOuts {
  private readonly dialOuts = new Map<string, DialOut>();
  private seq = 0;

  constructor(private readonly deps: DialOutsDeps) {}

  start(roomName: string, req: DialOutRequest): DialOutStartVerdict {
    const room = this.deps.calls.room(roomName);
    if (!room || !this.hostingCall(roomName)) return { verdict: 'not-hosting' };
    if (this.sessions(roomName) >= room.maxSipPstnSessions) {
      return { verdict: 'session-limit', max: room.maxSipPstnSessions };
    }
    const destination = req.sipUri ?? req.phoneNumber ?? '';
    this.seq += 1;
    const dialOut: DialOut = {
      sessionId: randomUUID(),
      room: roomName,
      kind: 'dialout',
      from: destination,
      transport: req.sipUri === undefined ? 'pstn' : 'sip',
      joinedAtMs: Date.now(),
      dialOut: {
        userId: req.userId ?? null,
        callerId: req.callerId ?? null,
        origin: req.sipUri === undefined ? SANDBOX_ORIGIN_NUMBER : room.sipUri,
      },
      state: 'ringing',
      startedAt: Date.now(),
      group: `dialout-${this.seq}`,
      timers: new Set(),
    };
    this.dialOuts.set(dialOut.sessionId, dialOut);
    this.ring(dialOut);
    return { verdict: 'accepted', sessionId: dialOut.sessionId };
  }

  stop(roomName: string, sessionId: string): DialOutStopVerdict {
    const room = this.deps.calls.room(roomName);
    if (!room || !this.hostingCall(roomName)) return 'not-hosting';
    if (!room.sfu) return 'not-sfu';
    const dialOut = this.dialOuts.get(sessionId);
    if (!dialOut || dialOut.room !== roomName) return 'no-dialout';
    // Answered: its leg is a participant now; one that was transferred on is not the room's to stop.
    if (dialOut.leg) return this.deps.calls.hangUp(dialOut.leg) ? 'stopped' : 'no-dialout';
    if (dialOut.state !== 'ringing') return 'no-dialout';
    this.end(dialOut, 'stopped', [this.deps.events.dial(dialOut, 'stopped')]);
    return 'stopped';
  }

  /** DTMF reaches a SIP/PSTN leg that is on the call in this room: a dial-in leg or an answered dial-out. */
  sendDtmf(roomName: string, sessionId: string): DtmfVerdict {
    const room = this.deps.calls.room(roomName);
    if (!room || !this.hostingCall(roomName)) return 'not-hosting';
    return room.legs.get(sessionId)?.state === 'in-room' ? 'sent' : 'no-session';
  }

  list(filter: DialOutFilter = {}): DialOutView[] {
    return [...this.dialOuts.values()]
      .map((d) => this.view(d))
      .filter(
        (v) =>
          (filter.room === undefined || v.room === filter.room) &&
          (filter.state === undefined || v.state === filter.state)
      );
  }

  reset(): void {
    this.dialOuts.clear();
  }

  /** What the destination's scenario does to the dial-out; `afterMs` counts from when the remote end is reached. */
  private ring(d: DialOut): void {
    const { events, timing } = this.deps;
    // Scenarios are keyed by the destination without its SIP header parameters (`?X-...`).
    const scenario = this.deps.calls.scenarioFor(d.from.split('?')[0] ?? d.from);
    this.step(d, timing.dialOutConnectedMs, () => {
      switch (scenario.kind) {
        case 'answer':
          this.connected(d);
          this.step(d, scenario.afterMs, () => this.answer(d, scenario.hangUpAfterMs));
          return;
        // A dial-out has no caller leg of its own (the room's caller hangs up by eject or failCaller): it rings.
        case 'no-answer':
        case 'caller-hangs-up':
          this.connected(d);
          return;
        case 'busy':
          // Refused before it rang: the session ends without ever connecting.
          this.step(d, scenario.afterMs ?? timing.outcomeMs, () => this.end(d, 'stopped', [events.dial(d, 'stopped')]));
          return;
        case 'reject':
          this.connected(d);
          this.step(d, scenario.afterMs ?? timing.outcomeMs, () => this.end(d, 'stopped', [events.dial(d, 'stopped')]));
          return;
        case 'error':
          this.step(d, scenario.afterMs ?? timing.outcomeMs, () =>
            this.end(d, 'error', [events.dialError(d, scenario.errorMsg ?? 'sandbox: dial-out failed to connect')])
          );
          return;
      }
    });
  }

  private connected(d: DialOut): void {
    this.deps.sink.emit([this.deps.events.dial(d, 'connected')], d.group);
  }

  private answer(d: DialOut, hangUpAfterMs: number | undefined): void {
    d.answeredAt = Date.now();
    this.deps.sink.emit([this.deps.events.dial(d, 'answered')], d.group);
    const { sessionId, kind, from, dialOut, transport } = d;
    d.leg = this.deps.calls.joinDialOut(d.room, { sessionId, kind, from, dialOut }, transport);
    if (hangUpAfterMs === undefined) return;
    this.step(d, hangUpAfterMs, () => {
      // The dialed party hangs up, if its leg is still live (it may have been stopped, ejected or transferred).
      if (d.leg) this.deps.calls.hangUp(d.leg);
    });
  }

  /** Before it was answered: the dial-out ends with `events`; nothing more is scheduled for it. */
  private end(d: DialOut, state: 'stopped' | 'error', events: SandboxEvent[]): void {
    for (const timer of d.timers) this.deps.scheduler.cancel(timer);
    d.timers.clear();
    d.state = state;
    this.deps.sink.emit(events, d.group);
    this.deps.sink.settle(d.group);
  }

  private step(d: DialOut, ms: number, fn: () => void): void {
    const timer = this.deps.scheduler.after(ms, () => {
      d.timers.delete(timer);
      fn();
      if (d.timers.size === 0) this.deps.sink.settle(d.group);
    });
    d.timers.add(timer);
  }

  private stateOf(d: DialOut): DialOutState {
    if (!d.leg) return d.state;
    return d.leg.state === 'ended' ? 'stopped' : 'answered';
  }

  private view(d: DialOut): DialOutView {
    return {
      sessionId: d.sessionId,
      room: d.room,
      destination: d.from,
      userId: d.dialOut.userId,
      callerId: d.dialOut.callerId,
      state: this.stateOf(d),
      startedAt: d.startedAt,
      ...(d.answeredAt !== undefined && { answeredAt: d.answeredAt }),
    };
  }

  /** Dial-outs still ringing in the room (answered ones are legs in `Calls`). */
  private ringing(roomName: string): number {
    let count = 0;
    for (const d of this.dialOuts.values()) if (d.room === roomName && !d.leg && d.state === 'ringing') count += 1;
    return count;
  }

  /** The room's SIP/PSTN sessions against `max_sip_pstn_sessions_per_room`: its legs plus ringing dial-outs. */
  private sessions(roomName: string): number {
    return this.deps.calls.sipSessions(roomName) + this.ringing(roomName);
  }

  /** A ringing dial-out keeps the room's call going too, so it can still be stopped after the caller left. */
  private hostingCall(roomName: string): boolean {
    return this.sessions(roomName) > 0;
  }
}
