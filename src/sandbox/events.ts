import type { SandboxEvent, SandboxModel } from './types';

/** What the event payloads need to know about a caller's leg. */
export interface LegFacts {
  sessionId: string;
  room: string;
  kind: 'dialin' | 'dialout';
  from: string;
  joinedAtMs: number;
  /** For a leg started by `dialOut/start`: what its `dialout.*` payloads carry (`from` is its destination). */
  dialOut?: DialOutFacts;
}

export interface DialOutFacts {
  /** The `userId` given to dialOut/start: Daily puts it in `user_id` "if supplied". */
  userId: string | null;
  /** The purchased-number id given as `callerId`. */
  callerId: string | null;
  /** The calling side, as Daily's examples show it: the number for PSTN, the room's SIP address for SIP. */
  origin: string;
}

/** What the `calltransfer.*` payloads need to know about a transfer (always tagged with the source room). */
export interface TransferFacts {
  room: string;
  sessionId: string;
  mtgSessionId: string;
  toEndPoint: string;
  fromEndPoint: string;
  isSipRefer: boolean;
}

type TransferStep = 'triggered' | 'initiated' | 'answered' | 'completed';

// Daily's transfer event ids look like `<n>-call-transfer-init-<session_id><ts>`; the other steps follow suit.
const TRANSFER_ID_PART: Record<TransferStep, string> = {
  triggered: 'trigger',
  initiated: 'init',
  answered: 'answer',
  completed: 'complete',
};

/** Builds Daily's event payloads (reference §5), with unique ids. */
export class EventFactory {
  private seq = 0;

  constructor(
    private readonly domainId: string,
    private readonly model: () => SandboxModel
  ) {}

  transfer(step: TransferStep, t: TransferFacts, extras: Record<string, unknown> = {}): SandboxEvent {
    const ts = nowSec();
    return {
      id: `${this.next()}-call-transfer-${TRANSFER_ID_PART[step]}-${t.sessionId}${ts}`,
      type: `calltransfer.${step}`,
      payload: {
        domain_id: this.domainId,
        room: t.room,
        timestamp: this.timestamp(ts),
        session_id: t.sessionId,
        mtg_session_id: t.mtgSessionId,
        to_endpoint: t.toEndPoint,
        from_endpoint: t.fromEndPoint,
        is_sip_refer: t.isSipRefer,
        ...extras,
      },
    };
  }

  participantJoined(leg: LegFacts): SandboxEvent {
    return this.event('participant.joined', leg.sessionId, this.participant(leg));
  }

  participantLeft(leg: LegFacts): SandboxEvent {
    const duration = Math.max(0, (Date.now() - leg.joinedAtMs) / 1000);
    return this.event('participant.left', leg.sessionId, { ...this.participant(leg), duration });
  }

  /** `dialin.connected`/`dialin.stopped` or `dialout.connected`/`dialout.answered`/`dialout.stopped`. */
  dial(leg: LegFacts, step: 'connected' | 'answered' | 'stopped'): SandboxEvent {
    const common = {
      timestamp: this.timestamp(nowSec()),
      session_id: leg.sessionId,
      domain_id: this.domainId,
      room: leg.room,
    };
    if (leg.kind === 'dialin') {
      const payload = { ...common, sip_from: leg.from, display_name: leg.from, sip_headers: {} };
      return this.event(`dialin.${step}`, leg.sessionId, payload);
    }
    const out = leg.dialOut;
    const payload = {
      ...common,
      user_id: dialOutUserId(leg),
      destination: leg.from,
      ...(out && { origin: out.origin }),
      caller_id: out ? out.callerId : null,
    };
    return this.event(`dialout.${step}`, leg.sessionId, payload);
  }

  /** `dialin.error` / `dialout.error`: a fatal error on the leg (reference §5.3, §5.4). */
  dialError(leg: LegFacts, errorMsg: string): SandboxEvent {
    const common = {
      timestamp: this.timestamp(nowSec()),
      session_id: leg.sessionId,
      domain_id: this.domainId,
      room: leg.room,
    };
    const payload =
      leg.kind === 'dialin'
        ? { ...common, error_msg: errorMsg }
        : { ...common, user_id: dialOutUserId(leg), error_msg: errorMsg };
    return this.event(`${leg.kind}.error`, leg.sessionId, payload);
  }

  private participant(leg: LegFacts): Record<string, unknown> {
    return {
      joined_at: Math.floor(leg.joinedAtMs / 1000),
      session_id: leg.sessionId,
      room: leg.room,
      // Daily sets user_id to the session id for participants that were given none, as SIP/PSTN legs are.
      user_id: leg.sessionId,
      user_name: leg.from,
      owner: false,
      networkQualityState: 'unknown',
      will_eject_at: null,
      permissions: { hasPresence: true, canSend: true, canReceive: { base: true }, canAdmin: false },
    };
  }

  private event(type: string, sessionId: string, payload: Record<string, unknown>): SandboxEvent {
    return { id: `${this.next()}-${type.replace('.', '-')}-${sessionId}${nowSec()}`, type, payload };
  }

  private timestamp(sec: number): string | number {
    return this.model().timestampAsString ? String(sec) : sec;
  }

  private next(): number {
    this.seq += 1;
    return this.seq;
  }
}

/** A dial-out started through the REST API carries the userId it was given (or null); other dial-out legs their session id. */
function dialOutUserId(leg: LegFacts): string | null {
  return leg.dialOut ? leg.dialOut.userId : leg.sessionId;
}

function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}
