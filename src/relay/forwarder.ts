import type { FastifyBaseLogger } from 'fastify';
import { request } from 'undici';
import { signWebhook } from '../daily/signature';
import type { Drainer, JobResult } from './drainer';
import { startDrainer } from './drainer';
import type { RelayMetrics } from './metrics';
import type { Job, Spool } from './spool';

/**
 * The customer's own webhook receiver, which Daily's single webhook per domain used to point at: the relay hands it
 * every event it verified, as Daily would have.
 */
export interface ForwardTarget {
  url: string;
  /** The receiver's own secret (its old webhook's `hmac`, base64): deliveries are re-signed with it. */
  secret: string;
}

export interface ForwarderOptions {
  spool: Spool;
  target: ForwardTarget;
  /** A delivery not answered within this failed. Default 10 s (Daily's wait is "a few seconds"). */
  timeoutMs?: number;
  /**
   * Daily's `exponential` mode: 5 attempts, waits doubling up to 15 minutes, then the event is dropped — here
   * dead-lettered (`rejected_by_target`), so it can still be found. Defaults 5 attempts, 30 s, 15 min.
   */
  maxAttempts?: number;
  retryBaseMs?: number;
  retryCapMs?: number;
  concurrency?: number;
  metrics: RelayMetrics;
  logger: FastifyBaseLogger;
}

/**
 * Delivers each spooled `forward` job — the verbatim body Daily sent — to the customer's receiver with Daily's own
 * headers (`X-Webhook-Timestamp`, `X-Webhook-Signature` over `<timestamp>.<body>` with the receiver's secret), so the
 * receiver's existing signature check keeps working unchanged. A 200 (any 2xx) is success; anything else, a
 * connection error or a timeout is retried with Daily's backoff, from the spool, across relay restarts.
 */
export function startForwarder(opts: ForwarderOptions): Drainer {
  const { metrics, logger } = opts;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxAttempts = opts.maxAttempts ?? 5;

  const deliver = async (job: Job): Promise<JobResult> => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    let failure: string;
    try {
      const response = await request(opts.target.url, {
        method: 'POST',
        body: job.data,
        headers: {
          'content-type': 'application/json',
          'x-webhook-timestamp': timestamp,
          'x-webhook-signature': signWebhook(opts.target.secret, timestamp, job.data),
        },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) return { result: 'done' };
      failure = `HTTP ${response.statusCode}`;
    } catch (err) {
      failure = (err as Error).message;
    }
    if (job.attempts + 1 >= maxAttempts) {
      return { result: 'dead', reason: 'rejected_by_target', detail: `${opts.target.url}: ${failure}` };
    }
    return { result: 'retry', error: failure };
  };

  return startDrainer({
    spool: opts.spool,
    kind: 'forward',
    handle: ([job]) => deliver(job),
    concurrency: opts.concurrency,
    retryBaseMs: opts.retryBaseMs ?? 30_000,
    retryCapMs: opts.retryCapMs ?? 15 * 60_000,
    onResult(job, result) {
      const log = logger.child({ eventId: job.eventId, type: job.type, forwardTo: opts.target.url });
      if (result.result === 'done') {
        metrics.forwarded.inc();
        log.debug('event forwarded');
      } else if (result.result === 'dead') {
        metrics.deadLettered.inc({ reason: result.reason });
        log.warn({ detail: result.detail }, 'forwarding gave up; event dead-lettered');
      } else {
        metrics.forwardRetries.inc();
        log.info({ error: result.error, attempts: job.attempts + 1 }, 'forwarding failed; retrying');
      }
    },
    onError(err) {
      logger.error({ err }, 'could not record a forwarding outcome in the spool; it will run again');
    },
  });
}
