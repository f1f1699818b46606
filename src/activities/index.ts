import type { DailyClient } from '../daily';
import type { TransferMethod } from '../shared';
import { reportingFailures } from './failures';

export { toApplicationFailure, type DailyFailureDetails, type RequestSafety } from './failures';

export interface ActivityDeps {
  /** Only these methods are used, so tests may pass any object that has them. */
  daily: Pick<DailyClient, 'sipCallTransfer' | 'sipRefer' | 'getRoomPresence' | 'getRoomSipUri' | 'ejectParticipants'>;
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

    /** Ends the caller's leg by ejecting its session from the room. */
    async hangUp(req: SessionRef): Promise<void> {
      await reportingFailures('idempotent', () => daily.ejectParticipants(req.room, [req.sessionId]));
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
