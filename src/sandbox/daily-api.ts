import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { TransferMethod } from '../shared';
import type { Calls, Room } from './calls';
import type { DialOuts } from './dial-out';
import type { FaultQueue } from './faults';
import type { RequestLog } from './request-log';
import { ENDPOINTS } from './types';
import type { Endpoint, Fault, SandboxModel } from './types';
import type { WebhookRegistry } from './webhooks';

export interface DailyApiDeps {
  apiKey: string;
  calls: Calls;
  dialOuts: DialOuts;
  registry: WebhookRegistry;
  faults: FaultQueue;
  requests: RequestLog;
  model: () => SandboxModel;
  log: (line: string) => void;
}

interface ApiReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function apiError(status: number, error: string, info: string): ApiReply {
  return { status, body: { error, info } };
}

// ---------------------------------------------------------------------------------------------------------------
// Request bodies, validated the way Daily does (reference §2, §3, §6); `info` names the offending field.
// ---------------------------------------------------------------------------------------------------------------

const isSipUri = (s: string): boolean => /^sips?:\S+$/i.test(s);
const isE164 = (s: string): boolean => /^\+[1-9]\d{1,14}$/.test(s);
/** What the sandbox's `POST /v1/webhooks` accepts as an `hmac`. */
export const isBase64 = (s: string): boolean => s.length > 0 && s.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(s);
const isHttpUrl = (s: string): boolean => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol);

const requiredString = z.string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') });
const sessionId = requiredString.min(1, 'must not be empty');

const callTransferBody = z
  .object({
    sessionId,
    toEndPoint: requiredString.refine(
      (s) => isSipUri(s) || isE164(s),
      'must be a sip: URI or an E.164 phone number (+15551230000)'
    ),
    callerId: z.string().min(1).optional(),
    extension: z.string().min(1, 'must be 1-20 characters').max(20, 'must be 1-20 characters').optional(),
    waitBeforeExtensionDialSec: z.number().int().min(0, 'must be 0-60').max(60, 'must be 0-60').optional(),
  })
  .superRefine((body, ctx) => {
    if (!isSipUri(body.toEndPoint)) return;
    for (const field of ['callerId', 'extension'] as const) {
      if (body[field] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: 'is only valid for a PSTN (E.164) destination' });
      }
    }
  });

const referBody = z.object({
  sessionId,
  toEndPoint: requiredString.refine(isSipUri, 'must be a sip: URI (sipRefer cannot dial a phone number)'),
});

/** `sip:user@host?X-Name=value&...`: Daily turns the query parameters into SIP headers, which must start with X-. */
const hasOnlyXHeaders = (uri: string): boolean => {
  const query = uri.split('?')[1];
  return query === undefined || query.split('&').every((param) => /^X-[^=]+=/i.test(param));
};

const dialOutStartBody = z
  .object({
    sipUri: z
      .string()
      .refine(isSipUri, 'must be a sip: URI')
      .refine(hasOnlyXHeaders, 'header parameters (after ?) must be X-Name=value')
      .optional(),
    phoneNumber: z.string().refine(isE164, 'must be an E.164 phone number (+15551230000)').optional(),
    extension: z.string().min(1, 'must be 1-20 characters').max(20, 'must be 1-20 characters').optional(),
    waitBeforeExtensionDialSec: z.number().int().min(0, 'must be 0-60').max(60, 'must be 0-60').optional(),
    displayName: z.string().min(1).optional(),
    userId: z.string().min(1).max(36, 'must be at most 36 characters').optional(),
    callerId: z.string().min(1).optional(),
    video: z.boolean().optional(),
    videoSettings: z.record(z.string(), z.unknown()).optional(),
    codecs: z
      .object({
        audio: z.array(z.enum(['OPUS', 'G722', 'PCMU', 'PCMA'])).optional(),
        video: z.array(z.enum(['H264', 'VP8'])).optional(),
      })
      .optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.sipUri === undefined) === (body.phoneNumber === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['sipUri'], message: 'exactly one of sipUri or phoneNumber is required' });
      return;
    }
    const onlyFor =
      body.sipUri === undefined
        ? (['video', 'videoSettings'] as const)
        : (['extension', 'waitBeforeExtensionDialSec'] as const);
    for (const field of onlyFor) {
      if (body[field] !== undefined) {
        const valid = body.sipUri === undefined ? 'sipUri' : 'phoneNumber';
        ctx.addIssue({ code: 'custom', path: [field], message: `is only valid with ${valid}` });
      }
    }
  });

const dialOutStopBody = z.object({ sessionId });

const sendDtmfBody = z.object({
  sessionId,
  tones: requiredString.regex(/^[0-9A-Da-d*#]+$/, 'must be DTMF tones: 0-9, *, #, A-D'),
});

const ejectBody = z.object({
  ids: z.array(z.string().min(1), { error: 'must be an array of session ids' }).min(1, 'must not be empty'),
});

const webhookFields = {
  retryType: z.enum(['circuit-breaker', 'exponential']).optional(),
  eventTypes: z.array(z.string().min(1)).optional(),
  hmac: z.string().refine(isBase64, 'must be a base64 string').optional(),
  basicAuth: z.string().optional(),
};
const webhookCreateBody = z.object({
  url: requiredString.refine(isHttpUrl, 'must be an http(s) URL'),
  ...webhookFields,
});
const webhookUpdateBody = z.object({
  url: z.string().refine(isHttpUrl, 'must be an http(s) URL').optional(),
  ...webhookFields,
});

type Parsed<T> = { ok: true; value: T } | { ok: false; reply: ApiReply };

function parse<T>(schema: z.ZodType<T>, body: unknown): Parsed<T> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, reply: apiError(400, 'invalid-request-error', 'request body must be a JSON object') };
  }
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  const info = issue ? `${issue.path.join('.')}: ${issue.message}`.replace(/^: /, '') : 'invalid request';
  return { ok: false, reply: apiError(400, 'invalid-request-error', info) };
}

// ---------------------------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------------------------

function pathOf(req: FastifyRequest): string {
  return req.url.split('?')[0] ?? req.url;
}

const ROOM_ENDPOINTS: ReadonlySet<string> = new Set(ENDPOINTS.filter((e) => e !== 'room' && e !== 'webhooks'));

function endpointOf(path: string): Endpoint | undefined {
  if (/^\/v1\/webhooks(\/[^/]+)?\/?$/.test(path)) return 'webhooks';
  const match = /^\/v1\/rooms\/[^/]+(\/[^/]+(?:\/[^/]+)?)?\/?$/.exec(path);
  if (!match) return undefined;
  const sub = match[1]?.slice(1);
  if (sub === undefined) return 'room';
  return ROOM_ENDPOINTS.has(sub) ? (sub as Endpoint) : undefined;
}

/**
 * The destination a request names, for faults queued for one destination: a transfer's `toEndPoint`, a dial-out's
 * `sipUri` (without its header parameters) or `phoneNumber`.
 */
function toEndPointOf(body: unknown): string | undefined {
  const fields = body as { toEndPoint?: unknown; sipUri?: unknown; phoneNumber?: unknown } | null | undefined;
  const named = [fields?.toEndPoint, fields?.sipUri, fields?.phoneNumber].find((v) => typeof v === 'string');
  return typeof named === 'string' ? named.split('?')[0] : undefined;
}

function roomOf(path: string): string | undefined {
  const segment = /^\/v1\/rooms\/([^/]+)/.exec(path)?.[1];
  return segment === undefined ? undefined : decodeURIComponent(segment);
}

/** Daily's REST surface under /v1: rooms, presence, the transfer endpoints, eject and webhooks. */
export function registerDailyApi(app: FastifyInstance, deps: DailyApiDeps): void {
  const record = (req: FastifyRequest, status: number, faulted?: Fault['kind']): void => {
    const path = pathOf(req);
    const endpoint = endpointOf(path);
    // The Authorization header is never recorded: only method, path and body.
    deps.requests.add({
      method: req.method,
      path,
      ...(endpoint && { endpoint }),
      ...(roomOf(path) !== undefined && { room: roomOf(path) }),
      body: req.body,
      at: Date.now(),
      status,
      ...(faulted && { faulted }),
    });
    deps.log(
      `${req.method} ${path} -> ${faulted === 'lost-response' ? 'lost' : status}${faulted ? ` (${faulted})` : ''}`
    );
  };

  const send = (reply: FastifyReply, result: ApiReply): FastifyReply =>
    reply
      .code(result.status)
      .headers(result.headers ?? {})
      .send(result.body);

  /** Applies the next queued fault for the endpoint around `handler`, records the request and answers. */
  const serve = async (
    req: FastifyRequest,
    reply: FastifyReply,
    handler: () => ApiReply | Promise<ApiReply>
  ): Promise<FastifyReply> => {
    const endpoint = endpointOf(pathOf(req));
    const fault = endpoint && deps.faults.take(endpoint, toEndPointOf(req.body));
    let result: ApiReply;
    switch (fault?.kind) {
      case 'server-error':
        result = apiError(fault.status ?? 500, 'server-error', 'sandbox: injected server error');
        break;
      case 'rate-limit':
        result = apiError(429, 'rate-limit-error', 'Too many requests');
        if (fault.retryAfterSec !== undefined) result.headers = { 'retry-after': String(fault.retryAfterSec) };
        break;
      case 'call-closed':
        result = apiError(400, 'invalid-request-error', 'Call closed before command could be delivered');
        break;
      case 'dialout-already-started':
        result = apiError(400, 'invalid-request-error', 'dialOut already started');
        break;
      default:
        result = await handler();
    }
    if (fault?.kind === 'unreadable-ok' && result.status < 300) {
      result = {
        status: result.status,
        body: '<html><body>OK</body></html>',
        headers: { 'content-type': 'text/html' },
      };
    }
    record(req, result.status, fault?.kind);
    if (fault?.kind === 'lost-response') {
      // The request took effect; the client never learns it.
      reply.hijack();
      req.raw.socket.destroy();
      return reply;
    }
    if (fault?.kind === 'latency') await sleep(fault.ms);
    return send(reply, result);
  };

  const ok = (extra: Record<string, unknown> = {}): ApiReply => ({
    status: 200,
    body: { ok: deps.model().okAsString ? 'true' : true, ...extra },
  });
  const notHosting = (): ApiReply => apiError(404, 'not-found', 'Room is not hosting a call');
  const roomNotFound = (name: string): ApiReply => apiError(404, 'not-found', `room ${name} not found`);

  const transfer = (method: TransferMethod, roomName: string, body: unknown): ApiReply => {
    const parsed = method === 'sipRefer' ? parse(referBody, body) : parse(callTransferBody, body);
    if (!parsed.ok) return parsed.reply;
    switch (deps.calls.transfer(roomName, method, parsed.value.sessionId, parsed.value.toEndPoint)) {
      case 'accepted':
        return ok();
      case 'not-hosting':
        return notHosting();
      case 'not-sfu':
        return apiError(400, 'invalid-request-error', 'Room not in SFU mode');
      case 'invalid-session':
        return apiError(404, 'not-found', 'invalid sessionId');
    }
  };

  void app.register(
    async (v1) => {
      v1.addHook('onRequest', async (req, reply) => {
        const header = req.headers.authorization;
        const token = header && /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
        if (token === deps.apiKey) return;
        const result = token
          ? apiError(401, 'authentication-error', 'Invalid API key')
          : apiError(
              400,
              'authorization-header-error',
              'Authorization header missing or malformed: expected Bearer <key>'
            );
        record(req, result.status);
        return send(reply, result);
      });

      v1.setErrorHandler((err: FastifyError, req, reply) => {
        const status = err.statusCode ?? 500;
        const result =
          err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
            ? apiError(400, 'json-parsing-error', err.message)
            : status < 500
              ? apiError(status, 'invalid-request-error', err.message)
              : apiError(500, 'server-error', 'internal sandbox error');
        if (status >= 500) deps.log(`internal error on ${req.method} ${pathOf(req)}: ${err.stack ?? err.message}`);
        record(req, result.status);
        return send(reply, result);
      });

      v1.setNotFoundHandler((req, reply) => {
        const result = apiError(404, 'not-found', `no such endpoint: ${req.method} ${pathOf(req)}`);
        record(req, result.status);
        return send(reply, result);
      });

      v1.get<{ Params: { name: string } }>('/rooms/:name', (req, reply) =>
        serve(req, reply, () => {
          const room = deps.calls.room(req.params.name);
          return room ? { status: 200, body: roomObject(room) } : roomNotFound(req.params.name);
        })
      );

      v1.get<{ Params: { name: string }; Querystring: { limit?: string; userId?: string; userName?: string } }>(
        '/rooms/:name/presence',
        (req, reply) =>
          serve(req, reply, () => {
            const room = deps.calls.room(req.params.name);
            if (!room) return roomNotFound(req.params.name);
            const { limit, userId, userName } = req.query;
            // With a lag, presence answers from a snapshot that old, durations included.
            const asOf = Date.now() - deps.model().presenceLagMs;
            const data = deps.calls
              .presence(room.name, asOf)
              // Daily sets user_id to the session id for SIP/PSTN legs, and user_name to what they dialled from.
              .filter(
                (leg) =>
                  (userId === undefined || leg.sessionId === userId) &&
                  (userName === undefined || leg.from === userName)
              )
              .slice(0, /^\d+$/.test(limit ?? '') ? Number(limit) : undefined)
              .map((leg) => ({
                room: room.name,
                id: leg.sessionId,
                userId: leg.sessionId,
                userName: leg.from,
                mtgSessionId: room.mtgSessionId,
                joinTime: new Date(leg.joinedAtMs).toISOString(),
                duration: Math.floor((asOf - leg.joinedAtMs) / 1000),
              }));
            return { status: 200, body: { total_count: data.length, data } };
          })
      );

      v1.post<{ Params: { name: string } }>('/rooms/:name/sipCallTransfer', (req, reply) =>
        serve(req, reply, () => transfer('sipCallTransfer', req.params.name, req.body))
      );

      v1.post<{ Params: { name: string } }>('/rooms/:name/sipRefer', (req, reply) =>
        serve(req, reply, () => transfer('sipRefer', req.params.name, req.body))
      );

      v1.post<{ Params: { name: string } }>('/rooms/:name/dialOut/start', (req, reply) =>
        serve(req, reply, () => {
          const parsed = parse(dialOutStartBody, req.body);
          if (!parsed.ok) return parsed.reply;
          const started = deps.dialOuts.start(req.params.name, parsed.value);
          switch (started.verdict) {
            case 'accepted':
              return ok({ sessionId: started.sessionId });
            case 'not-hosting':
              return notHosting();
            case 'session-limit':
              return apiError(
                400,
                'invalid-request-error',
                `max_sip_pstn_sessions_per_room (${started.max}) reached for this room`
              );
          }
        })
      );

      v1.post<{ Params: { name: string } }>('/rooms/:name/dialOut/stop', (req, reply) =>
        serve(req, reply, () => {
          const parsed = parse(dialOutStopBody, req.body);
          if (!parsed.ok) return parsed.reply;
          switch (deps.dialOuts.stop(req.params.name, parsed.value.sessionId)) {
            case 'stopped':
              return ok();
            case 'not-hosting':
              return notHosting();
            case 'not-sfu':
              return apiError(400, 'invalid-request-error', 'Room not in SFU mode');
            case 'no-dialout':
              return apiError(404, 'not-found', 'No dialout to stop');
          }
        })
      );

      v1.post<{ Params: { name: string } }>('/rooms/:name/dialOut/sendDTMF', (req, reply) =>
        serve(req, reply, () => {
          const parsed = parse(sendDtmfBody, req.body);
          if (!parsed.ok) return parsed.reply;
          switch (deps.dialOuts.sendDtmf(req.params.name, parsed.value.sessionId)) {
            case 'sent':
              return ok();
            case 'not-hosting':
              return notHosting();
            case 'no-session':
              return apiError(404, 'not-found', 'No session running');
          }
        })
      );

      v1.post<{ Params: { name: string } }>('/rooms/:name/eject', (req, reply) =>
        serve(req, reply, () => {
          const parsed = parse(ejectBody, req.body);
          if (!parsed.ok) return parsed.reply;
          const ejected = deps.calls.eject(req.params.name, parsed.value.ids);
          return ejected ? { status: 200, body: { ejected } } : roomNotFound(req.params.name);
        })
      );

      v1.get('/webhooks', (req, reply) => serve(req, reply, () => ({ status: 200, body: deps.registry.list() })));

      v1.post('/webhooks', (req, reply) =>
        serve(req, reply, async () => {
          const parsed = parse(webhookCreateBody, req.body);
          if (!parsed.ok) return parsed.reply;
          const result = await deps.registry.create(parsed.value);
          return 'error' in result
            ? apiError(400, 'invalid-request-error', result.error)
            : { status: 200, body: result.webhook };
        })
      );

      v1.get<{ Params: { uuid: string } }>('/webhooks/:uuid', (req, reply) =>
        serve(req, reply, () => {
          const webhook = deps.registry.get(req.params.uuid);
          return webhook ? { status: 200, body: webhook } : webhookNotFound(req.params.uuid);
        })
      );

      v1.post<{ Params: { uuid: string } }>('/webhooks/:uuid', (req, reply) =>
        serve(req, reply, async () => {
          const parsed = parse(webhookUpdateBody, req.body ?? {});
          if (!parsed.ok) return parsed.reply;
          const result = await deps.registry.update(req.params.uuid, parsed.value);
          if (!result) return webhookNotFound(req.params.uuid);
          return 'error' in result
            ? apiError(400, 'invalid-request-error', result.error)
            : { status: 200, body: result.webhook };
        })
      );

      v1.delete<{ Params: { uuid: string } }>('/webhooks/:uuid', (req, reply) =>
        serve(req, reply, () =>
          deps.registry.delete(req.params.uuid)
            ? { status: 200, body: { deleted: true, uuid: req.params.uuid } }
            : webhookNotFound(req.params.uuid)
        )
      );
    },
    { prefix: '/v1' }
  );
}

function webhookNotFound(uuid: string): ApiReply {
  return apiError(404, 'not-found', `webhook ${uuid} not found`);
}

function roomObject(room: Room): Record<string, unknown> {
  return {
    id: room.id,
    name: room.name,
    api_created: true,
    privacy: 'private',
    url: `https://sandbox.daily.co/${room.name}`,
    created_at: room.createdAt,
    config: {
      sip: { sip_mode: 'dial-in', display_name: room.name, video: false, num_endpoints: 1 },
      sip_uri: { endpoint: room.sipUri },
    },
  };
}
