import { z } from 'zod';
import type { DailyEvent, TransferEventType } from '../shared';
import { TRANSFER_EVENT_TYPES } from '../shared';
import { epochToMs } from '../daily/signature';

/**
 * Daily's webhook bodies, parsed leniently: its docs and examples disagree on some types (`timestamp` is an integer
 * in the schema and a string in every example), its newer SDK adds fields the docs don't list, and Daily may add
 * more at any time. Unknown fields pass; only what routing needs is required.
 */

/** A number, or a string holding one (Daily's examples quote numbers). */
const numeric = z
  .union([
    z.number(),
    z
      .string()
      .trim()
      .regex(/^-?\d+(\.\d+)?$/),
  ])
  .transform(Number);
/** SIP response codes: strings in the SDK schema, but a number would mean the same. */
const code = z.union([z.string(), z.number()]).transform(String);
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')]);

const envelopeSchema = z.looseObject({
  version: z.string().optional(),
  type: z.string().min(1),
  id: z.string().min(1),
  payload: z.unknown(),
  event_ts: numeric.optional(),
});

const transferPayloadSchema = z.looseObject({
  room: z.string().min(1),
  session_id: z.string().min(1),
  timestamp: numeric.optional(),
  to_endpoint: z.string().optional(),
  is_sip_refer: flag.optional(),
  completeStatus: z.string().optional(),
  complete_status: z.string().optional(),
  refer_sip_response_code: code.optional(),
  notify_sip_response_code: code.optional(),
  duration: numeric.optional(),
  error_msg: z.string().optional(),
  /** `dialout.*`: the `userId` given to dialOut/start, or null. */
  user_id: z.string().nullable().optional(),
  destination: z.string().optional(),
});

export type ParsedWebhook =
  | { kind: 'transfer'; event: DailyEvent }
  | { kind: 'other'; type: string; id: string }
  /** What could be read of the envelope (`id`, `type`) is kept for the dead letter. */
  | {
      kind: 'invalid';
      reason: 'malformed_json' | 'invalid_event' | 'domain_mismatch';
      message: string;
      id?: string;
      type?: string;
    };

function isTransferEventType(type: string): type is TransferEventType {
  return (TRANSFER_EVENT_TYPES as readonly string[]).includes(type);
}

/** Epoch seconds or milliseconds (the same guess as the timestamp header) to whole milliseconds. */
const toMs = (value: number): number => Math.round(epochToMs(value));

/** Validates an already JSON-parsed, authenticated body and normalises transfer events for the workflow. */
export function parseDailyWebhook(body: unknown): ParsedWebhook {
  const envelope = envelopeSchema.safeParse(body);
  if (!envelope.success) {
    const known = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    return {
      kind: 'invalid',
      reason: 'invalid_event',
      message: z.prettifyError(envelope.error),
      ...(typeof known.id === 'string' && known.id !== '' ? { id: known.id } : {}),
      ...(typeof known.type === 'string' && known.type !== '' ? { type: known.type } : {}),
    };
  }
  const { type, id, event_ts: eventTs } = envelope.data;
  if (!isTransferEventType(type)) return { kind: 'other', type, id };

  const parsed = transferPayloadSchema.safeParse(envelope.data.payload);
  if (!parsed.success) {
    return {
      kind: 'invalid',
      reason: 'invalid_event',
      message: `${type} payload: ${z.prettifyError(parsed.error)}`,
      id,
      type,
    };
  }
  const p = parsed.data;
  const fields: Omit<DailyEvent, 'id' | 'type' | 'room' | 'sessionId'> = {
    occurredAtMs: p.timestamp === undefined ? undefined : toMs(p.timestamp),
    sentAtMs: eventTs === undefined ? undefined : toMs(eventTs),
    toEndPoint: p.to_endpoint,
    isSipRefer: p.is_sip_refer,
    completeStatus: p.completeStatus ?? p.complete_status,
    referSipResponseCode: p.refer_sip_response_code,
    notifySipResponseCode: p.notify_sip_response_code,
    durationSec: p.duration,
    errorMessage: p.error_msg,
    // Only dial-out events carry these to the workflow: there they say which dial-out leg it is.
    ...(type.startsWith('dialout.') && { userId: p.user_id ?? undefined, destination: p.destination }),
  };
  // Absent fields are left out rather than set to undefined, so the signal carries only what Daily sent.
  const present = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
  return { kind: 'transfer', event: { id, type, room: p.room, sessionId: p.session_id, ...present } };
}
