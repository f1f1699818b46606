/**
 * Zod schemas of the Daily REST responses the client reads. They are lenient on purpose: unknown fields pass, and
 * only the fields Switchboard relies on are checked, because Daily's docs and examples disagree on some types.
 */
import { z } from 'zod';

/** `{"ok": true}`; Daily's docs show the string `"true"`, the server sends a boolean. Both mean success. */
export const okResponseSchema = z.looseObject({ ok: z.union([z.literal(true), z.literal('true')]) });

/** eject's reply (undocumented; the sandbox's guess): the ids that were ended. */
export const ejectResponseSchema = z.looseObject({ ejected: z.array(z.string()) });

/**
 * dialOut/start's reply, `{"ok": "true", "sessionId": "<uuid>"}`: only the session id is read (any 2xx is a started
 * dial-out), because it is the only handle for stopping the leg.
 */
export const dialOutStartResponseSchema = z.looseObject({ sessionId: z.string().min(1) });

/** Daily's error body: `{"error": "<machine string>", "info": "<human text>"}`. */
export const errorBodySchema = z.looseObject({ error: z.string().optional(), info: z.string().optional() });

export const presenceParticipantSchema = z.looseObject({
  /** The participant's session id. */
  id: z.string(),
  room: z.string().optional(),
  userId: z.string().nullish(),
  userName: z.string().nullish(),
  mtgSessionId: z.string().nullish(),
  joinTime: z.string().optional(),
  /** Seconds in the room. */
  duration: z.number().optional(),
});
export type PresenceParticipant = z.infer<typeof presenceParticipantSchema>;

export const roomPresenceSchema = z.looseObject({
  total_count: z.number().optional(),
  data: z.array(presenceParticipantSchema),
});

export const roomSchema = z.looseObject({
  id: z.string().optional(),
  name: z.string(),
  config: z
    .looseObject({
      /** Read-only; present once the room's `sip` property is set. `endpoint` is a full `sip:` URI. */
      sip_uri: z.looseObject({ endpoint: z.string().optional() }).nullish(),
    })
    .optional(),
});
export type DailyRoom = z.infer<typeof roomSchema>;

// Older docs describe `state` as a number (FAILED: 0, ACTIVE: 1, STOPPED: 2), newer ones as a string.
const webhookStateNames: Record<number, string> = { 0: 'FAILED', 1: 'ACTIVE', 2: 'STOPPED' };
const webhookState = z.union([z.string(), z.number().transform((state) => webhookStateNames[state] ?? String(state))]);
// ISO 8601 strings in the newer docs, Unix seconds in the older ones.
const webhookTime = z.union([z.string(), z.number()]).nullish();

export const webhookSchema = z.looseObject({
  uuid: z.string(),
  url: z.string(),
  hmac: z.string().nullish(),
  basicAuth: z.string().nullish(),
  retryType: z.string().nullish(),
  eventTypes: z.array(z.string()).nullish(),
  state: webhookState.nullish(),
  failedCount: z.number().nullish(),
  lastMomentPushed: webhookTime,
  domainId: z.string().nullish(),
  createdAt: webhookTime,
  updatedAt: webhookTime,
});
export type DailyWebhook = z.infer<typeof webhookSchema>;

/** `GET /webhooks` returns a bare array; tolerate the `{data: [...]}` envelope other list endpoints use. */
export const webhookListSchema = z.union([
  z.array(webhookSchema),
  z.looseObject({ data: z.array(webhookSchema) }).transform((list) => list.data),
]);
