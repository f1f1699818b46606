import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { SandboxStateError } from './calls';
import type { DestinationScenario, Fault, Sandbox, SandboxInfo, SandboxModel, WebhookFaults } from './types';
import { ENDPOINTS } from './types';

// Control bodies are validated strictly so that a typo (`afterMS`) is a 400 naming the field, not a silent default.
const ms = z.number().int().min(0);

const scenarioSchema: z.ZodType<DestinationScenario> = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('answer'), afterMs: ms, hangUpAfterMs: ms.optional() }),
  z.strictObject({ kind: z.literal('no-answer') }),
  z.strictObject({ kind: z.literal('busy'), afterMs: ms.optional() }),
  z.strictObject({ kind: z.literal('reject'), afterMs: ms.optional() }),
  z.strictObject({ kind: z.literal('caller-hangs-up'), afterMs: ms }),
  z.strictObject({ kind: z.literal('refer-accept'), afterMs: ms.optional() }),
  z.strictObject({ kind: z.literal('refer-reject'), afterMs: ms.optional() }),
  z.strictObject({ kind: z.literal('error'), afterMs: ms.optional(), errorMsg: z.string().min(1).optional() }),
]);

const faultSchema: z.ZodType<Fault> = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('server-error'), status: z.number().int().min(500).max(599).optional() }),
  z.strictObject({ kind: z.literal('rate-limit'), retryAfterSec: z.number().int().min(0).optional() }),
  z.strictObject({ kind: z.literal('lost-response') }),
  z.strictObject({ kind: z.literal('latency'), ms }),
  z.strictObject({ kind: z.literal('unreadable-ok') }),
  z.strictObject({ kind: z.literal('call-closed') }),
  z.strictObject({ kind: z.literal('dialout-already-started') }),
]);

const modelSchema: z.ZodType<Partial<SandboxModel>> = z.strictObject({
  failedTransferLeg: z.enum(['parked', 'dropped']).optional(),
  completedStatus: z.enum(['extended', 'docs']).optional(),
  okAsString: z.boolean().optional(),
  timestampAsString: z.boolean().optional(),
  ringingLegTransfer: z.enum(['retarget', 'refuse']).optional(),
  ejectOutsideRoom: z.enum(['ends', 'ignored']).optional(),
  presenceLagMs: ms.max(120_000).optional(),
});

const webhookFaultsSchema: z.ZodType<WebhookFaults> = z.strictObject({
  duplicate: z.number().int().min(0).max(10).optional(),
  reorder: z.boolean().optional(),
  reorderHoldMs: ms.optional(),
  delayMs: ms.optional(),
});

const roomBody = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 _ -'),
  sfu: z.boolean().optional(),
  maxSipPstnSessions: z.number().int().min(1).optional(),
});
const callerBody = z.strictObject({
  kind: z.enum(['dialin', 'dialout']).optional(),
  transport: z.enum(['sip', 'pstn']).optional(),
  sessionId: z.string().min(1).optional(),
  from: z.string().min(1).optional(),
});
const callerFailureBody = z.strictObject({ errorMsg: z.string().min(1).optional() });
const scenarioBody = z.strictObject({ toEndPoint: z.string().min(1), scenario: scenarioSchema });
const faultBody = z.strictObject({
  match: z.strictObject({ path: z.enum(ENDPOINTS), toEndPoint: z.string().min(1).optional() }),
  fault: faultSchema,
  times: z.number().int().min(1).optional(),
});
const requestsQuery = z.object({ path: z.string().optional(), room: z.string().optional() });
const dialOutsQuery = z.object({
  room: z.string().optional(),
  state: z.enum(['ringing', 'answered', 'stopped', 'error']).optional(),
});
const idleQuery = z.object({ timeoutMs: z.coerce.number().int().min(0).optional() });

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/** Runs a driver call, answering the sandbox's state errors with 404 (no such room or leg) or 409 (conflict). */
function stateful<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    if (err instanceof SandboxStateError) {
      const missing = err.code === 'unknown-room' || err.code === 'unknown-session';
      throw new ControlError(missing ? 404 : 409, err.message);
    }
    throw err;
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new ControlError(400, `${where}${issue?.message ?? 'invalid body'}`);
}

/**
 * `/_sandbox/*`: everything `Sandbox` offers, as JSON over HTTP, so a sandbox in another process (the local quick
 * start, a chaos run) can be driven. No auth: the sandbox listens on loopback only.
 */
export function registerControlApi(app: FastifyInstance, sandbox: Sandbox, info: () => SandboxInfo): void {
  void app.register(
    async (control) => {
      control.setErrorHandler((err: Error & { statusCode?: number }, _req, reply: FastifyReply) => {
        const status = err instanceof ControlError ? err.status : (err.statusCode ?? 500);
        return reply
          .code(status)
          .send({ error: status < 500 ? 'invalid-control-request' : 'sandbox-error', info: err.message });
      });

      control.get('/info', async () => info());

      control.post('/rooms', async (req) => {
        const body = parse(roomBody, req.body);
        const { name, ...opts } = body;
        return sandbox.createRoom(name, opts);
      });

      control.post<{ Params: { room: string } }>('/rooms/:room/callers', async (req) => {
        const body = parse(callerBody, req.body);
        return stateful(() => sandbox.addCaller(req.params.room, body));
      });

      control.post<{ Params: { room: string; sessionId: string } }>(
        '/rooms/:room/callers/:sessionId/fail',
        async (req) => {
          const body = parse(callerFailureBody, req.body);
          stateful(() => sandbox.failCaller(req.params.room, req.params.sessionId, body));
          return { ok: true };
        }
      );

      control.put('/scenarios', async (req) => {
        const body = parse(scenarioBody, req.body);
        sandbox.setScenario(body.toEndPoint, body.scenario);
        return { ok: true };
      });

      control.post('/faults', async (req) => {
        const body = parse(faultBody, req.body);
        sandbox.queueFault(body.match, body.fault, body.times);
        return { ok: true };
      });

      control.put('/webhook-faults', async (req) => {
        sandbox.setWebhookFaults(parse(webhookFaultsSchema, req.body));
        return { ok: true };
      });

      control.put('/model', async (req) => {
        sandbox.setModel(parse(modelSchema, req.body));
        return { ok: true };
      });

      control.get('/requests', async (req) => {
        const query = parse(requestsQuery, req.query);
        return sandbox.requests({
          ...(query.path && { path: query.path }),
          ...(query.room && { room: query.room }),
        });
      });

      control.get('/dialouts', async (req) => {
        const query = parse(dialOutsQuery, req.query);
        return sandbox.dialOuts({
          ...(query.room && { room: query.room }),
          ...(query.state && { state: query.state }),
        });
      });

      control.get('/events', async () => sandbox.emittedEvents());
      control.get('/deliveries', async () => sandbox.deliveries());
      control.get('/webhooks', async () => sandbox.webhooks());

      control.get<{ Params: { room: string; sessionId: string } }>('/participants/:room/:sessionId', async (req) => {
        const view = sandbox.participant(req.params.room, req.params.sessionId);
        if (!view) throw new ControlError(404, `no leg ${req.params.sessionId} in room ${req.params.room}`);
        return view;
      });

      control.post('/reset', async () => {
        sandbox.reset();
        return { ok: true };
      });

      control.get('/idle', async (req, reply) => {
        const { timeoutMs = 30_000 } = parse(idleQuery, req.query);
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        });
        const idle = await Promise.race([sandbox.idle().then(() => true as const), timedOut]);
        clearTimeout(timer);
        return idle
          ? { idle: true }
          : reply.code(503).send({ error: 'not-idle', info: `still busy after ${timeoutMs} ms` });
      });
    },
    { prefix: '/_sandbox' }
  );
}
