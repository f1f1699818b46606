import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { DailyEvent } from '../shared';
import { dailyEventSignal, transferWorkflowId } from '../shared';
import { parseDailyWebhook } from './daily-event';
import type { RelayMetrics } from './metrics';
import { createRelayMetrics } from './metrics';
import type { WebhookSecrets } from './webhook-auth';
import { createWebhookAuthenticator } from './webhook-auth';

export const WEBHOOK_PATH = '/webhooks/daily';

/** The part of a Temporal `Client` the relay uses; a real `Client` fits. */
export interface SignalClient {
  workflow: {
    getHandle(workflowId: string): { signal(def: typeof dailyEventSignal, event: DailyEvent): Promise<void> };
  };
  withDeadline<R>(deadline: number | Date, fn: () => Promise<R>): Promise<R>;
}

export interface RelayDeps {
  temporal: SignalClient;
  secrets: WebhookSecrets;
  /** Backs `/readyz`: whether Temporal answers right now. */
  isTemporalReady: () => Promise<boolean>;
  /** How far `X-Webhook-Timestamp` may be from now. Default 300 s. */
  timestampToleranceSec?: number;
  /** Daily's transfer events are well under 2 KiB. Default 64 KiB. */
  bodyLimitBytes?: number;
  /**
   * How long a signal may take before the relay gives up and answers 503. Daily wants an answer within a few
   * seconds and counts a slow one as a failure anyway; without a deadline the client's own retries run ~30 s.
   * Default 3000 ms.
   */
  signalTimeoutMs?: number;
  /** A pino logger; silent when omitted. */
  logger?: FastifyBaseLogger;
  metrics?: RelayMetrics;
}

type Outcome = 'verification' | 'signaled' | 'unmatched' | 'ignored';

/** Daily POSTs this when a webhook is created or re-activated and wants a quick 200; it may be unsigned. */
function isVerificationRequest(body: unknown): boolean {
  return (
    typeof body === 'object' &&
    body !== null &&
    Object.keys(body).length === 1 &&
    (body as Record<string, unknown>).test === 'test'
  );
}

function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

function domainIdOf(body: unknown): string | undefined {
  const payload = typeof body === 'object' && body !== null ? (body as { payload?: unknown }).payload : undefined;
  const domainId =
    typeof payload === 'object' && payload !== null ? (payload as { domain_id?: unknown }).domain_id : undefined;
  return typeof domainId === 'string' ? domainId : undefined;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The relay: Daily's webhooks in, Temporal signals out. Returns the app built but not listening (`main.ts` listens;
 * tests `inject` or listen on port 0).
 */
export function createRelay(deps: RelayDeps): FastifyInstance {
  const metrics = deps.metrics ?? createRelayMetrics();
  const authenticate = createWebhookAuthenticator(deps.secrets, deps.timestampToleranceSec ?? 300);
  const signalTimeoutMs = deps.signalTimeoutMs ?? 3000;
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimitBytes ?? 64 * 1024,
    // Webhook outcomes are logged below; per-request lines for probes and scrapes would drown them.
    logController: new LogController({ disableRequestLogging: true }),
  });

  const reject = (reply: FastifyReply, status: number, reason: string, message: string) => {
    metrics.rejected.inc({ reason });
    return reply.code(status).send({ error: reason, message });
  };
  const accept = (reply: FastifyReply, outcome: Outcome) => reply.code(200).send({ ok: true, outcome });

  app.setErrorHandler((err: { statusCode?: number; message: string }, request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) request.log.error({ err }, 'relay error');
    if (request.url.split('?')[0] !== WEBHOOK_PATH) {
      return reply.code(status).send({ error: 'error', message: status >= 500 ? 'internal error' : err.message });
    }
    // Fastify's own rejections of webhook deliveries (size, framing) are counted with the relay's.
    const reason = status === 413 ? 'body_too_large' : status >= 500 ? 'internal_error' : 'bad_request';
    return reject(reply, status, reason, status >= 500 ? 'internal error' : err.message);
  });

  // Fastify answers 404 for a known path with an unknown method; HTTP says 405 with the methods that work.
  app.setNotFoundHandler((request, reply) => {
    const url = request.url.split('?')[0] ?? '';
    const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
    const allowed = methods.filter((method) => app.hasRoute({ method, url }));
    if (allowed.length === 0) return reply.code(404).send({ error: 'not_found', message: `no route ${url}` });
    return reply
      .code(405)
      .header('allow', allowed.join(', '))
      .send({ error: 'method_not_allowed', message: `${request.method} not allowed on ${url}` });
  });

  app.register(async (webhooks) => {
    // The signature covers the exact bytes Daily sent, so the body stays raw whatever its content type says.
    webhooks.removeAllContentTypeParsers();
    webhooks.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

    webhooks.post(WEBHOOK_PATH, async (request, reply) => {
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const json = parseJson(rawBody);
      if (json.ok && isVerificationRequest(json.value)) {
        metrics.received.inc({ type: 'verification' });
        request.log.info('Daily webhook verification request');
        return accept(reply, 'verification');
      }

      const auth = authenticate({
        rawBody,
        signature: header(request, 'x-webhook-signature'),
        timestamp: header(request, 'x-webhook-timestamp'),
        domainId: json.ok ? domainIdOf(json.value) : undefined,
      });
      if (!auth.ok) {
        request.log.warn({ reason: auth.reason }, 'webhook rejected');
        return reject(reply, 401, auth.reason, auth.message);
      }
      if (!json.ok) return reject(reply, 400, 'malformed_json', 'body is not JSON');

      const parsed = parseDailyWebhook(json.value);
      if (parsed.kind === 'invalid') {
        request.log.warn({ issues: parsed.message }, 'webhook rejected: invalid event');
        return reject(reply, 400, 'invalid_event', parsed.message);
      }
      if (parsed.kind === 'other') {
        metrics.received.inc({ type: parsed.type });
        metrics.unmatched.inc({ reason: 'ignored_type' });
        return accept(reply, 'ignored');
      }

      const { event } = parsed;
      metrics.received.inc({ type: event.type });
      const workflowId = transferWorkflowId(event.room, event.sessionId);
      const log = request.log.child({ eventId: event.id, type: event.type, workflowId });
      try {
        await deps.temporal.withDeadline(Date.now() + signalTimeoutMs, () =>
          deps.temporal.workflow.getHandle(workflowId).signal(dailyEventSignal, event)
        );
      } catch (err) {
        // No running transfer for this leg (never started, or already closed): retrying can't change that.
        if (err instanceof WorkflowNotFoundError) {
          metrics.unmatched.inc({ reason: 'no_running_transfer' });
          log.info('no running transfer for event');
          return accept(reply, 'unmatched');
        }
        // Anything else may succeed later: a non-2xx makes Daily deliver the event again.
        log.warn({ error: (err as Error).message }, 'signal failed; asking Daily to retry');
        return reject(reply, 503, 'temporal_unavailable', 'could not hand the event to Temporal; retry later');
      }
      metrics.signaled.inc({ type: event.type });
      metrics.signalLatency.observe(reply.elapsedTime / 1000);
      log.info('event signaled');
      return accept(reply, 'signaled');
    });
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/readyz', async (_request, reply) => {
    const ready = await deps.isTemporalReady().catch(() => false);
    return reply.code(ready ? 200 : 503).send({ ok: ready, temporal: ready ? 'reachable' : 'unreachable' });
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  );

  return app;
}
