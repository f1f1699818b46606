import { ApplicationFailure } from '@temporalio/activity';
import {
  DailyDialOutNotRunningError,
  DailyRoomNotHostingCallError,
  type DailyClient,
  type StartDialOutRequest,
} from '../daily';
import { FailureTypes, type TransferMethod } from '../shared';
import { reportingFailures } from './failures';

export { toApplicationFailure, type DailyFailureDetails, type RequestSafety } from './failures';

export interface ActivityDeps {
  /** Only these methods are used, so tests may pass any object that has them. */
  daily: Pick<
    DailyClient,
    | 'sipCallTransfer'
    | 'sipRefer'
    | 'getRoomPresence'
    | 'getRoomSipUri'
    | 'ejectParticipants'
    | 'startDialOut'
    | 'stopDialOut'
  >;
}

export interface TransferRequest {
  room: string;
  sessionId: string;
  method: TransferMethod;
  toEndPoint: string;
  /** sipCallTransfer only. */
  callerId?: string;
  /** sipCallTransfer only. */
  extension?: string;
  /** sipCallTransfer only. */
  waitBeforeExtensionDialSec?: number;
}

export interface DialOutRequest {
  /** The caller's room, where the destination is dialed in. */
  room: string;
  /** A `sip:` URI or an E.164 number. */
  toEndPoint: string;
  /** Put in every `dialout.*` event's `user_id`: how a leg is recognised when the start reply was lost. Max 36 chars. */
  userId?: string;
  /** Daily's purchased-number id shown to the callee. */
  callerId?: string;
  displayName?: string;
  /** SIP destinations only: sent as SIP headers (names `X-...`), e.g. a ticket id. */
  sipHeaders?: Record<`X-${string}`, string>;
  /** Phone destinations only. */
  extension?: string;
  /** Phone destinations only. */
  waitBeforeExtensionDialSec?: number;
}

/** `stopped`: this request hung the leg up. `not-running`: it had already ended (stopped, hung up, failed). */
export type DialOutStopResult = 'stopped' | 'not-running';

export interface SessionRef {
  room: string;
  sessionId: string;
}

/**
 * The worker's activities. Their property names are the activity types shown in the Temporal UI. Failures are
 * `ApplicationFailure`s typed with `FailureTypes`; see `toApplicationFailure` for which ones Temporal may retry.
 */
export function createActivities(deps: ActivityDeps) {
  const { daily } = deps;
  return {
    /** One transfer request to Daily. Never retried blindly: Daily does not deduplicate transfers. */
    async requestTransfer(req: TransferRequest): Promise<void> {
      await reportingFailures('at-most-once', () =>
        req.method === 'sipRefer'
          ? daily.sipRefer(req.room, { sessionId: req.sessionId, toEndPoint: req.toEndPoint })
          : daily.sipCallTransfer(req.room, {
              sessionId: req.sessionId,
              toEndPoint: req.toEndPoint,
              callerId: req.callerId,
              extension: req.extension,
              waitBeforeExtensionDialSec: req.waitBeforeExtensionDialSec,
            })
      );
    },

    /** Whether the session is in the room per Daily's presence (which may lag by up to ~15 s). */
    async isSessionInRoom(req: SessionRef): Promise<boolean> {
      const present = await reportingFailures('idempotent', () => daily.getRoomPresence(req.room));
      return present.some((participant) => participant.id === req.sessionId);
    },

    /** The room's SIP URI, where a rollback sends the caller back to. */
    async getRoomSipUri(room: string): Promise<string> {
      return reportingFailures('idempotent', () => daily.getRoomSipUri(room));
    },

    /**
     * Dials the destination into the room. Never retried blindly: each accepted dialOut/start rings a new leg, so a
     * lost reply is reported as outcome unknown and the workflow looks for the leg by its `userId`.
     */
    async startDialOut(req: DialOutRequest): Promise<{ sessionId: string }> {
      const request = dialOutRequest(req);
      return reportingFailures('at-most-once', () => daily.startDialOut(req.room, request));
    },

    /**
     * Makes sure the dial-out no longer rings or talks. Safe to repeat (Temporal may retry it freely): a leg that is
     * already gone is reported as `not-running`, which is the outcome the caller wanted, not an error.
     */
    async stopDialOut(req: SessionRef): Promise<DialOutStopResult> {
      return reportingFailures('idempotent', async () => {
        try {
          await daily.stopDialOut(req.room, req.sessionId);
          return 'stopped';
        } catch (err) {
          // "No dialout to stop" says so directly; a dial-out lives in its room's call, so no call means no dial-out.
          if (err instanceof DailyDialOutNotRunningError || err instanceof DailyRoomNotHostingCallError) {
            return 'not-running';
          }
          throw err;
        }
      });
    },

    /**
     * Ends the caller's leg by ejecting its session. `ended: false` when Daily's reply lists what it ended and the
     * leg is not among them (Daily may not reach a leg outside the room); true when it is, or the reply does not say.
     */
    async hangUp(req: SessionRef): Promise<{ ended: boolean }> {
      const ejected = await reportingFailures('idempotent', () => daily.ejectParticipants(req.room, [req.sessionId]));
      return { ended: ejected === undefined || ejected.includes(req.sessionId) };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** Daily's dialOut/start body for the destination; options that do not fit its kind are refused before sending. */
function dialOutRequest(req: DialOutRequest): StartDialOutRequest {
  const common = {
    ...(req.userId !== undefined && { userId: req.userId }),
    ...(req.callerId !== undefined && { callerId: req.callerId }),
    ...(req.displayName !== undefined && { displayName: req.displayName }),
  };
  if (req.toEndPoint.startsWith('sip:') || req.toEndPoint.startsWith('sips:')) {
    if (req.extension !== undefined || req.waitBeforeExtensionDialSec !== undefined) {
      const field = req.extension !== undefined ? 'extension' : 'waitBeforeExtensionDialSec';
      throw invalidDialOut(field, `${field} needs a phone-number destination`);
    }
    return { ...common, sipUri: req.toEndPoint, ...(req.sipHeaders && { sipHeaders: req.sipHeaders }) };
  }
  if (req.sipHeaders !== undefined) throw invalidDialOut('sipHeaders', 'sipHeaders need a sip: destination');
  return {
    ...common,
    phoneNumber: req.toEndPoint,
    ...(req.extension !== undefined && { extension: req.extension }),
    ...(req.waitBeforeExtensionDialSec !== undefined && { waitBeforeExtensionDialSec: req.waitBeforeExtensionDialSec }),
  };
}

function invalidDialOut(field: keyof DialOutRequest, message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureTypes.invalidInput,
    message,
    nonRetryable: true,
    details: [{ field }],
  });
}
