import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyBaseLogger } from 'fastify';
import type { DailyEvent } from '../shared';
import { dailyEventSignal } from '../shared';
import type { Drainer, JobResult } from './drainer';
import { startDrainer } from './drainer';
import type { RelayMetrics } from './metrics';
import type { Job, Spool } from './spool';

/**
 * A caller leg's queued events sent in one signal, at most: Daily sends a leg's events in bursts (`initiated`,
 * `participant.left` and `dialin.stopped` together), and one signal is one history event and one workflow task where
 * three were three. Small enough that a batch is a few kilobytes.
 */
export const DEFAULT_SIGNAL_BATCH = 16;

/** The part of a Temporal `Client` the relay uses; a real `Client` fits. */
export interface SignalClient {
  workflow: {
    getHandle(workflowId: string): {
      signal(def: typeof dailyEventSignal, ...events: [DailyEvent, ...DailyEvent[]]): Promise<void>;
    };
  };
  withDeadline<R>(deadline: number | Date, fn: () => Promise<R>): Promise<R>;
}

export interface SignalDrainerOptions {
  spool: Spool;
  temporal: SignalClient;
  /** One signal's deadline; past it the try counts as failed and is retried. */
  signalTimeoutMs: number;
  concurrency?: number;
  /** Events of one leg sent in one signal, at most. Default `DEFAULT_SIGNAL_BATCH`. */
  maxBatch?: number;
  retryBaseMs?: number;
  retryCapMs?: number;
  metrics: RelayMetrics;
  logger: FastifyBaseLogger;
}

/**
 * Signals each spooled transfer event to the workflow of its caller leg (the job's lane is the workflow id), until
 * Temporal accepts it or proves there is no running transfer for that leg (never started, or closed: Temporal
 * refuses signals to closed workflows), which dead-letters it. Anything else — Temporal unreachable, a deadline
 * exceeded — is retried with backoff for as long as it takes.
 */
export function startSignalDrainer(opts: SignalDrainerOptions): Drainer {
  const { metrics, logger } = opts;

  const signal = async (jobs: readonly [Job, ...Job[]]): Promise<JobResult> => {
    const [first, ...rest] = jobs.map((job) => JSON.parse(job.data) as DailyEvent);
    const lane = jobs[0].lane;
    try {
      await opts.temporal.withDeadline(Date.now() + opts.signalTimeoutMs, () =>
        opts.temporal.workflow.getHandle(lane).signal(dailyEventSignal, first!, ...rest)
      );
      return { result: 'done' };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        return { result: 'dead', reason: 'no_running_transfer', detail: `no running workflow ${lane}` };
      }
      return { result: 'retry', error: (err as Error).message };
    }
  };

  return startDrainer({
    spool: opts.spool,
    kind: 'signal',
    handle: signal,
    concurrency: opts.concurrency,
    maxBatch: opts.maxBatch ?? DEFAULT_SIGNAL_BATCH,
    retryBaseMs: opts.retryBaseMs,
    retryCapMs: opts.retryCapMs,
    onResult(job, result) {
      const log = logger.child({ eventId: job.eventId, type: job.type, workflowId: job.lane });
      if (result.result === 'done') {
        metrics.signaled.inc({ type: job.type });
        metrics.signalLatency.observe((Date.now() - job.receivedAtMs) / 1000);
        log.info({ attempts: job.attempts + 1 }, 'event signaled');
      } else if (result.result === 'dead') {
        metrics.unmatched.inc({ reason: result.reason });
        metrics.deadLettered.inc({ reason: result.reason });
        log.info('no running transfer for event');
      } else {
        metrics.signalRetries.inc();
        // The first failure says why; the rest of an outage would be one line per retry per transfer.
        if (job.attempts === 0) log.warn({ error: result.error }, 'signal failed; kept in the spool and retried');
        else log.debug({ error: result.error, attempts: job.attempts + 1 }, 'signal failed again');
      }
    },
    onError(err) {
      logger.error({ err }, 'could not record a job outcome in the spool; it will run again');
    },
  });
}
