/**
 * Definitions shared by the workflow, the worker, the relay and the client.
 *
 * This module is imported by workflow code, so it must stay deterministic and dependency-free: only the
 * `define*` helpers of `@temporalio/workflow` and plain types. Validation (zod) lives in `./input`.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const TASK_QUEUE = 'switchboard';
export const TRANSFER_WORKFLOW_TYPE = 'transferCall';

/** One running transfer per caller leg: the id is derived from where the leg is. */
export function transferWorkflowId(room: string, sessionId: string): string {
  return `transfer:${room}:${sessionId}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------------------------

/**
 * `sipCallTransfer` and `sipRefer` move the caller's leg to the destination; `dialFirst` dials the destination into
 * the caller's room (`dialOut/start`) and the caller never leaves it.
 */
export type TransferMethod = 'sipCallTransfer' | 'sipRefer' | 'dialFirst';

/** SIP headers sent with a `dialFirst` SIP destination (names `X-…`), e.g. a ticket id. Never a phone number. */
export type SipHeaders = Record<string, string>;

/** Another destination of a `dialFirst` attempt, rung at the same time as its `toEndPoint`. */
export interface RingTogetherDestination {
  toEndPoint: string;
  callerId?: string;
  sipHeaders?: SipHeaders;
}

export interface TransferAttempt {
  method: TransferMethod;
  /** A `sip:` URI or an E.164 number (`+15551230000`). REFER takes only SIP URIs. */
  toEndPoint: string;
  /** Daily's purchased-number id shown to the callee; PSTN destinations only. */
  callerId?: string;
  /** Digits dialled after the destination answers (1–20 characters); PSTN destinations only. */
  extension?: string;
  waitBeforeExtensionDialSec?: number;
  /** Daily has no ring timeout: the workflow gives up on this destination after this many seconds. */
  answerTimeoutSec: number;
  /** `dialFirst`, SIP destinations only: headers sent with the dial-out. */
  sipHeaders?: SipHeaders;
  /** `dialFirst` only: more destinations rung together with `toEndPoint`; the first to answer wins. */
  ringTogether?: RingTogetherDestination[];
  /** `dialFirst` only: sessions (a bot, say) ejected from the room once a destination answers. */
  removeSessionIds?: string[];
}

export type OnExhausted =
  /** Transfer the caller back to the room they came from (its SIP URI), or to `returnTo`. */
  | { action: 'rollback'; returnTo?: string }
  /** SIP REFER the caller to `toEndPoint`, e.g. the PBX or IVR that sent the call. */
  | { action: 'refer'; toEndPoint: string }
  | { action: 'hangup' }
  | { action: 'none' };

export interface TransferInput {
  /** The Daily room the caller's SIP/PSTN leg is in now. */
  room: string;
  /** The session id of the caller's SIP/PSTN leg in that room. */
  sessionId: string;
  /** Destinations, tried in order until one answers. */
  attempts: TransferAttempt[];
  onExhausted: OnExhausted;
  /** The caller's idempotency key: starting again with the same key returns the running transfer. */
  requestId: string;
  /** How long to follow an answered call for its `completed` event, to record its duration. */
  maxCallDurationSec: number;
  /**
   * The longest a 429's `Retry-After` is obeyed before asking again (never past the attempt's ring budget). Default
   * 30 s: a caller is waiting.
   */
  maxRetryAfterSec: number;
  /**
   * When a transfer request's outcome is unknown (timeout, reset, 5xx), how long to wait for Daily's
   * `calltransfer.triggered` before deciding whether it is safe to ask again: by presence for the first request, by
   * the missing `triggered` alone once the leg may be out of the room. Cover how late webhooks can arrive.
   */
  reconcileWindowSec: number;
  /**
   * The Daily domain the call belongs to, when the relay serves several (`DAILY_WEBHOOK_SECRETS`): events verified
   * with another domain's secret are recorded and never acted on, even if room and session ids collide.
   */
  domainId?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Daily events, as the relay hands them to the workflow
// ---------------------------------------------------------------------------------------------------------------

/** The webhook event types the workflow acts on; the relay routes only these. */
export const TRANSFER_EVENT_TYPES = [
  'calltransfer.triggered',
  'calltransfer.initiated',
  'calltransfer.answered',
  'calltransfer.completed',
  'participant.left',
  'dialin.stopped',
  /** A `dialFirst` leg reached its destination (it rings). */
  'dialout.connected',
  /** A `dialFirst` leg's destination answered. */
  'dialout.answered',
  'dialout.stopped',
  /** The caller's own leg failed (Daily's fatal `error_msg`): the transfer cannot go on. */
  'dialin.error',
  'dialout.error',
] as const;
export type TransferEventType = (typeof TRANSFER_EVENT_TYPES)[number];

/** A Daily webhook event, normalised by the relay (camelCase, numbers as numbers, times in ms). */
export interface DailyEvent {
  /** Daily's event id: the dedupe key. */
  id: string;
  type: TransferEventType;
  room: string;
  sessionId: string;
  /** When the event happened (payload `timestamp`), epoch ms. */
  occurredAtMs?: number;
  /** When Daily sent the webhook (`event_ts`), epoch ms. */
  sentAtMs?: number;
  toEndPoint?: string;
  isSipRefer?: boolean;
  /** `calltransfer.completed` only, in Daily's newer schema: completed, failed, busy, no-answer, canceled… */
  completeStatus?: string;
  referSipResponseCode?: string;
  notifySipResponseCode?: string;
  /** `participant.left` only, seconds. */
  durationSec?: number;
  /** `dialin.error` / `dialout.error` only: Daily's `error_msg`. */
  errorMessage?: string;
  /** `dialout.*` only: the `userId` given to dialOut/start (see `dialOutUserId`). */
  userId?: string;
  /** `dialout.*` only: the number or SIP URI dialed. */
  destination?: string;
  /** The domain whose webhook secret verified the event (the relay's word, not the payload's claim). */
  domainId?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Dial-out legs: how their events find the transfer that started them
// ---------------------------------------------------------------------------------------------------------------

/**
 * A `dialFirst` leg's `userId` (Daily echoes it as `user_id` in every `dialout.*` event; at most 36 characters):
 * the caller's session id without its dashes, a dot, and the leg's number within the transfer. The relay turns it
 * back into the transfer's workflow id (the event's `room` plus the caller's session id), and the workflow knows the
 * leg by it even when the dialOut/start reply that carried the leg's own session id was lost. Daily's session ids
 * are UUIDs, so `dialFirst` needs a UUID caller session (validation says so).
 */
export function dialOutUserId(callerSessionId: string, leg: number): string {
  return `${callerSessionId.replace(/-/g, '')}.${leg}`;
}

/** The caller's session id and the leg number in a `dialOutUserId`, or undefined for any other `user_id`. */
export function parseDialOutUserId(userId: string | undefined): { callerSessionId: string; leg: number } | undefined {
  const match = /^([0-9a-fA-F]{8})([0-9a-fA-F]{4})([0-9a-fA-F]{4})([0-9a-fA-F]{4})([0-9a-fA-F]{12})\.(\d{1,3})$/.exec(
    userId ?? ''
  );
  if (!match) return undefined;
  return { callerSessionId: match.slice(1, 6).join('-'), leg: Number(match[6]) };
}

// ---------------------------------------------------------------------------------------------------------------
// State and result
// ---------------------------------------------------------------------------------------------------------------

export type TransferState =
  | 'requested'
  | 'triggered'
  | 'initiated'
  | 'answered'
  | 'completed'
  | 'falling_back'
  | 'rolled_back'
  | 'referred'
  | 'failed'
  | 'canceled';

export const FINAL_STATES: readonly TransferState[] = ['completed', 'rolled_back', 'referred', 'failed', 'canceled'];

export const ATTEMPT_OUTCOMES = [
  'answered',
  'no-answer',
  'busy',
  'rejected',
  'failed',
  'caller-hung-up',
  'api-error',
  'canceled',
  /** The caller's own leg failed (`dialin.error` / `dialout.error`). */
  'caller-leg-failed',
  /**
   * A request whose outcome Daily never confirmed nor denied within the attempt's ring budget. Not sent again (that
   * could transfer the caller twice); the transfer is flagged for operators (`TransferNeedsAttention`).
   */
  'unknown',
] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** A Daily event as the workflow saw it, and whether it changed anything. */
export interface EventRecord {
  id: string;
  type: TransferEventType;
  receivedAt: string;
  /** False for duplicates' first sightings never; false for events that arrived after the decision. */
  acted: boolean;
}

export interface AttemptRecord {
  index: number;
  method: TransferMethod;
  toEndPoint: string;
  startedAt: string;
  endedAt?: string;
  outcome?: AttemptOutcome;
  /** Why the outcome was decided: the event, timer or API error that decided it. */
  decidedBy?: string;
  /** How many transfer requests were sent to Daily for this attempt (more than one only after reconciling). */
  requests: number;
  events: EventRecord[];
  answeredAt?: string;
  /** `dialFirst` only: each destination dialed, in order (several when rung together). */
  legs?: DialOutLegRecord[];
  /** `dialFirst` only: the `removeSessionIds` ejected once a destination answered. */
  removedSessionIds?: string[];
}

export const DIAL_OUT_LEG_OUTCOMES = [
  /** This leg's destination answered first: it is on the call with the caller. */
  'answered',
  /** It answered after another leg of its group had won: hung up. */
  'answered-too-late',
  /** Stopped unanswered because another leg of its group answered first. */
  'lost-race',
  'no-answer',
  /** `dialout.stopped` before `dialout.connected`: refused before it rang (Daily sends no reason). */
  'busy',
  /** `dialout.stopped` after `dialout.connected`, unanswered and not stopped by us: declined or hung up. */
  'rejected',
  /** `dialout.error`. */
  'failed',
  'canceled',
  'caller-hung-up',
  /** dialOut/start refused (a documented 4xx, the room's session limit, or too many 429s). */
  'api-error',
  /** dialOut/start's outcome was never known and no `dialout.*` event named the leg: it was never sent again. */
  'unknown',
] as const;
export type DialOutLegOutcome = (typeof DIAL_OUT_LEG_OUTCOMES)[number];

/** One destination of a `dialFirst` attempt. */
export interface DialOutLegRecord {
  /** The leg's number within the transfer (in its `userId`, see `dialOutUserId`). */
  leg: number;
  toEndPoint: string;
  /** Daily's session id of the dial-out, once its reply or an event told it. */
  dialOutSessionId?: string;
  /** dialOut/start requests sent: one, or more only when Daily said the earlier ones were not taken (429). */
  startRequests: number;
  outcome?: DialOutLegOutcome;
  decidedBy?: string;
  /** How the workflow made sure the leg no longer rings: absent when it ended on its own (or never started). */
  stop?: 'stopped' | 'not-running' | 'failed' | 'session-unknown';
  events: EventRecord[];
}

export type FallbackAction = OnExhausted['action'];

export interface FallbackRecord {
  action: FallbackAction;
  toEndPoint?: string;
  ok: boolean;
  detail: string;
  at: string;
}

export interface TransferStatus {
  workflowId: string;
  room: string;
  sessionId: string;
  requestId: string;
  state: TransferState;
  /** The deciding attempt's outcome once there is one. */
  outcome?: AttemptOutcome;
  currentAttempt?: number;
  attempts: AttemptRecord[];
  fallback?: FallbackRecord;
  /** Seconds the transferred call lasted, when Daily reported its end. */
  callDurationSec?: number;
  /** Events that arrived after their attempt was decided: recorded, not acted on. */
  lateEvents: EventRecord[];
  canceledBy?: string;
  /** Where the caller's leg is at the end, by the leg model's evidence (absent in transfers started before it). */
  leg?: LegWhere;
  /** Why an operator should look at this transfer (also the `TransferNeedsAttention` search attribute). */
  needsAttention?: string;
}

export const LEG_WHERE = ['in-room', 'requested', 'ringing', 'parked', 'connected', 'referred', 'gone'] as const;
/** Where the caller's leg is: see `src/workflows/README.md`. */
export type LegWhere = (typeof LEG_WHERE)[number];

/** The workflow's result is its final status. */
export type TransferResult = TransferStatus;

// ---------------------------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------------------------

/**
 * Daily's events for one caller leg. One signal may carry several, in the order they arrived: the relay sends a leg's
 * queued events together (one history event and one workflow task instead of one per event). Senders may always send
 * one. Workers must understand several before relays send several (see `RELAY_SIGNAL_BATCH`).
 */
export const dailyEventSignal = defineSignal<[DailyEvent, ...DailyEvent[]]>('dailyEvent');
export const statusQuery = defineQuery<TransferStatus>('status');
export interface CancelRequest {
  reason?: string;
}
export const cancelUpdate = defineUpdate<TransferResult, [CancelRequest]>('cancel');
export interface DecisionRequest {
  /** Must be the running transfer's `requestId`: the idempotency key, checked by the workflow for any language. */
  requestId: string;
}
/**
 * Resolves when the transfer is decided — answered (while the call goes on), fallen back, failed or canceled — with
 * the status at that moment. Send it with update-with-start (`WorkflowIdConflictPolicy` `USE_EXISTING`) to start a
 * transfer and learn its decision in one round trip; a different `requestId` is rejected by the update's validator.
 */
export const decisionUpdate = defineUpdate<TransferStatus, [DecisionRequest]>('decision');

// ---------------------------------------------------------------------------------------------------------------
// Search attributes (no phone numbers or other personal data: they are stored unencrypted)
// ---------------------------------------------------------------------------------------------------------------

export const searchAttributes = {
  state: defineSearchAttributeKey('TransferState', 'KEYWORD'),
  outcome: defineSearchAttributeKey('TransferOutcome', 'KEYWORD'),
  room: defineSearchAttributeKey('DailyRoom', 'KEYWORD'),
  sessionId: defineSearchAttributeKey('DailySessionId', 'KEYWORD'),
  method: defineSearchAttributeKey('TransferMethod', 'KEYWORD'),
  /** Set (to a reason such as `unknown-outcome`) when an operator should look; absent otherwise. */
  needsAttention: defineSearchAttributeKey('TransferNeedsAttention', 'KEYWORD'),
} as const;

/** Names for `temporal operator search-attribute create` and the dev server's `--search-attribute`. */
export const SEARCH_ATTRIBUTE_NAMES = Object.values(searchAttributes).map((key) => key.name);

// ---------------------------------------------------------------------------------------------------------------
// Failure types (the `type` of ApplicationFailures raised by activities and the workflow)
// ---------------------------------------------------------------------------------------------------------------

export const FailureTypes = {
  invalidInput: 'InvalidTransferInput',
  rateLimited: 'DailyRateLimited',
  serverError: 'DailyServerError',
  networkError: 'DailyNetworkError',
  outcomeUnknown: 'DailyOutcomeUnknown',
  roomNotHostingCall: 'DailyRoomNotHostingCall',
  invalidSession: 'DailyInvalidSession',
  roomNotSfu: 'DailyRoomNotSfu',
  callClosed: 'DailyCallClosed',
  notFound: 'DailyNotFound',
  badRequest: 'DailyBadRequest',
  auth: 'DailyAuthError',
  forbidden: 'DailyForbidden',
  invalidResponse: 'DailyInvalidResponse',
} as const;
export type FailureType = (typeof FailureTypes)[keyof typeof FailureTypes];
