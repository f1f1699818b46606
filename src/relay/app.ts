import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { transferWorkflowId } from '../shared';
import type { ParsedWebhook } from './daily-event';
import { parseDailyWebhook } from './daily-event';
import type { RelayMetrics } from './metrics';
import { createRelayMetrics } from './metrics';
import type { SignalClient } from './signal-drainer';
import type { ForwardTarget } from './forwarder';
import { startForwarder } from './forwarder';
import { PROBE_EVENT_TYPE } from './secret-rotation';
import { startSignalDrainer } from './signal-drainer';
import type { NewJob } from './spool';
import { Spool, SpoolError } from './spool';
import type { WebhookSecrets } from './webhook-auth';
import { createWebhookAuthenticator } from './webhook-auth';

export type { SignalClient } from './signal-drainer';

export const WEBHOOK_PATH = '/webhooks/daily';

export interface RelayDeps {
  temporal: SignalClient;
  secrets: WebhookSecrets;
  /** Backs `/readyz`: whether Temporal answers right now. */
  isTemporalReady: () => Promise<boolean>;
  /**
   * Where verified events are held until Temporal has them. Default: an in-memory spool, for tests that do not
   * restart the relay; `startRelay` passes the file spool. The relay closes a spool it created, not one passed in.
   */
  spool?: Spool;
  /**
   * How far `X-Webhook-Timestamp` may be from now. Default 3900 s: Daily's `exponential` mode retries a message up to
   * 4 times with waits of up to 15 minutes, and a retry may carry its first attempt's timestamp; a replay inside the
   * window is harmless, since the spool dedupes by event id for far longer (24 h).
   */
  timestampToleranceSec?: number;
  /** Daily's transfer events are well under 2 KiB. Default 64 KiB. */
  bodyLimitBytes?: number;
  /**
   * How long one signal may take before the drainer counts it as failed and retries it later. Without a deadline the
   * client's own retries run ~30 s. Default 5000 ms.
   */
  signalTimeoutMs?: number;
  /** Signals in flight at once while draining (one at a time per transfer). Default 32. */
  drainConcurrency?: number;
  /** A caller leg's queued events sent in one signal, at most. Default `DEFAULT_SIGNAL_BATCH`. */
  signalBatch?: number;
  /** The drainer's backoff between tries of a job that failed (Temporal away). Defaults 250 ms and 10 s. */
  retryBaseMs?: number;
  retryCapMs?: number;
  /**
   * A whole request (headers and body) must arrive within this, so a client that sends slowly cannot hold a
   * connection forever. Default 10 s (Daily sends a few KiB at once).
   */
  requestTimeoutMs?: number;
  /** A connection with no traffic at all is closed after this. Default 60 s; keep-alive idle sockets close sooner. */
  connectionTimeoutMs?: number;
  /**
   * The customer's own webhook receiver: every verified event with an id and a type is also delivered there, verbatim
   * and re-signed with its secret, durably through the spool (`RELAY_FORWARD_URL`, `RELAY_FORWARD_SECRET`).
   */
  forward?: ForwardTarget & { maxAttempts?: number; retryBaseMs?: number; retryCapMs?: number };
  /**
   * Whether this app answers `GET /metrics`. `startRelay` turns it off when `RELAY_METRICS_PORT` moves the metrics to
   * a port of their own (`createMetricsServer`), so the webhook port exposed to Daily does not expose them. Default true.
   */
  serveMetrics?: boolean;
  /** A pino logger; silent when omitted. */
  logger?: FastifyBaseLogger;
  metrics?: RelayMetrics;
}

type Outcome = 'verification' | 'probe' | 'accepted' | 'duplicate' | 'dead_lettered';

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

function idAndTypeOf(body: unknown): { id?: string; type?: string } {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  return {
    ...(typeof fields.id === 'string' ? { id: fields.id } : {}),
    ...(typeof fields.type === 'string' ? { type: fields.type } : {}),
  };
}

/** A bounded label for `received_total`: verified bodies may carry any `type`, and labels must not grow forever. */
function typeLabel(parsed: Exclude<ParsedWebhook, { kind: 'transfer' }>): string {
  return parsed.kind === 'other' ? 'other' : parsed.reason === 'malformed_json' ? 'malformed' : 'invalid';
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The relay: Daily's webhooks in, Temporal signals out. A verified event is written to the spool and answered 200;
 * the drainer started here signals it to its transfer afterwards, for as long as Temporal needs. Returns the app
 * built but not listening (`main.ts` listens; tests listen on port 0); closing it stops the drainer.
 */
export function createRelay(deps: RelayDeps): FastifyInstance {
  const metrics = deps.metrics ?? createRelayMetrics();
  const authenticate = createWebhookAuthenticator(deps.secrets, deps.timestampToleranceSec ?? 3900);
  const spool = deps.spool ?? new Spool(':memory:');
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimitBytes ?? 64 * 1024,
    requestTimeout: deps.requestTimeoutMs ?? 10_000,
    connectionTimeout: deps.connectionTimeoutMs ?? 60_000,
    // Node checks request timeouts on this interval (30 s by default), which would let a slow sender overstay.
    http: { connectionsCheckingInterval: 1000 },
    // Webhook outcomes are logged below; per-request lines for probes and scrapes would drown them.
    logController: new LogController({ disableRequestLogging: true }),
  });

  const drainer = startSignalDrainer({
    spool,
    temporal: deps.temporal,
    signalTimeoutMs: deps.signalTimeoutMs ?? 5000,
    concurrency: deps.drainConcurrency,
    maxBatch: deps.signalBatch,
    retryBaseMs: deps.retryBaseMs,
    retryCapMs: deps.retryCapMs,
    metrics,
    logger: app.log,
  });
  const forwarder =
    deps.forward &&
    startForwarder({
      spool,
      target: deps.forward,
      maxAttempts: deps.forward.maxAttempts,
      retryBaseMs: deps.forward.retryBaseMs,
      retryCapMs: deps.forward.retryCapMs,
      metrics,
      logger: app.log,
    });
  const drainers = forwarder ? [drainer, forwarder] : [drainer];
  metrics.observeSpool({
    pending: () => drainers.reduce((sum, d) => sum + d.size(), 0),
    oldestReceivedAtMs: () =>
      drainers
        .map((d) => d.oldestReceivedAtMs())
        .reduce<number | undefined>((a, b) => (a === undefined ? b : b === undefined ? a : Math.min(a, b)), undefined),
    deadLetters: () => spool.deadLetterCounts(),
  });
  // Dedupe ids and dead letters past their retention go now and hourly; the spool stays small.
  spool.prune();
  const pruning = setInterval(() => {
    try {
      spool.prune();
    } catch (err) {
      app.log.error({ err }, 'could not prune the relay spool');
    }
  }, 3600_000).unref();
  app.addHook('onClose', async () => {
    clearInterval(pruning);
    await Promise.all(drainers.map((d) => d.stop()));
    if (!deps.spool) spool.close();
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

      // `switchboard webhook setup --rotate` checking that this relay verifies a new secret: nothing to keep.
      if (json.ok && idAndTypeOf(json.value).type === PROBE_EVENT_TYPE) {
        metrics.received.inc({ type: 'probe' });
        return accept(reply, 'probe');
      }

      // From here on Daily sent it: whatever it holds, it is answered 200 once it is on disk (a non-2xx would only
      // make Daily send the same bytes again, and count towards switching the webhook off).
      const receivedAtMs = Date.now();
      const claimedDomain = json.ok ? domainIdOf(json.value) : undefined;
      // The domain is the one whose secret verified the event; with one secret for all domains, what the body says.
      const domainId = auth.domainId ?? claimedDomain;
      const parsed: ParsedWebhook = !json.ok
        ? { kind: 'invalid', reason: 'malformed_json', message: 'body is not JSON' }
        : claimedDomain !== undefined && claimedDomain !== domainId
          ? {
              kind: 'invalid',
              reason: 'domain_mismatch',
              message: `payload.domain_id ${claimedDomain} but signed with the secret of domain ${domainId}`,
              ...idAndTypeOf(json.value),
            }
          : parseDailyWebhook(json.value);
      metrics.received.inc({ type: parsed.kind === 'transfer' ? parsed.event.type : typeLabel(parsed) });
      // The customer's receiver gets every event Daily could have sent it: any type, with an id to dedupe by.
      const forward: NewJob[] =
        deps.forward && parsed.kind !== 'invalid'
          ? [
              {
                kind: 'forward',
                lane: `forward:${domainId ?? ''}/${parsed.kind === 'transfer' ? parsed.event.id : parsed.id}`,
                data: rawBody.toString('utf8'),
              },
            ]
          : [];
      try {
        if (parsed.kind === 'other' && forward.length > 0) {
          const result = spool.accept({ eventId: parsed.id, type: parsed.type, domainId, receivedAtMs }, forward);
          if (result.outcome === 'duplicate') {
            metrics.duplicates.inc();
            return accept(reply, 'duplicate');
          }
          forwarder?.enqueue(result.jobs);
          return accept(reply, 'accepted');
        }
        if (parsed.kind !== 'transfer') {
          const reason = parsed.kind === 'other' ? 'ignored_type' : parsed.reason;
          const detail = parsed.kind === 'other' ? `Switchboard does not act on ${parsed.type}` : parsed.message;
          const meta = {
            receivedAtMs,
            eventId: parsed.id,
            type: parsed.type,
            domainId,
          };
          const kept = spool.deadLetterAtIntake(meta, reason, detail, rawBody.toString('utf8'));
          if (!kept) return accept(reply, 'duplicate');
          metrics.deadLettered.inc({ reason });
          if (reason === 'ignored_type') metrics.unmatched.inc({ reason });
          request.log.info({ eventId: parsed.id, type: parsed.type, reason, detail }, 'event dead-lettered');
          return accept(reply, 'dead_lettered');
        }
        // The verified domain travels with the event: a transfer of another domain records it and never acts on it.
        const event = domainId === undefined ? parsed.event : { ...parsed.event, domainId };
        const result = spool.accept({ eventId: event.id, type: event.type, domainId, receivedAtMs }, [
          { kind: 'signal', lane: transferWorkflowId(event.room, event.sessionId), data: JSON.stringify(event) },
          ...forward,
        ]);
        if (result.outcome === 'duplicate') {
          metrics.duplicates.inc();
          return accept(reply, 'duplicate');
        }
        drainer.enqueue(result.jobs);
        forwarder?.enqueue(result.jobs);
        metrics.ackLatency.observe(reply.elapsedTime / 1000);
        return accept(reply, 'accepted');
      } catch (err) {
        // The only way a verified event gets a non-2xx: it could not be made durable, so Daily must send it again.
        if (!(err instanceof SpoolError)) throw err;
        request.log.error({ err }, 'spool write failed; asking Daily to retry');
        return reject(reply, 503, 'spool_unavailable', 'could not store the event; retry later');
      }
    });
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/readyz', async (_request, reply) => {
    const ready = await deps.isTemporalReady().catch(() => false);
    return reply.code(ready ? 200 : 503).send({ ok: ready, temporal: ready ? 'reachable' : 'unreachable' });
  });

  if (deps.serveMetrics ?? true) serveMetricsOn(app, metrics);

  return app;
}

function serveMetricsOn(app: FastifyInstance, metrics: RelayMetrics): void {
  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  );
}

/** `GET /metrics` alone, for `RELAY_METRICS_PORT`: an internal port Prometheus scrapes and Daily never sees. */
export function createMetricsServer(metrics: RelayMetrics, logger?: FastifyBaseLogger): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger,
    requestTimeout: 10_000,
    logController: new LogController({ disableRequestLogging: true }),
  });
  serveMetricsOn(app, metrics);
  return app;
}
