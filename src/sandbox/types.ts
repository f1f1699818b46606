/**
 * The sandbox's public vocabulary: options, scenarios, faults and what it records. Other modules (tests, the local
 * quick start, benchmarks) code against these names, over `startSandbox()` or the HTTP control API.
 */

export interface SandboxOptions {
  /** Default 8090; 0 picks a free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Every /v1 request needs `Authorization: Bearer <apiKey>`. Default 'sandbox-key'. */
  apiKey?: string;
  domainId?: string;
  /** Delays between emitted events, webhook timeouts and retry backoff (tests pass scaled-down values). */
  timing?: Partial<SandboxTiming>;
  model?: Partial<SandboxModel>;
  /** For destinations with no scenario set (sandbox rooms excepted, see README). */
  defaultScenario?: DestinationScenario;
  log?: (line: string) => void;
}

export interface SandboxTiming {
  /** From an accepted transfer request to `calltransfer.triggered`. */
  triggeredMs: number;
  /** From `triggered` to `initiated` (when the caller leaves the source room). */
  initiatedMs: number;
  /** Outcome delay of busy/reject/refer-* scenarios that give no `afterMs`. */
  outcomeMs: number;
  /** How long a sandbox room takes to "answer" a transfer to its SIP URI when no scenario is set for it. */
  roomAnswerMs: number;
  /** From an accepted `dialOut/start` to the remote end being reached (`dialout.connected`, or a busy/error). */
  dialOutConnectedMs: number;
  /** A webhook delivery that takes longer than this is a failure. */
  webhookTimeoutMs: number;
  /** The `{"test":"test"}` verification request must get its 200 within this. */
  verifyTimeoutMs: number;
  /** `exponential` retry mode: delay before the 2nd attempt, doubled for each further one... */
  retryBaseMs: number;
  /** ...up to this cap. */
  retryCapMs: number;
}

/** Where Daily's docs are silent or contradict themselves the sandbox picks a model; each is switchable. */
export interface SandboxModel {
  /**
   * 'parked' (default): after a busy/rejected transfer the caller's leg stays up, out of the room but addressable by
   * the same sessionId in the source room. 'dropped': the leg ends and later requests for it get 404.
   */
  failedTransferLeg: 'parked' | 'dropped';
  /**
   * 'docs' (default): exactly what Daily's event pages document — `calltransfer.completed` only when the destination
   * ends a connected call, without a status; nothing after `initiated` for a REFER; nothing for failures.
   * 'extended': Daily's newer SDK schema — `completed` carries `completeStatus` and, for REFER, the SIP codes, and is
   * also sent for failures and REFER.
   */
  completedStatus: 'extended' | 'docs';
  /** false (default): `{"ok": true}`; true: `{"ok": "true"}` like the docs example. */
  okAsString: boolean;
  /** true (default): payload `timestamp` as a string, like the docs examples. */
  timestampAsString: boolean;
  /**
   * A transfer request for a leg that is ringing outside the room (after `initiated`). 'retarget' (default): the
   * earlier destination stops ringing and the leg rings the new one. 'refuse': 404 `invalid sessionId` and the ring
   * goes on — Daily removed the leg from the room at `initiated`, and every error it documents for the transfer
   * endpoints is about the room and its participants, so a session that is no longer one is the likeliest refusal.
   */
  ringingLegTransfer: 'retarget' | 'refuse';
  /**
   * Eject for a leg that is ringing or parked outside the room. 'ends' (default): the leg ends (`completed`
   * `canceled` if it was ringing, then the second `dialin.stopped`). 'ignored': eject reaches only participants in
   * the room; the leg is left out of `ejected` and keeps ringing or stays parked.
   */
  ejectOutsideRoom: 'ends' | 'ignored';
  /**
   * 0 (default): presence is exact. n > 0: presence reports each leg's room membership as it was n ms ago (Daily
   * documents a lag of up to ~15 s): a leg that left less than n ms ago is still listed, one that joined less than
   * n ms ago not yet.
   */
  presenceLagMs: number;
}

export type DestinationScenario =
  /** Answered after `afterMs`; the callee hangs up `hangUpAfterMs` later (completed), or never without it. */
  | { kind: 'answer'; afterMs: number; hangUpAfterMs?: number }
  /** Rings until the leg is re-targeted, ejected or the caller hangs up: Daily has no ring timeout. */
  | { kind: 'no-answer' }
  | { kind: 'busy'; afterMs?: number }
  | { kind: 'reject'; afterMs?: number }
  /** The caller hangs up while it rings: the leg is gone. */
  | { kind: 'caller-hangs-up'; afterMs: number }
  | { kind: 'refer-accept'; afterMs?: number }
  | { kind: 'refer-reject'; afterMs?: number }
  /** The call cannot be set up (Daily's fatal error): `dialout.error` for a dial-out, `completed` `failed` for a transfer. */
  | { kind: 'error'; afterMs?: number; errorMsg?: string };

export type Fault =
  /** A 5xx (default 500); the request does not take effect. */
  | { kind: 'server-error'; status?: number }
  /** 429 rate-limit-error, with `Retry-After` when `retryAfterSec` is given; no effect. */
  | { kind: 'rate-limit'; retryAfterSec?: number }
  /** The request takes effect, then the socket is destroyed without a response. */
  | { kind: 'lost-response' }
  /** The request takes effect at once; its response is sent `ms` later. */
  | { kind: 'latency'; ms: number }
  /** The request takes effect; the 2xx carries a body that is not Daily's JSON (a proxy's `OK` page). */
  | { kind: 'unreadable-ok' }
  /** 400 "Call closed before command could be delivered" (Daily's documented race); no effect. */
  | { kind: 'call-closed' }
  /** 400 "dialOut already started" (documented for dialOut/start, its trigger is not); no effect. */
  | { kind: 'dialout-already-started' };

/** The Daily endpoints, by the names used to match faults and filter recorded requests. */
export const ENDPOINTS = [
  'sipCallTransfer',
  'sipRefer',
  'presence',
  'room',
  'eject',
  'webhooks',
  'dialOut/start',
  'dialOut/stop',
  'dialOut/sendDTMF',
] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export interface WebhookFaults {
  /** Extra copies of each event (each with its own retries). Default 0. */
  duplicate?: number;
  /** Hold each transfer's events until it settles, then deliver them in reverse order. */
  reorder?: boolean;
  /**
   * With `reorder`: release a transfer's held events (reversed) at the latest this long after the first of them,
   * so that reordering delays an event by a bounded time, as Daily's concurrent deliveries and retries do. Unset:
   * held until the transfer settles, which for an answered call is when it ends.
   */
  reorderHoldMs?: number;
  /** Delay before the first attempt of each delivery. */
  delayMs?: number;
}

export interface RecordedRequest {
  id: number;
  method: string;
  /** The URL path, e.g. `/v1/rooms/support/sipCallTransfer`. */
  path: string;
  /** The endpoint name (`sipCallTransfer`...) when the path is one the sandbox implements. */
  endpoint?: Endpoint;
  room?: string;
  body: unknown;
  at: number;
  status: number;
  faulted?: Fault['kind'];
}

export interface WebhookDelivery {
  eventId: string;
  type: string;
  /** 1-based attempt; for `dropped`, the number of attempts made before dropping (0: never tried). */
  attempt: number;
  status: number | 'error' | 'dropped';
  at: number;
  /**
   * From sending the attempt to its answer (or the connection failure, or the timeout), as the sender sees it: the
   * receiver's ack latency. Absent for `dropped`.
   */
  durationMs?: number;
  webhookUuid: string;
}

/** Daily's webhook object. */
export interface WebhookObject {
  uuid: string;
  url: string;
  hmac: string;
  basicAuth: string | null;
  retryType: 'circuit-breaker' | 'exponential';
  eventTypes: string[];
  state: 'ACTIVE' | 'FAILED';
  failedCount: number;
  lastMomentPushed: string | null;
  domainId: string;
  createdAt: string;
  updatedAt: string;
}

export interface SandboxEvent {
  id: string;
  type: string;
  payload: Record<string, unknown>;
}

export type LegState = 'in-room' | 'ringing' | 'transferred' | 'parked' | 'ended';

export interface ParticipantView {
  state: LegState;
  /** Where the leg is now: the destination room once transferred into a sandbox room, else the source room. */
  room: string;
  /** The leg's session id in `room` when a transfer into a sandbox room gave it a new one. */
  sessionId?: string;
}

export interface RoomOptions {
  /** false: transfer requests and dialOut/stop get 400 "Room not in SFU mode". Default true. */
  sfu?: boolean;
  /** Daily's `max_sip_pstn_sessions_per_room` (default 5): dialOut/start is refused once the room has this many. */
  maxSipPstnSessions?: number;
}

/**
 * A dial-out's state: `ringing` from the accepted `dialOut/start` until answered or ended (it may not have reached
 * the remote end yet); `answered` while the dialed party is on the call; `stopped` once it ended (stopDialOut, the
 * remote end hung up, busy or declined, or its leg ended in the room); `error` after `dialout.error`.
 */
export type DialOutState = 'ringing' | 'answered' | 'stopped' | 'error';

export interface DialOutView {
  sessionId: string;
  room: string;
  /** The `sipUri` (with any header parameters) or `phoneNumber` dialed. */
  destination: string;
  userId: string | null;
  callerId: string | null;
  state: DialOutState;
  /** Epoch ms of the accepted request, and of `dialout.answered`. */
  startedAt: number;
  answeredAt?: number;
}

export interface DialOutFilter {
  room?: string;
  state?: DialOutState;
}

export interface CallerOptions {
  kind?: 'dialin' | 'dialout';
  transport?: 'sip' | 'pstn';
  sessionId?: string;
  from?: string;
}

export interface CallerFailure {
  /** The event's `error_msg`; default 'sandbox: injected leg failure'. */
  errorMsg?: string;
}

export interface RequestFilter {
  /** An endpoint name (`sipCallTransfer`) or a full URL path. */
  path?: string;
  room?: string;
}

export interface FaultMatch {
  path: Endpoint;
  /** Only a request whose body names this destination (e.g. the second destination, or a rollback's room). */
  toEndPoint?: string;
}

export interface SandboxInfo {
  url: string;
  apiBase: string;
  apiKey: string;
  domainId: string;
}

export interface Sandbox {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** url + '/v1' */
  readonly apiBase: string;
  readonly apiKey: string;
  createRoom(name: string, opts?: RoomOptions): { name: string; sipUri: string };
  /** A SIP/PSTN leg in the room (emits dialin.connected or dialout.connected/answered, then participant.joined). */
  addCaller(room: string, opts?: CallerOptions): { sessionId: string };
  setScenario(toEndPoint: string, scenario: DestinationScenario): void;
  /** Consumed by the next matching requests, in order. */
  queueFault(match: FaultMatch, fault: Fault, times?: number): void;
  setWebhookFaults(f: WebhookFaults): void;
  setModel(m: Partial<SandboxModel>): void;
  /**
   * The caller's own leg fails (a fatal SIP/media error): `dialin.error` (or `dialout.error` for a dial-out leg)
   * with `error_msg`, plus `participant.left` if it was in the room; no `dialin.stopped` follows (see README).
   */
  failCaller(room: string, sessionId: string, opts?: CallerFailure): void;
  requests(filter?: RequestFilter): RecordedRequest[];
  /** Every distinct event the sandbox generated (before duplication), in emission order. */
  emittedEvents(): SandboxEvent[];
  deliveries(): WebhookDelivery[];
  participant(room: string, sessionId: string): ParticipantView | undefined;
  /** Every dial-out started through `dialOut/start`, in start order: tests prove "no dial-out left ringing". */
  dialOuts(filter?: DialOutFilter): DialOutView[];
  webhooks(): WebhookObject[];
  /** Resolves when no scheduled event emission or webhook delivery is pending. */
  idle(): Promise<void>;
  /** Forgets rooms, scenarios, faults (webhook faults too) and recordings; keeps webhooks and the model. */
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_TIMING: SandboxTiming = {
  triggeredMs: 20,
  initiatedMs: 150,
  outcomeMs: 1_000,
  roomAnswerMs: 200,
  dialOutConnectedMs: 100,
  webhookTimeoutMs: 10_000,
  verifyTimeoutMs: 3_000,
  retryBaseMs: 1_000,
  retryCapMs: 15 * 60_000,
};

export const DEFAULT_MODEL: SandboxModel = {
  failedTransferLeg: 'parked',
  // What Daily documents is the default: Switchboard must not depend on a schema Daily has not released.
  completedStatus: 'docs',
  okAsString: false,
  timestampAsString: true,
  ringingLegTransfer: 'retarget',
  ejectOutsideRoom: 'ends',
  presenceLagMs: 0,
};

export const DEFAULT_SCENARIO: DestinationScenario = { kind: 'answer', afterMs: 200, hangUpAfterMs: 1_000 };
