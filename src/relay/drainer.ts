import type { DeadLetterReason, Job, JobKind, Spool } from './spool';

/** What became of one try at a job. */
export type JobResult =
  | { result: 'done' }
  /** It can never succeed (no running transfer, the target refuses it for good): dead-letter it. */
  | { result: 'dead'; reason: DeadLetterReason; detail: string }
  /** It may succeed later (Temporal away, the target down): try again after a backoff. */
  | { result: 'retry'; error: string };

/** Runs a lane's next jobs (its head, and with `maxBatch` > 1 those queued behind it, in order); one result for all. */
export type JobHandler = (jobs: readonly [Job, ...Job[]]) => Promise<JobResult>;

export interface DrainerOptions {
  spool: Spool;
  /** The spool's jobs of this kind are this drainer's. */
  kind: JobKind;
  /** Runs one job; a throw counts as `retry`. */
  handle: JobHandler;
  /** Lanes in flight at once. Default 32. */
  concurrency?: number;
  /**
   * At most this many of a lane's queued jobs go to the handler together. Default 1. Jobs queue behind a lane's head
   * while it is in flight (Daily sends a leg's events in bursts), so the next try takes the whole burst at once.
   */
  maxBatch?: number;
  /** Backoff after a failed try: `retryBaseMs · 2^attempts` with jitter, capped. Defaults 250 ms and 10 s. */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** Called after each try, once per job it carried, with what became of it (metrics, logs). */
  onResult?: (job: Job, result: JobResult) => void;
  /** A spool write failed while settling a job; the job stays queued and runs again. */
  onError?: (err: unknown) => void;
}

interface Lane {
  /** The lane's jobs, oldest first: only the head runs. */
  jobs: Array<{ seq: number; receivedAtMs: number }>;
  busy: boolean;
  timer?: NodeJS.Timeout;
}

export interface Drainer {
  /** Hands freshly spooled jobs to the drainer. */
  enqueue(jobs: readonly Job[]): void;
  /** Jobs not done yet (queued, backing off or in flight). */
  size(): number;
  /** Receipt time of the oldest job not done yet. */
  oldestReceivedAtMs(): number | undefined;
  /** Stops starting jobs and waits for those in flight; what is left stays in the spool for the next start. */
  stop(): Promise<void>;
}

/**
 * Hands spooled jobs to their handler: each lane (a caller leg's transfer) in order, one try at a time (a job, or up
 * to `maxBatch` queued jobs together), so a transfer's events reach it in the order Daily's deliveries arrived; lanes
 * run side by side up to `concurrency`.
 * A failed job holds its lane back (it must not be overtaken) and is retried with exponential backoff, forever:
 * only the handler can declare it dead. Starting it loads every job the spool still holds — a relay restarted on
 * its file drains what it had accepted.
 */
export function startDrainer(opts: DrainerOptions): Drainer {
  const concurrency = opts.concurrency ?? 32;
  const maxBatch = opts.maxBatch ?? 1;
  const retryBaseMs = opts.retryBaseMs ?? 250;
  const retryCapMs = opts.retryCapMs ?? 10_000;
  const lanes = new Map<string, Lane>();
  // Lanes whose head can run now, in the order they became ready: fair across transfers.
  const ready: string[] = [];
  const readySet = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let count = 0;

  const makeReady = (key: string) => {
    if (readySet.has(key)) return;
    readySet.add(key);
    ready.push(key);
  };

  const add = (job: Job) => {
    let lane = lanes.get(job.lane);
    if (!lane) {
      lane = { jobs: [], busy: false };
      lanes.set(job.lane, lane);
    }
    lane.jobs.push({ seq: job.seq, receivedAtMs: job.receivedAtMs });
    count += 1;
    if (!lane.busy && lane.timer === undefined) makeReady(job.lane);
  };

  const backoff = (attempts: number) => {
    const ceiling = Math.min(retryCapMs, retryBaseMs * 2 ** Math.min(attempts, 30));
    // Jitter spreads the retries of many lanes that failed together (a Temporal outage) instead of stampeding.
    return Math.round(ceiling * (0.5 + Math.random() / 2));
  };

  const settle = (laneKey: string, lane: Lane, jobs: readonly Job[], result: JobResult) => {
    if (result.result === 'retry') {
      // Jobs that joined the batch later share its backoff: they stay behind the head, in order.
      const delay = backoff(Math.max(...jobs.map((job) => job.attempts)));
      for (const job of jobs) opts.spool.retryLater(job.seq, Date.now() + delay, result.error);
      lane.timer = setTimeout(() => {
        lane.timer = undefined;
        makeReady(laneKey);
        pump();
      }, delay);
      lane.timer.unref();
      return;
    }
    for (const job of jobs) {
      if (result.result === 'done') opts.spool.complete(job.seq);
      else opts.spool.deadLetter(job, result.reason, result.detail);
      lane.jobs.shift();
      count -= 1;
    }
  };

  const run = (laneKey: string, lane: Lane) => {
    const jobs: Job[] = [];
    while (jobs.length < maxBatch && lane.jobs.length > jobs.length) {
      const job = opts.spool.job(lane.jobs[jobs.length]!.seq);
      if (job) {
        jobs.push(job);
        continue;
      }
      // Not in the spool any more (nothing else deletes jobs, but a missing row must not wedge the lane).
      lane.jobs.splice(jobs.length, 1);
      count -= 1;
    }
    const [head, ...rest] = jobs;
    if (!head) {
      if (lane.jobs.length === 0) lanes.delete(laneKey);
      return;
    }
    lane.busy = true;
    const attempt = opts
      .handle([head, ...rest])
      .catch((err: unknown): JobResult => ({ result: 'retry', error: (err as Error)?.message ?? String(err) }))
      .then((result) => {
        try {
          settle(laneKey, lane, jobs, result);
          for (const job of jobs) opts.onResult?.(job, result);
        } catch (err) {
          // The spool could not record the outcome: the jobs stay at their lane's head and run again.
          opts.onError?.(err);
          lane.timer ??= setTimeout(() => {
            lane.timer = undefined;
            makeReady(laneKey);
            pump();
          }, retryCapMs).unref();
        }
        lane.busy = false;
        if (lane.jobs.length === 0) lanes.delete(laneKey);
        else if (lane.timer === undefined) makeReady(laneKey);
      })
      .finally(() => {
        inFlight.delete(attempt);
        pump();
      });
    inFlight.add(attempt);
  };

  function pump(): void {
    while (!stopped && inFlight.size < concurrency && ready.length > 0) {
      const laneKey = ready.shift() as string;
      readySet.delete(laneKey);
      const lane = lanes.get(laneKey);
      if (lane && !lane.busy && lane.timer === undefined) run(laneKey, lane);
    }
  }

  for (const job of opts.spool.pending(opts.kind)) add(job);
  pump();

  return {
    enqueue(jobs) {
      for (const job of jobs) if (job.kind === opts.kind) add(job);
      pump();
    },
    size: () => count,
    oldestReceivedAtMs() {
      let oldest: number | undefined;
      for (const lane of lanes.values()) {
        const head = lane.jobs[0];
        if (head && (oldest === undefined || head.receivedAtMs < oldest)) oldest = head.receivedAtMs;
      }
      return oldest;
    },
    async stop() {
      stopped = true;
      for (const lane of lanes.values()) clearTimeout(lane.timer);
      await Promise.all([...inFlight]);
    },
  };
}
