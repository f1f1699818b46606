/**
 * The transfer request contract, validated with zod at every edge (typed client, CLI, and — through a local
 * activity — the workflow itself, for backends that start `transferCall` with raw JSON from other languages).
 * `npm run schema` publishes it as JSON Schema under `schema/`.
 */
import { z } from 'zod';
import type { TransferInput } from './shared';

const SIP_URI = /^sips?:[^\s@]+@[^\s@]+$|^sips?:[A-Za-z0-9.-]+(:\d+)?(;\S*)?$/;
const E164 = /^\+[1-9]\d{6,14}$/;

const isSipUri = (value: string): boolean => SIP_URI.test(value);
export const isE164 = (value: string): boolean => E164.test(value);

export const DEFAULTS = {
  answerTimeoutSec: 30,
  maxCallDurationSec: 4 * 60 * 60,
  reconcileWindowSec: 15,
  maxRetryAfterSec: 30,
} as const;

const room = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be a Daily room name (letters, digits, "-" and "_", at most 128)');
const sessionId = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be a Daily session id (letters, digits, ".", "-" and "_")');
const endpoint = z
  .string()
  .refine((v) => isSipUri(v) || isE164(v), 'must be a sip: URI or an E.164 number such as +15551230000')
  .describe('A sip: URI or an E.164 number such as +15551230000');
const sipOnly = z.string().refine(isSipUri, 'must be a sip: URI').describe('A sip: URI');

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** A phone number anywhere in a value: `+` and 7–15 digits, or a value of only digits and dialing punctuation. */
const PHONE_NUMBER = /\+\d{7,15}|^[\d\s().+-]*\d{7,}[\d\s().+-]*$/;

/**
 * SIP headers for a `dialFirst` SIP destination: Daily sends the sipUri's query parameters as `X-` headers. The
 * values are in the workflow's history, so they must not carry a phone number (personal data).
 */
const sipHeaders = z
  .record(
    z.string().regex(/^X-[A-Za-z0-9-]{1,64}$/, 'must be a header name starting with X- (letters, digits, "-")'),
    z
      .string()
      .min(1)
      .max(256)
      .refine((v) => !PHONE_NUMBER.test(v), 'must not hold a phone number (it would be kept in the workflow history)')
  )
  .refine((headers) => Object.keys(headers).length <= 10, 'at most 10 headers')
  .describe('dialFirst, SIP destinations only: X- headers sent with the dial-out (never a phone number)');

const ringTogetherDestination = z
  .object({ toEndPoint: endpoint, callerId: z.string().min(1).max(128).optional(), sipHeaders: sipHeaders.optional() })
  .strict();

const destinationFields = {
  method: z.enum(['sipCallTransfer', 'sipRefer', 'dialFirst']).default('sipCallTransfer'),
  toEndPoint: endpoint,
  callerId: z.string().min(1).max(128).optional(),
  extension: z
    .string()
    .regex(/^[0-9*#]{1,20}$/, 'must be 1–20 digits (0-9, * and #)')
    .optional(),
  waitBeforeExtensionDialSec: z.number().int().min(0).max(60).optional(),
  answerTimeoutSec: z.number().int().min(1).max(600).default(DEFAULTS.answerTimeoutSec),
  sipHeaders: sipHeaders.optional(),
  ringTogether: z
    .array(ringTogetherDestination)
    .min(1)
    .max(9)
    .optional()
    .describe('dialFirst only: more destinations rung at the same time as toEndPoint; the first to answer wins'),
  removeSessionIds: z
    .array(sessionId)
    .min(1)
    .max(10)
    .optional()
    .describe('dialFirst only: sessions (a bot, say) ejected from the room once a destination answers'),
};

/** The fields of one destination: what a flat single-destination request moves into `attempts[0]`. */
const DESTINATION_KEYS = Object.keys(destinationFields) as Array<keyof typeof destinationFields>;

/** `obj`'s `keys` and the rest, as two objects. */
function splitFields<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): [Pick<T, K>, Omit<T, K>] {
  const picked = {} as Pick<T, K>;
  const rest = { ...obj };
  for (const key of keys) {
    picked[key] = obj[key];
    delete rest[key];
  }
  return [picked, rest];
}

type DestinationShape = {
  method: string;
  toEndPoint: string;
  callerId?: string;
  extension?: string;
  waitBeforeExtensionDialSec?: number;
  sipHeaders?: Record<string, string>;
  ringTogether?: Array<{ toEndPoint: string; callerId?: string; sipHeaders?: Record<string, string> }>;
  removeSessionIds?: string[];
};

/** Daily's rules that span fields: REFER is SIP only; callerId and extension are for PSTN destinations only. */
function checkDestination(d: DestinationShape, ctx: z.RefinementCtx): void {
  const pstn = isE164(d.toEndPoint);
  if (d.method !== 'dialFirst') {
    for (const field of ['sipHeaders', 'ringTogether', 'removeSessionIds'] as const) {
      if (d[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'is for dialFirst only' });
    }
  }
  const group = [d, ...(d.ringTogether ?? [])];
  group.forEach((g, i) => {
    const path = i === 0 ? [] : ['ringTogether', i - 1];
    if (g.sipHeaders !== undefined && !isSipUri(g.toEndPoint)) {
      ctx.addIssue({ code: 'custom', path: [...path, 'sipHeaders'], message: 'is only valid for a sip: destination' });
    }
    if (i > 0 && !isE164(g.toEndPoint) && g.callerId !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'callerId'],
        message: 'is only valid for a PSTN (E.164) destination',
      });
    }
    const earlier = group.findIndex((other) => other.toEndPoint === g.toEndPoint);
    if (earlier < i) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'toEndPoint'],
        message: 'repeats a destination of this group: each is dialed at most once',
      });
    }
  });
  if (d.method === 'sipRefer' && !isSipUri(d.toEndPoint)) {
    ctx.addIssue({ code: 'custom', path: ['toEndPoint'], message: 'sipRefer needs a sip: URI destination' });
  }
  if (d.method === 'sipRefer' && (d.callerId || d.extension || d.waitBeforeExtensionDialSec !== undefined)) {
    ctx.addIssue({ code: 'custom', path: ['method'], message: 'sipRefer takes no callerId or extension' });
  }
  if (!pstn && d.callerId !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['callerId'], message: 'is only valid for a PSTN (E.164) destination' });
  }
  if (!pstn && d.extension !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['extension'], message: 'is only valid for a PSTN (E.164) destination' });
  }
  if (d.waitBeforeExtensionDialSec !== undefined && d.extension === undefined) {
    ctx.addIssue({ code: 'custom', path: ['waitBeforeExtensionDialSec'], message: 'needs an extension' });
  }
}

/**
 * Daily's transfer events name only the destination, so two attempts to one destination could not be told apart
 * when a late event arrives: each destination appears once, and a fallback target is not also an attempt.
 */
function checkDistinctDestinations(
  input: {
    sessionId: string;
    attempts: Array<Pick<DestinationShape, 'method' | 'toEndPoint' | 'ringTogether'>>;
    onExhausted: { action: string; returnTo?: string; toEndPoint?: string };
  },
  ctx: z.RefinementCtx
): void {
  /** Where each destination first appears: its attempt, and its field path. */
  const first = new Map<string, { index: number; path: string }>();
  input.attempts.forEach(({ toEndPoint, ringTogether }, index) => {
    const group: Array<Array<string | number>> = [['attempts', index, 'toEndPoint']];
    (ringTogether ?? []).forEach((_, i) => group.push(['attempts', index, 'ringTogether', i, 'toEndPoint']));
    group.forEach((path, i) => {
      const destination = i === 0 ? toEndPoint : ringTogether![i - 1]!.toEndPoint;
      const earlier = first.get(destination);
      if (earlier === undefined) first.set(destination, { index, path: path.join('.') });
      // Repeats within one group are checkDestination's.
      else if (earlier.index !== index)
        ctx.addIssue({
          code: 'custom',
          path,
          message: `repeats ${earlier.path}: Daily's events name only the destination, so each may appear once`,
        });
    });
  });
  checkDialFirst(input.sessionId, input.attempts, ctx);
  const fallbackTarget = input.onExhausted.returnTo ?? input.onExhausted.toEndPoint;
  if (fallbackTarget !== undefined && first.has(fallbackTarget)) {
    ctx.addIssue({
      code: 'custom',
      path: ['onExhausted', input.onExhausted.returnTo !== undefined ? 'returnTo' : 'toEndPoint'],
      message: `is also ${first.get(fallbackTarget)!.path}: the fallback must go somewhere else`,
    });
  }
}

/**
 * `dialFirst` rings destinations into the caller's room, so it comes before any attempt that moves the caller out of
 * it; and its legs are found again by a `userId` built from the caller's session id, a UUID as Daily's are.
 */
function checkDialFirst(
  sessionId: string,
  attempts: Array<{ method: string; removeSessionIds?: string[] }>,
  ctx: z.RefinementCtx
): void {
  const firstTransfer = attempts.findIndex((a) => a.method !== 'dialFirst');
  attempts.forEach((a, index) => {
    const caller = a.removeSessionIds?.indexOf(sessionId) ?? -1;
    if (caller !== -1) {
      ctx.addIssue({
        code: 'custom',
        path: ['attempts', index, 'removeSessionIds', caller],
        message: 'is the caller: the destination answers to talk with them',
      });
    }
    if (a.method === 'dialFirst' && firstTransfer !== -1 && index > firstTransfer) {
      ctx.addIssue({
        code: 'custom',
        path: ['attempts', index, 'method'],
        message: `dialFirst dials into the caller's room, which attempts.${firstTransfer} (${attempts[firstTransfer]!.method}) may have moved the caller out of: put dialFirst attempts first`,
      });
    }
  });
  if (attempts.some((a) => a.method === 'dialFirst') && !UUID.test(sessionId)) {
    ctx.addIssue({
      code: 'custom',
      path: ['sessionId'],
      message: "dialFirst needs the caller's Daily session id (a UUID): its dial-outs' userId is built from it",
    });
  }
}

const TransferAttemptSchema = z.object(destinationFields).strict().superRefine(checkDestination);

const OnExhaustedSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('rollback'), returnTo: sipOnly.optional() }).strict(),
  z.object({ action: z.literal('refer'), toEndPoint: sipOnly }).strict(),
  z.object({ action: z.literal('hangup') }).strict(),
  z.object({ action: z.literal('none') }).strict(),
]);

const common = {
  room,
  sessionId,
  onExhausted: z
    .union([z.enum(['rollback', 'hangup', 'none']).transform((action) => ({ action })), OnExhaustedSchema])
    .default({ action: 'rollback' }),
  maxCallDurationSec: z.number().int().min(1).max(86_400).default(DEFAULTS.maxCallDurationSec),
  reconcileWindowSec: z.number().int().min(1).max(300).default(DEFAULTS.reconcileWindowSec),
  maxRetryAfterSec: z.number().int().min(0).max(600).default(DEFAULTS.maxRetryAfterSec),
  domainId: z.string().min(1).max(128).optional(),
};

/** The workflow's own input: what backends in any language send when they start `transferCall`. */
const transferInputFields = {
  ...common,
  attempts: z.array(TransferAttemptSchema).min(1).max(10),
  requestId: z.string().min(1).max(128),
};
export const TransferInputSchema = z.object(transferInputFields).strict().superRefine(checkDistinctDestinations);

/**
 * What the typed client and CLI accept: the workflow input, or one destination given inline instead of `attempts`,
 * and an optional `requestId` (one is generated when missing).
 */
export const TransferRequestSchema = z.union([
  z
    .object({ ...transferInputFields, requestId: z.string().min(1).max(128).optional() })
    .strict()
    .superRefine(checkDistinctDestinations),
  z
    .object({ ...common, ...destinationFields, requestId: z.string().min(1).max(128).optional() })
    .strict()
    .superRefine((d, ctx) => {
      checkDestination(d, ctx);
      checkDialFirst(d.sessionId, [d], ctx);
    })
    .transform((flat) => {
      const [attempt, rest] = splitFields(flat, DESTINATION_KEYS);
      return { ...rest, attempts: [attempt] };
    }),
]);
export type TransferRequest = z.input<typeof TransferRequestSchema>;

/** Bad start input, with each problem named by its field path (`attempts.0.toEndPoint: …`). */
export class TransferInputError extends Error {
  public readonly name = 'TransferInputError';
  constructor(public readonly issues: Array<{ path: string; message: string }>) {
    super(`Invalid transfer input: ${issues.map((i) => `${i.path || '(input)'}: ${i.message}`).join('; ')}`);
  }
}

function issuesOf(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.flatMap((issue) => {
    // A union reports one branch's issues per alternative; name the closest one rather than "invalid input".
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const best = issue.errors.reduce((a, b) => (a.length <= b.length ? a : b));
      return best.map((i) => ({ path: [...issue.path, ...i.path].join('.'), message: i.message }));
    }
    return [{ path: issue.path.join('.'), message: issue.message }];
  });
}

function withoutUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Validates the workflow's input exactly (no shorthand, `requestId` required). */
export function parseTransferInput(raw: unknown): TransferInput {
  const parsed = TransferInputSchema.safeParse(raw);
  if (!parsed.success) throw new TransferInputError(issuesOf(parsed.error));
  return withoutUndefined(parsed.data);
}

/** Validates a client request and turns it into the workflow's input. */
export function parseTransferRequest(raw: unknown, newRequestId: () => string): TransferInput {
  const parsed = TransferRequestSchema.safeParse(raw);
  if (!parsed.success) throw new TransferInputError(issuesOf(parsed.error));
  return withoutUndefined({ ...parsed.data, requestId: parsed.data.requestId ?? newRequestId() });
}

// The zod schema and the dependency-free types in shared.ts must describe the same thing (checked both ways).
type Agree<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const inputTypesAgree: Agree<z.output<typeof TransferInputSchema>, TransferInput> = true;
void inputTypesAgree;
