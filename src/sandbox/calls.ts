import { randomInt, randomUUID } from 'node:crypto';
import type { TransferMethod } from '../shared';
import type { EventFactory, LegFacts, TransferFacts } from './events';
import type { Scheduler } from './scheduler';
import type {
  CallerOptions,
  DestinationScenario,
  LegState,
  ParticipantView,
  RoomOptions,
  SandboxEvent,
  SandboxModel,
  SandboxTiming,
} from './types';

/** Where generated events go. `group` ties a transfer's events together until `settle(group)`: no more will come. */
export interface EventSink {
  emit(events: SandboxEvent[], group?: string): void;
  settle(group: string): void;
}

export interface Room {
  name: string;
  id: string;
  createdAt: string;
  sipUri: string;
  mtgSessionId: string;
  sfu: boolean;
  /** Daily's `max_sip_pstn_sessions_per_room`. */
  maxSipPstnSessions: number;
  legs: Map<string, Leg>;
}

export interface Leg extends LegFacts {
  transport: 'sip' | 'pstn';
  state: LegState;
  /** When it stopped being `in-room`, for presence with a lag. */
  leftAtMs?: number;
  /** The latest transfer requested for this leg. */
  transfer?: Transfer;
  /** Its new leg, once a transfer put it into a sandbox room. */
  movedTo?: Leg;
  /** The answered transfer that brought this leg into its room: it completes when this leg ends. */
  arrivedBy?: Transfer;
}

interface Transfer {
  group: string;
  method: TransferMethod;
  facts: TransferFacts;
  leg: Leg;
  timers: Set<NodeJS.Timeout>;
}

/** A driver asked for something the sandbox's state does not allow (a caller in a room that does not exist...). */
export class SandboxStateError extends Error {
  override readonly name = 'SandboxStateError';

  constructor(
    readonly code: 'unknown-room' | 'unknown-session' | 'duplicate-session' | 'leg-ended',
    message: string
  ) {
    super(message);
  }
}
export type TransferVerdict = 'accepted' | 'not-hosting' | 'not-sfu' | 'invalid-session';

type CompleteStatus = 'completed' | 'busy' | 'no-answer' | 'failed' | 'rejected' | 'canceled';

/** What a destination does when called (by a transfer or a dial-out): the REFER scenarios read as answer/reject. */
export type CallScenario = Exclude<DestinationScenario, { kind: 'refer-accept' | 'refer-reject' }>;

/** Daily's documented default for `max_sip_pstn_sessions_per_room`. */
const DEFAULT_MAX_SIP_PSTN_SESSIONS = 5;

/** The `completeStatus` of a transfer to a destination that fails this way. */
const FAILURE_STATUS = { busy: 'busy', reject: 'rejected', error: 'failed' } as const;

/** Legs a transfer request (or eject) can still act on. */
const ADDRESSABLE: ReadonlySet<LegState> = new Set(['in-room', 'ringing', 'parked']);

export interface CallsDeps {
  scheduler: Scheduler;
  events: EventFactory;
  sink: EventSink;
  timing: SandboxTiming;
  model: () => SandboxModel;
  defaultScenario: DestinationScenario;
}

/**
 * The telephony model: rooms, the SIP/PSTN legs in them, and what each transfer does to a leg over time. Requests
 * act synchronously (a 200 means the transfer took effect); the events follow on the scheduler.
 */
export class Calls {
  private readonly rooms = new Map<string, Room>();
  private readonly roomsBySipUri = new Map<string, Room>();
  private readonly sessions = new Set<string>();
  private readonly scenarios = new Map<string, DestinationScenario>();
  private transferSeq = 0;

  constructor(private readonly deps: CallsDeps) {}

  createRoom(name: string, opts: RoomOptions = {}): Room {
    const existing = this.rooms.get(name);
    if (existing) {
      existing.sfu = opts.sfu ?? existing.sfu;
      existing.maxSipPstnSessions = opts.maxSipPstnSessions ?? existing.maxSipPstnSessions;
      return existing;
    }
    const room: Room = {
      name,
      id: randomUUID(),
      createdAt: new Date().toISOString(),
      sipUri: `sip:${name}@sandbox.sip.daily.co`,
      mtgSessionId: randomUUID(),
      sfu: opts.sfu ?? true,
      maxSipPstnSessions: opts.maxSipPstnSessions ?? DEFAULT_MAX_SIP_PSTN_SESSIONS,
      legs: new Map(),
    };
    this.rooms.set(name, room);
    this.roomsBySipUri.set(room.sipUri, room);
    return room;
  }

  room(name: string): Room | undefined {
    return this.rooms.get(name);
  }

  addCaller(roomName: string, opts: CallerOptions = {}): Leg {
    const room = this.rooms.get(roomName);
    if (!room) throw new SandboxStateError('unknown-room', `room ${roomName} not found`);
    const sessionId = opts.sessionId ?? randomUUID();
    if (this.sessions.has(sessionId)) {
      throw new SandboxStateError('duplicate-session', `session ${sessionId} already exists`);
    }
    const transport = opts.transport ?? 'pstn';
    const from =
      opts.from ?? (transport === 'pstn' ? `+1555${randomDigits(7)}` : `sip:caller-${randomDigits(4)}@example.com`);
    const leg = this.join(room, { sessionId, kind: opts.kind ?? 'dialin', transport, from });
    const { events } = this.deps;
    const dialEvents =
      leg.kind === 'dialin'
        ? [events.dial(leg, 'connected')]
        : [events.dial(leg, 'connected'), events.dial(leg, 'answered')];
    this.deps.sink.emit([...dialEvents, events.participantJoined(leg)]);
    return leg;
  }

  setScenario(toEndPoint: string, scenario: DestinationScenario): void {
    this.scenarios.set(toEndPoint, scenario);
  }

  /** Legs that were in the room at `asOfMs` (now, or earlier when presence lags), as presence reports them. */
  presence(roomName: string, asOfMs: number = Date.now()): Leg[] {
    const room = this.rooms.get(roomName);
    if (!room) return [];
    return [...room.legs.values()].filter(
      (leg) => leg.joinedAtMs <= asOfMs && (leg.leftAtMs === undefined || leg.leftAtMs > asOfMs)
    );
  }

  participant(roomName: string, sessionId: string): ParticipantView | undefined {
    const leg = this.rooms.get(roomName)?.legs.get(sessionId);
    if (!leg) return undefined;
    let now = leg;
    while (now.movedTo) now = now.movedTo;
    return now === leg
      ? { state: leg.state, room: leg.room }
      : { state: leg.state, room: now.room, sessionId: now.sessionId };
  }

  transfer(roomName: string, method: TransferMethod, sessionId: string, toEndPoint: string): TransferVerdict {
    const room = this.rooms.get(roomName);
    if (!room || this.sipSessions(room.name) === 0) return 'not-hosting';
    if (!room.sfu) return 'not-sfu';
    const leg = room.legs.get(sessionId);
    if (!leg || !ADDRESSABLE.has(leg.state)) return 'invalid-session';
    if (leg.state === 'ringing' && this.deps.model().ringingLegTransfer === 'refuse') return 'invalid-session';
    // A new request re-targets a leg that is still ringing an earlier destination: that ring is simply dropped.
    if (leg.transfer) this.abandon(leg.transfer);
    this.transferSeq += 1;
    const transfer: Transfer = {
      group: `transfer-${this.transferSeq}`,
      method,
      leg,
      timers: new Set(),
      facts: {
        room: room.name,
        sessionId,
        mtgSessionId: room.mtgSessionId,
        toEndPoint,
        fromEndPoint: room.sipUri,
        isSipRefer: method === 'sipRefer',
      },
    };
    leg.transfer = transfer;
    if (method === 'sipRefer') this.startRefer(transfer);
    else this.startCallTransfer(transfer);
    return 'accepted';
  }

  /** Ends the given legs of the room; returns the ids that were ended, or undefined when there is no such room. */
  eject(roomName: string, ids: string[]): string[] | undefined {
    const room = this.rooms.get(roomName);
    if (!room) return undefined;
    const ejected: string[] = [];
    for (const id of ids) {
      const leg = room.legs.get(id);
      if (!leg || !ADDRESSABLE.has(leg.state)) continue;
      if (leg.state !== 'in-room' && this.deps.model().ejectOutsideRoom === 'ignored') continue;
      ejected.push(id);
      this.endLeg(leg);
    }
    return ejected;
  }

  /** The caller's own leg fails: its `*.error` is the last word about it (no `*.stopped` follows). */
  failCaller(roomName: string, sessionId: string, errorMsg: string): void {
    const room = this.rooms.get(roomName);
    if (!room) throw new SandboxStateError('unknown-room', `room ${roomName} not found`);
    const leg = room.legs.get(sessionId);
    if (!leg) throw new SandboxStateError('unknown-session', `no leg ${sessionId} in room ${roomName}`);
    if (!ADDRESSABLE.has(leg.state)) {
      throw new SandboxStateError('leg-ended', `leg ${sessionId} is ${leg.state}: only a live leg can fail`);
    }
    this.endLeg(leg, errorMsg);
  }

  reset(): void {
    this.rooms.clear();
    this.roomsBySipUri.clear();
    this.sessions.clear();
    this.scenarios.clear();
  }

  /**
   * The SIP/PSTN sessions Daily still handles for the room: legs in it, ringing or parked after a transfer, or bridged
   * to an external destination by sipCallTransfer (Daily stays in the media path). A room with none hosts no call.
   */
  sipSessions(roomName: string): number {
    let count = 0;
    for (const leg of this.rooms.get(roomName)?.legs.values() ?? []) {
      const bridged = leg.state === 'transferred' && !leg.movedTo && leg.transfer?.method === 'sipCallTransfer';
      if (ADDRESSABLE.has(leg.state) || bridged) count += 1;
    }
    return count;
  }

  /** The answered dial-out joins its room as a regular participant (`participant.joined`). */
  joinDialOut(roomName: string, facts: Omit<LegFacts, 'room' | 'joinedAtMs'>, transport: 'sip' | 'pstn'): Leg {
    const room = this.rooms.get(roomName);
    if (!room) throw new SandboxStateError('unknown-room', `room ${roomName} not found`);
    const leg = this.join(room, { ...facts, transport });
    this.deps.sink.emit([this.deps.events.participantJoined(leg)]);
    return leg;
  }

  /**
   * Hangs up a leg that is in the room, ringing or parked (stopDialOut, the dialed party hanging up), whatever eject's
   * model says; false when there was no such leg to end.
   */
  hangUp(leg: Leg): boolean {
    if (!ADDRESSABLE.has(leg.state)) return false;
    this.endLeg(leg);
    return true;
  }

  /** What `toEndPoint` does when called. A sandbox room takes the call and stays in it: no callee hangs up. */
  scenarioFor(toEndPoint: string): CallScenario {
    const scenario =
      this.scenarios.get(toEndPoint) ??
      (this.roomsBySipUri.has(toEndPoint)
        ? { kind: 'answer' as const, afterMs: this.deps.timing.roomAnswerMs }
        : this.deps.defaultScenario);
    if (scenario.kind === 'refer-accept')
      return { kind: 'answer', afterMs: scenario.afterMs ?? this.deps.timing.outcomeMs };
    if (scenario.kind === 'refer-reject') return { kind: 'reject', afterMs: scenario.afterMs };
    return scenario;
  }

  /**
   * Ends an addressable leg: hung up (`*.stopped`), or failed with `errorMsg` (`*.error`). A leg in the room leaves
   * it; one ringing outside it ends its transfer (`canceled` / `failed`, extended model); a parked one just ends.
   */
  private endLeg(leg: Leg, errorMsg?: string): void {
    const transfer = leg.transfer;
    if (transfer) this.abandon(transfer);
    if (leg.state === 'in-room') {
      this.endInRoomLeg(leg, errorMsg);
      return;
    }
    // The leg already left the room at `initiated`; a ring in progress ends with it.
    const ringStatus = errorMsg === undefined ? 'canceled' : 'failed';
    const events = [
      ...(leg.state === 'ringing' && transfer ? this.completedIfExtended(transfer, ringStatus) : []),
      errorMsg === undefined ? this.deps.events.dial(leg, 'stopped') : this.deps.events.dialError(leg, errorMsg),
    ];
    this.setState(leg, 'ended');
    this.deps.sink.emit(events, transfer?.group);
    if (transfer) this.deps.sink.settle(transfer.group);
  }

  private setState(leg: Leg, next: LegState): void {
    if (leg.state === 'in-room' && next !== 'in-room') leg.leftAtMs = Date.now();
    leg.state = next;
  }

  private join(room: Room, leg: Pick<Leg, 'sessionId' | 'kind' | 'transport' | 'from' | 'dialOut'>): Leg {
    const joined: Leg = { ...leg, room: room.name, joinedAtMs: Date.now(), state: 'in-room' };
    room.legs.set(joined.sessionId, joined);
    this.sessions.add(joined.sessionId);
    return joined;
  }

  private startCallTransfer(t: Transfer): void {
    this.step(t, this.deps.timing.triggeredMs, () => {
      this.emit(t, [this.deps.events.transfer('triggered', t.facts)]);
      this.step(t, this.deps.timing.initiatedMs, () => {
        this.initiate(t, 'ringing');
        this.ring(t);
      });
    });
  }

  private ring(t: Transfer): void {
    const scenario = this.scenarioFor(t.facts.toEndPoint);
    switch (scenario.kind) {
      case 'answer':
        this.step(t, scenario.afterMs, () => this.answer(t, scenario.hangUpAfterMs));
        return;
      case 'no-answer':
        return;
      case 'busy':
      case 'reject':
      case 'error':
        this.step(t, scenario.afterMs ?? this.deps.timing.outcomeMs, () => this.fail(t, FAILURE_STATUS[scenario.kind]));
        return;
      case 'caller-hangs-up':
        this.step(t, scenario.afterMs, () => {
          const { leg } = t;
          this.setState(leg, 'ended');
          this.emit(t, [...this.completedIfExtended(t, 'canceled'), this.deps.events.dial(leg, 'stopped')]);
        });
        return;
    }
  }

  private answer(t: Transfer, hangUpAfterMs: number | undefined): void {
    const { leg } = t;
    const events = [this.deps.events.transfer('answered', t.facts)];
    const destination = this.roomsBySipUri.get(t.facts.toEndPoint);
    this.setState(leg, 'transferred');
    if (destination) {
      const moved = this.join(destination, {
        sessionId: randomUUID(),
        kind: leg.kind,
        transport: leg.transport,
        from: leg.from,
      });
      moved.arrivedBy = t;
      leg.movedTo = moved;
      events.push(this.deps.events.participantJoined(moved));
    }
    this.emit(t, events);
    if (hangUpAfterMs === undefined) return;
    this.step(t, hangUpAfterMs, () => {
      if (leg.movedTo) {
        // The callee is a room: its leg there ends, which completes this transfer.
        if (leg.movedTo.state === 'in-room') this.endInRoomLeg(leg.movedTo);
        return;
      }
      this.setState(leg, 'ended');
      this.emit(t, [this.completed(t, 'completed')]);
    });
  }

  private fail(t: Transfer, status: (typeof FAILURE_STATUS)[keyof typeof FAILURE_STATUS]): void {
    const { leg } = t;
    const events = this.completedIfExtended(t, status);
    if (this.deps.model().failedTransferLeg === 'dropped') {
      this.setState(leg, 'ended');
      events.push(this.deps.events.dial(leg, 'stopped'));
    } else {
      this.setState(leg, 'parked');
    }
    this.emit(t, events);
  }

  private startRefer(t: Transfer): void {
    const scenario = this.scenarios.get(t.facts.toEndPoint);
    const afterMs =
      (scenario?.kind === 'refer-accept' || scenario?.kind === 'refer-reject' ? scenario.afterMs : undefined) ??
      this.deps.timing.outcomeMs;
    this.step(t, this.deps.timing.triggeredMs, () => {
      this.emit(t, [this.deps.events.transfer('triggered', t.facts)]);
      if (scenario?.kind === 'refer-reject') {
        // The far end refuses the REFER before the leg leaves: it stays where it was.
        this.step(t, afterMs, () =>
          this.emit(t, this.completedIfExtended(t, 'failed', { refer_sip_response_code: '603' }))
        );
        return;
      }
      this.step(t, this.deps.timing.initiatedMs, () => {
        this.initiate(t, 'transferred');
        this.step(t, afterMs, () =>
          this.emit(
            t,
            this.completedIfExtended(t, 'completed', {
              refer_sip_response_code: '202',
              notify_sip_response_code: '200',
            })
          )
        );
      });
    });
  }

  /** `calltransfer.initiated`, and the caller leaves the source room unless it already has. */
  private initiate(t: Transfer, next: LegState): void {
    const { leg } = t;
    const events = [this.deps.events.transfer('initiated', t.facts)];
    if (leg.state === 'in-room')
      events.push(this.deps.events.participantLeft(leg), this.deps.events.dial(leg, 'stopped'));
    this.setState(leg, next);
    this.emit(t, events);
  }

  /** A leg in a room ends: ejected or the call it is on hangs up, or it fails with `errorMsg`. */
  private endInRoomLeg(leg: Leg, errorMsg?: string): void {
    this.setState(leg, 'ended');
    const { events } = this.deps;
    // A fatal error is reported before the participant drops out; a hang-up after it.
    this.deps.sink.emit(
      errorMsg === undefined
        ? [events.participantLeft(leg), events.dial(leg, 'stopped')]
        : [events.dialError(leg, errorMsg), events.participantLeft(leg)]
    );
    const origin = leg.arrivedBy;
    if (!origin) return;
    // The transfer that brought the caller here is over: its "callee" side ended the call.
    this.abandon(origin);
    this.setState(origin.leg, 'ended');
    this.deps.sink.emit([this.completed(origin, 'completed')], origin.group);
    this.deps.sink.settle(origin.group);
  }

  private completed(t: Transfer, status: CompleteStatus, extras: Record<string, unknown> = {}): SandboxEvent {
    return this.deps.events.transfer(
      'completed',
      t.facts,
      this.extended() ? { completeStatus: status, ...extras } : {}
    );
  }

  /** Failures and REFER outcomes exist only in Daily's newer schema; the docs model sends nothing for them. */
  private completedIfExtended(
    t: Transfer,
    status: CompleteStatus,
    extras: Record<string, unknown> = {}
  ): SandboxEvent[] {
    return this.extended() ? [this.completed(t, status, extras)] : [];
  }

  private extended(): boolean {
    return this.deps.model().completedStatus === 'extended';
  }

  /** Runs `fn` later as part of `t`; once `t` has nothing more scheduled its events are settled. */
  private step(t: Transfer, ms: number, fn: () => void): void {
    const timer = this.deps.scheduler.after(ms, () => {
      t.timers.delete(timer);
      fn();
      if (t.timers.size === 0) this.deps.sink.settle(t.group);
    });
    t.timers.add(timer);
  }

  private emit(t: Transfer, events: SandboxEvent[]): void {
    if (events.length > 0) this.deps.sink.emit(events, t.group);
  }

  /** Nothing more will be emitted for `t`. */
  private abandon(t: Transfer): void {
    for (const timer of t.timers) this.deps.scheduler.cancel(timer);
    t.timers.clear();
    this.deps.sink.settle(t.group);
  }
}

function randomDigits(n: number): string {
  return randomInt(10 ** n)
    .toString()
    .padStart(n, '0');
}
