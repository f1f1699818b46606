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

export type TransferMethod = 'sipCallTransfer' | 'sipRefer';

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
  /** The domain whose webhook secret verified the event (the relay's word, not the payload's claim). */
  domainId?: string;
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
