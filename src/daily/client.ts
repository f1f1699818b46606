import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Pool, type Dispatcher } from 'undici';
import type { z } from 'zod';
import {
  DailyInvalidResponseError,
  DailyNetworkError,
  DailyOutcomeUnknownError,
  DailyRoomHasNoSipUriError,
  errorFromReply,
  type DailyApiError,
} from './errors';
import {
  dialOutStartResponseSchema,
  errorBodySchema,
  ejectResponseSchema,
  okResponseSchema,
  roomPresenceSchema,
  roomSchema,
  webhookListSchema,
  webhookSchema,
  type DailyRoom,
  type DailyWebhook,
  type PresenceParticipant,
} from './schemas';

export const DEFAULT_DAILY_API_BASE = 'https://api.daily.co/v1';
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Daily's replies are small; anything bigger is not Daily's API and is not buffered. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Resolves to the registered tracer provider's, once tracing starts (`src/telemetry/tracing.ts`). */
const tracer = trace.getTracer('switchboard-daily');

export interface DailyClientOptions {
  apiKey: string;
  /** Default `https://api.daily.co/v1`; the sandbox's `apiBase` in tests and local runs. */
  baseUrl?: string;
  /** Deadline for a whole request (connect, send, response), default 10 s. */
  requestTimeoutMs?: number;
  /** Keep-alive connections to Daily (unlimited by default). Ignored with `dispatcher`. */
  connections?: number;
  /** Use this dispatcher instead of the client's own pool; the caller owns it and closes it. */
  dispatcher?: Dispatcher;
}

export interface SipCallTransferRequest {
  sessionId: string;
  /** A `sip:` URI or an E.164 number. */
  toEndPoint: string;
  /** Daily's purchased-number id shown to the callee; PSTN only. */
  callerId?: string;
  /** Digits dialled after the destination answers; PSTN only. */
  extension?: string;
  waitBeforeExtensionDialSec?: number;
}

export interface SipReferRequest {
  sessionId: string;
  /** A `sip:` URI. */
  toEndPoint: string;
}

interface DialOutOptions {
  /** Shown for the participant in the room. */
  displayName?: string;
  /** Max 36 characters. Daily puts it in the `dialout.*` events' `user_id`: the way to recognise a leg whose start reply was lost. */
  userId?: string;
  /** Daily's purchased-number id shown to the callee (the oldest purchased number when omitted). */
  callerId?: string;
  codecs?: { audio?: Array<'OPUS' | 'G722' | 'PCMU' | 'PCMA'>; video?: Array<'H264' | 'VP8'> };
}

/** dialOut/start's body: a SIP URI or a phone number, with the options that fit each. */
export type StartDialOutRequest = DialOutOptions &
  (
    | {
        sipUri: string;
        /** Sent as SIP headers on the INVITE (Daily's rule: URI parameters named `X-...`). Never put a phone number here. */
        sipHeaders?: Record<`X-${string}`, string>;
        video?: boolean;
        phoneNumber?: never;
      }
    | {
        /** E.164. */
        phoneNumber: string;
        /** Digits dialled once connected; 1–20 characters. */
        extension?: string;
        waitBeforeExtensionDialSec?: number;
        sipUri?: never;
      }
  );

export interface WebhookSettings {
  url: string;
  retryType?: 'circuit-breaker' | 'exponential';
  eventTypes?: string[];
  /** Base64 secret Daily signs deliveries with; Daily generates one when omitted. */
  hmac?: string;
  /** Daily then sends `Authorization: Basic <basicAuth>` with each delivery. */
  basicAuth?: string;
}

interface Reply {
  status: number;
  retryAfter?: string;
  body: Buffer;
}

type Method = 'GET' | 'POST';

/** Internal markers for the aborts the client causes itself, told apart by identity in the error callback. */
class DeadlineExceeded extends Error {}
class ResponseTooLarge extends Error {}

/**
 * Daily's REST API over an undici keep-alive pool. Every failure is a typed `DailyApiError`; the client never
 * retries (the caller owns the retry policy) and never puts the API key in an error.
 */
export class DailyClient {
  readonly #apiKey: string;
  readonly #origin: string;
  readonly #basePath: string;
  readonly #timeoutMs: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownedPool?: Pool;

  constructor(options: DailyClientOptions) {
    if (typeof options.apiKey !== 'string' || !/^[\x21-\x7e]+$/.test(options.apiKey)) {
      // The key itself stays out of the message.
      throw new TypeError('DailyClient: apiKey must be a non-empty string of printable ASCII without spaces');
    }
    const base = new URL(options.baseUrl ?? DEFAULT_DAILY_API_BASE);
    if (base.protocol !== 'https:' && base.protocol !== 'http:') {
      throw new TypeError(`DailyClient: baseUrl must be http(s), got ${base.protocol}`);
    }
    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new TypeError('DailyClient: requestTimeoutMs must be a positive number');
    }
    this.#apiKey = options.apiKey;
    this.#origin = base.origin;
    this.#basePath = base.pathname.replace(/\/+$/, '');
    this.#timeoutMs = timeoutMs;
    if (options.dispatcher) {
      this.#dispatcher = options.dispatcher;
    } else {
      this.#ownedPool = new Pool(base.origin, {
        connections: options.connections,
        connect: { timeout: timeoutMs },
      });
      this.#dispatcher = this.#ownedPool;
    }
  }

  /** Moves a SIP/PSTN participant to another room, SIP URI or number; Daily stays in the media path. */
  async sipCallTransfer(room: string, request: SipCallTransferRequest): Promise<void> {
    const body = {
      sessionId: request.sessionId,
      toEndPoint: request.toEndPoint,
      callerId: request.callerId,
      extension: request.extension,
      waitBeforeExtensionDialSec: request.waitBeforeExtensionDialSec,
    };
    await this.#json('POST', `/rooms/${encodeURIComponent(room)}/sipCallTransfer`, okResponseSchema, body);
  }

  /** Sends a SIP REFER so the originating system connects the caller to `toEndPoint` itself. */
  async sipRefer(room: string, request: SipReferRequest): Promise<void> {
    const body = { sessionId: request.sessionId, toEndPoint: request.toEndPoint };
    await this.#json('POST', `/rooms/${encodeURIComponent(room)}/sipRefer`, okResponseSchema, body);
  }

  /**
   * Dials a SIP URI or phone number into the room; resolves with the new leg's session id. NOT idempotent: every
   * accepted request dials a new leg (Daily takes no idempotency key), so after an unknown outcome the caller must
   * look for the leg (by the `userId` in `dialout.*` events) rather than send it again.
   */
  async startDialOut(room: string, request: StartDialOutRequest): Promise<{ sessionId: string }> {
    const { sipHeaders, ...body } = request as StartDialOutRequest & { sipHeaders?: Record<string, string> };
    if (body.sipUri !== undefined && sipHeaders) body.sipUri = withSipHeaders(body.sipUri, sipHeaders);
    const reply = await this.#json(
      'POST',
      `/rooms/${encodeURIComponent(room)}/dialOut/start`,
      dialOutStartResponseSchema,
      body
    );
    return { sessionId: reply.sessionId };
  }

  /**
   * Hangs up a dial-out, ringing or answered. Idempotent in effect: stopping a leg that already ended changes nothing
   * and Daily answers 404 "No dialout to stop" (`DailyDialOutNotRunningError`), so it is safe to send again after an
   * unknown outcome — which is what lets a crashed orchestrator make sure no leg it started is left ringing.
   */
  async stopDialOut(room: string, sessionId: string): Promise<void> {
    await this.#send('POST', `/rooms/${encodeURIComponent(room)}/dialOut/stop`, { sessionId });
  }

  /** Who is in the room now; `id` is each participant's session id. Daily's data may lag by up to ~15 s. */
  async getRoomPresence(room: string): Promise<PresenceParticipant[]> {
    const path = `/rooms/${encodeURIComponent(room)}/presence`;
    const first = await this.#json('GET', path, roomPresenceSchema);
    if (first.total_count === undefined || first.total_count <= first.data.length) return first.data;
    // Daily does not document its default page size: when it counted more than it returned, ask for all of them.
    const all = await this.#json('GET', path, roomPresenceSchema, undefined, { limit: String(first.total_count) });
    return all.data;
  }

  async getRoom(room: string): Promise<DailyRoom> {
    return this.#json('GET', `/rooms/${encodeURIComponent(room)}`, roomSchema);
  }

  /** The room's SIP dial-in address (`config.sip_uri.endpoint`, a full `sip:` URI). */
  async getRoomSipUri(room: string): Promise<string> {
    const config = await this.getRoom(room);
    const endpoint = config.config?.sip_uri?.endpoint;
    if (!endpoint) throw new DailyRoomHasNoSipUriError({ endpoint: `GET /rooms/${encodeURIComponent(room)}` });
    return endpoint;
  }

  /** Removes participants (by session id) from the room: for SIP/PSTN legs, this hangs up. */
  /**
   * Ends the given sessions. Resolves with the ids Daily says it ended when its reply lists them (`{"ejected": [...]}`),
   * undefined when it does not: the reply is not documented, so any 2xx counts as done and the list only refines it.
   */
  async ejectParticipants(room: string, sessionIds: string[]): Promise<string[] | undefined> {
    const reply = await this.#send('POST', `/rooms/${encodeURIComponent(room)}/eject`, { ids: sessionIds });
    const parsed = ejectResponseSchema.safeParse(parseJsonOrUndefined(reply.body));
    return parsed.success ? parsed.data.ejected : undefined;
  }

  /** Daily allows one webhook per domain, so this holds at most one today. */
  async listWebhooks(): Promise<DailyWebhook[]> {
    return this.#json('GET', '/webhooks', webhookListSchema);
  }

  async getWebhook(uuid: string): Promise<DailyWebhook> {
    return this.#json('GET', `/webhooks/${encodeURIComponent(uuid)}`, webhookSchema);
  }

  /** Daily first POSTs `{"test":"test"}` to `url` and fails with 400 unless it answers 200 within a few seconds. */
  async createWebhook(settings: WebhookSettings): Promise<DailyWebhook> {
    return this.#json('POST', '/webhooks', webhookSchema, settings);
  }

  /** Updates the webhook and re-activates it when it is `FAILED` (Daily repeats the test request). */
  async updateWebhook(uuid: string, settings: Partial<WebhookSettings>): Promise<DailyWebhook> {
    return this.#json('POST', `/webhooks/${encodeURIComponent(uuid)}`, webhookSchema, settings);
  }

  /** Closes the client's own pool once in-flight requests finish; an injected dispatcher is left to its owner. */
  async close(): Promise<void> {
    await this.#ownedPool?.close();
  }

  async #json<S extends z.ZodType>(
    method: Method,
    path: string,
    schema: S,
    body?: unknown,
    query?: Record<string, string>
  ): Promise<z.output<S>> {
    const endpoint = `${method} ${path}`;
    const reply = await this.#send(method, path, body, query);
    let parsed: unknown;
    try {
      parsed = JSON.parse(reply.body.toString('utf8'));
    } catch {
      throw new DailyInvalidResponseError('body is not JSON', { endpoint, status: reply.status });
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
      // Issue paths and messages only: zod does not echo values, and bodies may hold secrets (webhook hmac).
      const issues = result.error.issues
        .slice(0, 3)
        .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
        .join('; ');
      throw new DailyInvalidResponseError(this.#redact(issues), { endpoint, status: reply.status });
    }
    return result.data;
  }

  /**
   * One request; resolves with any 2xx reply, rejects with a typed error for everything else. Traced as a client
   * span (a no-op unless tracing is on) named by its route: never the body or Daily's error text, which can hold
   * destinations (phone numbers, SIP URIs).
   */
  async #send(method: Method, path: string, body?: unknown, query?: Record<string, string>): Promise<Reply> {
    const route = path.replace(/^\/(rooms|webhooks)\/[^/]+/, '/$1/{id}');
    const attributes = { 'http.request.method': method, 'url.template': route };
    return tracer.startActiveSpan(`Daily ${method} ${route}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      try {
        const endpoint = `${method} ${path}`;
        const reply = await this.#dispatch(method, path, endpoint, body, query);
        span.setAttribute('http.response.status_code', reply.status);
        if (reply.status >= 200 && reply.status < 300) return reply;
        const errorBody = parseErrorBody(reply.body);
        throw errorFromReply({
          endpoint,
          status: reply.status,
          code: errorBody.error === undefined ? undefined : this.#redact(errorBody.error),
          info: errorBody.info === undefined ? undefined : this.#redact(errorBody.info),
          retryAfterMs: reply.status === 429 ? parseRetryAfter(reply.retryAfter) : undefined,
        });
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  /**
   * Sends the request through undici's dispatch API rather than `request()` to learn whether the request reached a
   * socket: undici calls `onRequestStart` on a connected socket right before writing the request. A failure before
   * that point means the request was never sent (safe to retry); after it, Daily may have acted on it.
   */
  #dispatch(
    method: Method,
    path: string,
    endpoint: string,
    body: unknown,
    query: Record<string, string> | undefined
  ): Promise<Reply> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#apiKey}`,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const search = query ? `?${new URLSearchParams(query).toString()}` : '';

    return new Promise<Reply>((resolve, reject) => {
      const deadline = new DeadlineExceeded();
      const tooLarge = new ResponseTooLarge();
      let written = false;
      let deadlinePassed = false;
      let settled = false;
      let abort: ((reason: Error) => void) | undefined;
      let status: number | undefined;
      let retryAfter: string | undefined;
      const chunks: Buffer[] = [];
      let received = 0;

      const fail = (error: DailyApiError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(() => {
        deadlinePassed = true;
        if (written) abort?.(deadline);
        else fail(new DailyNetworkError(`not connected within ${this.#timeoutMs} ms`, { endpoint }));
      }, this.#timeoutMs);

      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (controller) => {
          abort = (reason) => controller.abort(reason);
          // Past the deadline the caller has been told "not sent": make sure it stays true.
          if (deadlinePassed) controller.abort(deadline);
          else written = true;
        },
        onResponseStart: (_controller, statusCode, responseHeaders) => {
          // 1xx informational responses come through here too; only the final one counts.
          if (statusCode < 200) return;
          status = statusCode;
          const value = responseHeaders['retry-after'];
          retryAfter = Array.isArray(value) ? value[0] : value;
        },
        onResponseData: (controller, chunk) => {
          received += chunk.length;
          if (received > MAX_RESPONSE_BYTES) controller.abort(tooLarge);
          else chunks.push(chunk);
        },
        onResponseEnd: () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (status === undefined) {
            reject(new DailyInvalidResponseError('no final status', { endpoint }));
            return;
          }
          resolve({ status, retryAfter, body: Buffer.concat(chunks) });
        },
        onResponseError: (_controller, error) => {
          if (error === tooLarge) {
            fail(new DailyInvalidResponseError(`body over ${MAX_RESPONSE_BYTES} bytes`, { endpoint, status }));
          } else if (error === deadline) {
            fail(new DailyOutcomeUnknownError(`no response within ${this.#timeoutMs} ms`, { endpoint, status }));
          } else if (!written) {
            fail(new DailyNetworkError(this.#describeTransport(error), { endpoint, cause: this.#safeCause(error) }));
          } else {
            fail(
              new DailyOutcomeUnknownError(this.#describeTransport(error), {
                endpoint,
                status,
                cause: this.#safeCause(error),
              })
            );
          }
        },
      };

      try {
        this.#dispatcher.dispatch(
          { origin: this.#origin, path: `${this.#basePath}${path}${search}`, method, headers, body: encode(body) },
          handler
        );
      } catch (error) {
        // A synchronous throw (closed pool, invalid option) happens before anything is written.
        fail(new DailyNetworkError(this.#describeTransport(error), { endpoint, cause: this.#safeCause(error) }));
      }
    });
  }

  #describeTransport(error: unknown): string {
    const code = errorCode(error);
    const message = error instanceof Error ? error.message : String(error);
    return this.#redact(code && !message.includes(code) ? `${code}: ${message}` : message);
  }

  /**
   * undici's errors carry no request headers today, but the client does not rely on that: the cause is a fresh
   * error with only the name, code and redacted message of the original.
   */
  #safeCause(error: unknown): Error | undefined {
    if (!(error instanceof Error)) return undefined;
    const copy = new Error(this.#redact(error.message));
    copy.name = error.name;
    copy.stack = `${copy.name}: ${copy.message}`;
    const code = errorCode(error);
    return code ? Object.assign(copy, { code }) : copy;
  }

  #redact(text: string): string {
    return text.split(this.#apiKey).join('[redacted]');
  }
}

/** Appends SIP headers to a SIP URI as its `?X-Name=value&...` parameters, the way Daily passes them on. */
export function withSipHeaders(sipUri: string, headers: Record<string, string>): string {
  const params = Object.entries(headers).map(([name, value]) => `${name}=${encodeURIComponent(value)}`);
  if (params.length === 0) return sipUri;
  return `${sipUri}${sipUri.includes('?') ? '&' : '?'}${params.join('&')}`;
}

function encode(body: unknown): string | undefined {
  return body === undefined ? undefined : JSON.stringify(body);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function parseJsonOrUndefined(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function parseErrorBody(body: Buffer): z.output<typeof errorBodySchema> {
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(body.toString('utf8')));
    return parsed.success ? parsed.data : {};
  } catch {
    // Proxies and load balancers answer with HTML or plain text; the status alone then decides.
    return {};
  }
}

/** `Retry-After` as delay-seconds or an HTTP-date, in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // All three HTTP-date forms start with a day name; V8's Date.parse would also accept junk like "-1".
  const date = /^[a-z]{3}/i.test(trimmed) ? Date.parse(trimmed) : NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
