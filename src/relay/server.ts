import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import type { Logger } from 'pino';
import { collectDefaultMetrics } from 'prom-client';
import { DailyClient } from '../daily/client';
import { createMetricsServer, createRelay } from './app';
import { temporalConnectionOptions } from '../config';
import { clientTracingInterceptors, startTracing } from '../telemetry/tracing';
import type { RelayConfig } from './config';
import { createRelayMetrics } from './metrics';
import { Spool } from './spool';
import type { WebhookWatchdog } from './webhook-watchdog';
import { startWebhookWatchdog } from './webhook-watchdog';

export interface RunningRelay {
  /** Where the relay listens, e.g. `http://127.0.0.1:8080` (Daily's webhook URL is this + `/webhooks/daily`). */
  url: string;
  /** Where `/metrics` is served: `url`, or its own port with `RELAY_METRICS_PORT`. */
  metricsUrl: string;
  /** The spool file: what this relay accepted and Temporal does not have yet survives here. */
  spoolPath: string;
  /** Stops taking requests (in-flight ones finish) and the drainer, the watchdog, the spool, the Temporal connection. */
  close(): Promise<void>;
}

/** Temporal answers a cheap call within 2 s. */
async function temporalReachable(connection: Connection): Promise<boolean> {
  try {
    await connection.withDeadline(Date.now() + 2000, () => connection.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs the relay in this process: Temporal client, HTTP server, and the webhook watchdog when a Daily API key is
 * configured. `main.ts` calls it for `npm run relay`; the local quick start calls it beside the worker.
 */
export async function startRelay(config: RelayConfig, opts: { logger?: Logger } = {}): Promise<RunningRelay> {
  const logger = opts.logger ?? pino({ name: 'switchboard-relay' });
  // Lazy: the relay starts (reporting not-ready, spooling what Daily sends) while Temporal is still coming up.
  const connection = Connection.lazy({
    ...temporalConnectionOptions(config.temporal),
    // gRPC's default reconnect backoff grows to minutes; after an outage the spool should drain within seconds.
    channelArgs: { 'grpc.max_reconnect_backoff_ms': 5000 },
    // No client-side retries: the drainer retries a failed signal itself, from the spool. The SDK's retry
    // interceptor would overshoot the signal deadline, and its timers could fire after the connection closed.
    interceptors: [],
  });
  // Traced: each signal is a span with the workflow id, its context sent along to the workflow's handling of it.
  const tracing = config.otlpEndpoint ? startTracing({ serviceName: 'switchboard-relay' }) : undefined;
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    interceptors: tracing && clientTracingInterceptors(),
  });
  const metrics = createRelayMetrics();
  collectDefaultMetrics({ register: metrics.registry, prefix: 'switchboard_relay_' });
  let spool: Spool;
  try {
    spool = new Spool(config.spoolPath);
  } catch (err) {
    await connection.close();
    throw err;
  }
  const app = createRelay({
    temporal: client,
    secrets: config.secrets,
    spool,
    drainConcurrency: config.drainConcurrency,
    signalBatch: config.signalBatch,
    serveMetrics: config.metricsPort === undefined,
    forward: config.forward,
    isTemporalReady: () => temporalReachable(connection),
    logger,
    metrics,
  });

  const metricsApp = config.metricsPort === undefined ? undefined : createMetricsServer(metrics, logger);
  try {
    await app.listen({ port: config.port, host: config.host });
    await metricsApp?.listen({ port: config.metricsPort, host: config.host });
  } catch (err) {
    await app.close();
    await metricsApp?.close();
    spool.close();
    await connection.close();
    throw err;
  }
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const urlOf = (server: FastifyInstance) =>
    `http://${host.includes(':') ? `[${host}]` : host}:${(server.server.address() as AddressInfo).port}`;
  const url = urlOf(app);
  const metricsUrl = metricsApp ? urlOf(metricsApp) : url;

  let daily: DailyClient | undefined;
  let watchdog: WebhookWatchdog | undefined;
  if (config.daily) {
    daily = new DailyClient({ apiKey: config.daily.apiKey, baseUrl: config.daily.apiUrl });
    watchdog = startWebhookWatchdog({
      daily,
      intervalSec: config.watchdogIntervalSec,
      logger: logger.child({ component: 'webhook-watchdog' }),
      metrics,
    });
  }
  logger.info(
    {
      url,
      metrics: `${metricsUrl}/metrics`,
      temporal: config.temporal.address,
      namespace: config.temporal.namespace,
      spool: config.spoolPath,
      forwardTo: config.forward?.url ?? 'none',
      watchdog: watchdog ? `every ${config.watchdogIntervalSec}s` : 'off (no DAILY_API_KEY)',
    },
    'relay listening'
  );

  return {
    url,
    metricsUrl,
    spoolPath: config.spoolPath,
    close: async () => {
      await app.close();
      await metricsApp?.close();
      spool.close();
      await watchdog?.stop();
      await daily?.close();
      await connection.close();
      await tracing?.shutdown();
    },
  };
}
