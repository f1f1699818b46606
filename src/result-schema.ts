/** The workflow's result (= its `status` query) as a zod schema, so it can be published as JSON Schema. */
import { z } from 'zod';
import {
  ATTEMPT_OUTCOMES,
  DIAL_OUT_LEG_OUTCOMES,
  LEG_WHERE,
  TRANSFER_EVENT_TYPES,
  type TransferStatus,
} from './shared';

const outcome = z.enum(ATTEMPT_OUTCOMES);
const state = z.enum([
  'requested',
  'triggered',
  'initiated',
  'answered',
  'completed',
  'falling_back',
  'rolled_back',
  'referred',
  'failed',
  'canceled',
]);
const eventRecord = z.object({
  id: z.string(),
  type: z.enum(TRANSFER_EVENT_TYPES),
  receivedAt: z.string().describe('ISO 8601'),
  acted: z.boolean().describe('false for events that arrived after their attempt was decided'),
});

export const TransferResultSchema = z.object({
  workflowId: z.string(),
  room: z.string(),
  sessionId: z.string(),
  requestId: z.string(),
  state,
  outcome: outcome.optional(),
  currentAttempt: z.number().int().optional(),
  attempts: z.array(
    z.object({
      index: z.number().int(),
      method: z.enum(['sipCallTransfer', 'sipRefer', 'dialFirst']),
      toEndPoint: z.string(),
      startedAt: z.string(),
      endedAt: z.string().optional(),
      outcome: outcome.optional(),
      decidedBy: z.string().optional().describe('the event, timer or API error that decided the outcome'),
      requests: z.number().int().describe('transfer requests sent to Daily for this attempt'),
      events: z.array(eventRecord),
      answeredAt: z.string().optional(),
      legs: z
        .array(
          z.object({
            leg: z.number().int().describe("the leg's number within the transfer (in its dial-out userId)"),
            toEndPoint: z.string(),
            dialOutSessionId: z.string().optional().describe("Daily's session id of the dial-out, once known"),
            startRequests: z.number().int().describe('dialOut/start requests sent for this leg'),
            outcome: z.enum(DIAL_OUT_LEG_OUTCOMES).optional(),
            decidedBy: z.string().optional(),
            stop: z
              .enum(['stopped', 'not-running', 'failed', 'session-unknown'])
              .optional()
              .describe('how the workflow made sure the leg no longer rings; absent when it ended on its own'),
            events: z.array(eventRecord),
          })
        )
        .optional()
        .describe('dialFirst only: each destination dialed'),
      removedSessionIds: z
        .array(z.string())
        .optional()
        .describe('dialFirst only: sessions ejected once a destination answered'),
    })
  ),
  fallback: z
    .object({
      action: z.enum(['rollback', 'refer', 'hangup', 'none']),
      toEndPoint: z.string().optional(),
      ok: z.boolean(),
      detail: z.string(),
      at: z.string(),
    })
    .optional(),
  callDurationSec: z.number().optional(),
  lateEvents: z.array(eventRecord),
  canceledBy: z.string().optional(),
  leg: z.enum(LEG_WHERE).optional().describe("where the caller's leg is at the end, by the evidence"),
  needsAttention: z.string().optional().describe('why an operator should look (unknown request outcome, ...)'),
});

type Agree<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const resultTypesAgree: Agree<z.output<typeof TransferResultSchema>, TransferStatus> = true;
void resultTypesAgree;
