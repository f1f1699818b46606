/**
 * The worker process: runs `transferCall` and its activities. Scale out by running more of them on the same task
 * queue. `npm run worker` (or `node lib/worker.js`), configured by environment (see `.env.example`).
 */
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { WorkerOptions, WorkerPlugin } from '@temporalio/worker';
import { createActivities } from './activities';
import { validateTransferInput } from './activities/validate-input';
import { loadWorkerConfig, temporalConnectionOptions, workerTuningOptions } from './config';
import { DailyClient } from './daily';
import { createLogger, temporalLogger } from './logger';
import { prometheusTelemetry, transferMetricsSinks, WORKFLOW_METRICS_MODULES } from './telemetry/metrics';
import { startTracing } from './telemetry/tracing';

export interface SwitchboardWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  daily: DailyClient;
  /**
   * Pre-bundled workflow code (tests bundle once), built with `workflowInterceptorModules: WORKFLOW_METRICS_MODULES`;
   * otherwise bundled from `./workflows` at start, with them.
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Tracing's plugin (`startTracing().workerPlugin`); a pre-built bundle then needs `WORKFLOW_TRACING_MODULES` too. */
  plugins?: WorkerPlugin[];
  /** Pollers, slots or tuner, sticky cache: `workerTuningOptions(config.tuning)` (the `WORKER_*` variables). */
  settings?: ReturnType<typeof workerTuningOptions>;
  /** Extra worker options (tests tune concurrency or identity); they win over `settings`. */
  tuning?: Partial<Pick<WorkerOptions, 'identity' | 'maxConcurrentActivityTaskExecutions' | 'shutdownGraceTime'>>;
}

export function createSwitchboardWorker(opts: SwitchboardWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath: require.resolve('./workflows'), interceptors: { workflowModules: WORKFLOW_METRICS_MODULES } }),
    activities: { ...createActivities({ daily: opts.daily }), validateTransferInput },
    sinks: transferMetricsSinks(),
    plugins: opts.plugins,
    shutdownGraceTime: '10s',
    ...opts.settings,
    ...opts.tuning,
  });
}

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const logger = createLogger('worker', config.logLevel);
  Runtime.install({
    logger: temporalLogger(logger),
    telemetryOptions: config.metricsAddress ? prometheusTelemetry(config.metricsAddress) : undefined,
  });
  const tracing = config.otlpEndpoint ? startTracing({ serviceName: 'switchboard-worker' }) : undefined;
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  const daily = new DailyClient({ apiKey: config.daily.apiKey, baseUrl: config.daily.apiUrl });
  try {
    const worker = await createSwitchboardWorker({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.taskQueue,
      daily,
      plugins: tracing && [tracing.workerPlugin],
      settings: workerTuningOptions(config.tuning),
    });
    // Worker.run() already drains on SIGINT/SIGTERM: in-flight activities finish, then it resolves.
    logger.info(
      {
        address: config.temporal.address,
        namespace: config.temporal.namespace,
        taskQueue: config.taskQueue,
        metrics: config.metricsAddress ? `http://${config.metricsAddress}/metrics` : 'off (WORKER_METRICS_ADDRESS)',
        // The origin only: an endpoint URL may carry credentials.
        traces: config.otlpEndpoint ? new URL(config.otlpEndpoint).origin : 'off (OTEL_EXPORTER_OTLP_ENDPOINT)',
        tuning: config.tuning,
      },
      'worker started'
    );
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await daily.close();
    await connection.close();
    await tracing?.shutdown();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
