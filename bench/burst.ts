/**
 * `npm run bench -- --burst N` and `--burst-search`: N transfers started at once, to a destination that never answers
 * (the sandbox's `no-answer` scenario; the engine floor's event source does the same), each with a ring timeout of T
 * seconds, for Switchboard and for the engine floor, each system on its own fresh dev server with its own worker.
 *
 * Figures per system and N:
 * - **start → request sent**: from the client's start call to the transfer request's arrival at the sandbox (the
 *   engine floor: at the event source), p50/p99/max, and where that time goes, from each workflow's history (start
 *   call → started event, → first workflow task started, its duration with the local activity, the request activity's
 *   schedule-to-start, its start → the request's arrival);
 * - **ring-timeout lateness**: the ring timer's `TimerFired` against `TimerStarted` + T (the server), and the workflow
 *   task that acted on it against the same due time (what a caller waits beyond T);
 * - CPU (cores used during the burst, i.e. until the last request arrived) and peak RSS of the worker, the relay, the
 *   Temporal server and the bench process itself (the client, the sandbox or event source).
 *
 * `--burst-search` runs growing bursts on one stack per system (each burst waits until the previous one's transfers
 * have all closed) and stops at the first size whose start → request sent p99 exceeds 2 s, or at the time budget.
 * Everything listens on 127.0.0.1, every wait is bounded, and every process is stopped at the end.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { TransferClient } from '../src/client/transfers';
import { DailyClient } from '../src/daily';
import { freePort } from '../src/local/dev-server';
import { WEBHOOK_PATH } from '../src/relay/app';
import { setupWebhook } from '../src/relay/webhook-setup';
import type { Sandbox } from '../src/sandbox';
import { startSandbox } from '../src/sandbox';
import type { TransferInput } from '../src/shared';
import { transferWorkflowId } from '../src/shared';
import { EventSource } from './baselines/event-source';
import type { floorTransfer } from './baselines/floor-workflow';
import { NodeProcess, UsageWindow } from './processes';
import type { Percentiles } from './report';
import { machineInfo, percentiles, table, writeResult } from './report';
import type { TemporalServer } from './stack';
import { exitWatch, relayProcess, startTemporal, waitForHttp, workerProcess } from './stack';

export type BurstSystem = 'switchboard' | 'floor';

export interface BurstOptions {
  /** Burst sizes, run in order on one stack per system; with `search`, stop at the first that misses the goal. */
  sizes: number[];
  search: boolean;
  ringTimeoutSec: number;
  systems: BurstSystem[];
  /** The goal of the search: start → request sent p99 at most this. */
  goalMs: number;
  /** The search stops starting new bursts after this long. */
  budgetSec: number;
  temporal?: string;
  /** The dev server's dynamic config values (`--dynamic-config KEY=VALUE`). */
  dynamicConfig: Record<string, string | number | boolean>;
  /** The command line, for the JSON. */
  command: string;
}

/** The default steps of `--burst-search`. */
export const SEARCH_SIZES = [10, 25, 50, 100, 200, 400, 700, 1000, 1500, 2000];
export const DEFAULT_RING_TIMEOUT_SEC = 20;

const DESTINATION = 'sip:nobody@pbx.bench.example';
const TIMING = { triggeredMs: 10, initiatedMs: 20 };
const WARMUP = 10;

const startedAt = Date.now();
function progress(what: string): void {
  console.log(`[${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${what}`);
}

// ---------------------------------------------------------------------------------------------------------------
// The two systems, each on its own dev server
// ---------------------------------------------------------------------------------------------------------------

interface Started {
  workflowId: string;
  /** The key its transfer request is found by (room for the sandbox, session id for the event source). */
  key: string;
  startMs: number;
  /** When the start call returned. */
  startedMs: number;
}

interface Stack {
  system: BurstSystem;
  client: Client;
  temporal: TemporalServer;
  /** Processes measured, by role. */
  pids: Record<string, number>;
  failed: Promise<never>;
  /** Everything one transfer needs before the burst (rooms, callers); returns a function that starts it. */
  prepare(label: string, ringTimeoutSec: number): () => Promise<Started>;
  /** When its transfer request arrived, epoch ms. */
  requestArrival(key: string): number | undefined;
  close(): Promise<void>;
}

async function startStack(
  system: BurstSystem,
  temporalAddress: string | undefined,
  dynamicConfig: BurstOptions['dynamicConfig']
): Promise<Stack> {
  const temporal = await startTemporal({ address: temporalAddress, dynamicConfig });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const watch = exitWatch();
  const taskQueue = `burst-${system}-${randomUUID()}`;
  const closers: Array<() => Promise<void>> = [
    async () => {
      await connection.close();
      await temporal.stop();
    },
  ];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
  };
  try {
    if (system === 'switchboard') {
      const sandbox: Sandbox = await startSandbox({ port: 0, timing: TIMING });
      sandbox.setScenario(DESTINATION, { kind: 'no-answer' });
      const daily = new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase });
      closers.push(async () => {
        await sandbox.close();
        await daily.close();
      });
      const secret = (await import('node:crypto')).randomBytes(32).toString('base64');
      const relay = relayProcess({
        port: await freePort(),
        temporalAddress: temporal.address,
        webhookSecret: secret,
        onUnexpectedExit: watch.onUnexpectedExit,
      });
      const worker = workerProcess({
        name: 'worker',
        temporalAddress: temporal.address,
        taskQueue,
        dailyApiUrl: sandbox.apiBase,
        dailyApiKey: sandbox.apiKey,
        onUnexpectedExit: watch.onUnexpectedExit,
      });
      closers.push(
        () => relay.process.stop(),
        () => worker.stop()
      );
      relay.process.start();
      worker.start();
      await waitForHttp(`${relay.url}/readyz`, 'relay');
      await setupWebhook({ daily, url: `${relay.url}${WEBHOOK_PATH}`, hmac: secret });
      const transfers = new TransferClient(client, taskQueue);
      let arrivals = new Map<string, number>();
      let arrivalsAt = 0;
      return {
        system,
        client,
        temporal,
        pids: { worker: worker.pid, relay: relay.process.pid, ...(temporal.pid && { temporal: temporal.pid }) },
        failed: watch.failed,
        prepare(label, ringTimeoutSec) {
          const room = `burst-${label}`;
          sandbox.createRoom(room);
          const { sessionId } = sandbox.addCaller(room);
          const input: TransferInput = {
            room,
            sessionId,
            attempts: [{ method: 'sipCallTransfer', toEndPoint: DESTINATION, answerTimeoutSec: ringTimeoutSec }],
            onExhausted: { action: 'none' },
            requestId: randomUUID(),
            maxCallDurationSec: 60,
            reconcileWindowSec: 5,
            maxRetryAfterSec: 30,
          };
          return async () => {
            const startMs = Date.now();
            const started = await transfers.start(input);
            return { workflowId: started.workflowId, key: room, startMs, startedMs: Date.now() };
          };
        },
        requestArrival(room) {
          // The sandbox keeps every request; index them at most every 100 ms while the burst is polled.
          if (Date.now() - arrivalsAt > 100) {
            arrivals = new Map();
            for (const req of sandbox.requests({ path: 'sipCallTransfer' })) {
              if (req.room !== undefined && !arrivals.has(req.room)) arrivals.set(req.room, req.at);
            }
            arrivalsAt = Date.now();
          }
          return arrivals.get(room);
        },
        close,
      };
    }
    const source = await EventSource.start(
      { ...TIMING, answerMs: Number.POSITIVE_INFINITY, hangUpMs: Number.POSITIVE_INFINITY },
      { kind: 'direct', client }
    );
    closers.push(() => source.close());
    const worker = new NodeProcess({
      name: 'floor-worker',
      script: 'bench/baselines/floor-worker.ts',
      env: { TEMPORAL_ADDRESS: temporal.address, FLOOR_TASK_QUEUE: taskQueue, FLOOR_EVENT_SOURCE_URL: source.url },
      onUnexpectedExit: watch.onUnexpectedExit,
    });
    closers.push(() => worker.stop());
    worker.start();
    return {
      system,
      client,
      temporal,
      pids: { worker: worker.pid, ...(temporal.pid && { temporal: temporal.pid }) },
      failed: watch.failed,
      prepare(label, ringTimeoutSec) {
        const room = `floor-burst-${label}`;
        const sessionId = randomUUID();
        return async () => {
          const startMs = Date.now();
          const handle = await client.workflow.start<typeof floorTransfer>('floorTransfer', {
            taskQueue,
            workflowId: transferWorkflowId(room, sessionId),
            args: [
              { room, sessionId, toEndPoint: DESTINATION, answerTimeoutSec: ringTimeoutSec, maxCallDurationSec: 60 },
            ],
          });
          return { workflowId: handle.workflowId, key: sessionId, startMs, startedMs: Date.now() };
        };
      },
      requestArrival: (sessionId) => source.requestedAtMs(sessionId),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One burst
// ---------------------------------------------------------------------------------------------------------------

/** Where start → request sent goes, from the histories (ms, per transfer). */
interface Breakdown {
  startCallToStartedEvent?: Percentiles;
  startedToFirstTaskStarted?: Percentiles;
  firstTaskStartedToCompleted?: Percentiles;
  requestScheduledToStarted?: Percentiles;
  requestStartedToArrival?: Percentiles;
}

export interface BurstResult {
  system: BurstSystem;
  n: number;
  ringTimeoutSec: number;
  /** Requests that never arrived, and transfers that did not close (or failed) within the bounds. */
  missingRequests: number;
  unfinished: number;
  startToRequestMs?: Percentiles;
  /** How long the start calls themselves took (client → server → client). */
  startCallMs?: Percentiles;
  /** First start call → last request arrival. */
  burstSec: number;
  /** Transfer requests that arrived, per second of the burst. */
  requestsPerSec: number;
  breakdown: Breakdown;
  /** Ring timer: TimerFired − (TimerStarted + T), the server's timer. */
  ringTimerFiredLateMs?: Percentiles;
  /** The workflow task that acted on the ring timer, started − (TimerStarted + T). */
  ringTimeoutActedLateMs?: Percentiles;
  /** Workflow task timeouts and failures over all N histories, and how many transfers had any. */
  workflowTaskTimeouts: number;
  workflowTaskFailures: number;
  workflowTaskFailureCauses: Record<string, number>;
  transfersWithTaskTimeouts: number;
  /** Mean history events per transfer (closed, so the whole history). */
  historyEventsPerTransfer: number;
  /** Per process: CPU seconds during the burst and average cores used; peak RSS over the burst and the ringing. */
  processes: Record<string, { burstCpuSec: number; burstCores: number; totalCpuSec: number; peakRssMiB: number }>;
}

async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const slot = async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, slot));
}

const ms = (ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined =>
  ts ? Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6) : undefined;

/** The figures one history gives, relative to the start call and the due time of the ring timer. */
interface HistoryFigures {
  startedEventMs?: number;
  firstTaskStartedMs?: number;
  firstTaskCompletedMs?: number;
  requestScheduledMs?: number;
  requestStartedMs?: number;
  timerDueMs?: number;
  timerFiredMs?: number;
  timerActedMs?: number;
  /** Workflow tasks that timed out (a worker too busy to finish one in 10 s) or failed. */
  taskTimeouts: number;
  taskFailures: number;
  /** Failures by cause (Temporal's `WorkflowTaskFailedCause`). */
  failureCauses: Record<string, number>;
  historyLength: number;
}

/** The causes a transfer's workflow tasks fail with, by their number in Temporal's enum. */
const FAILURE_CAUSES: Record<number, string> = {
  1: 'unhandled-command',
  13: 'reset-sticky-task-queue',
  14: 'worker-unhandled-failure',
};

async function historyFigures(handle: WorkflowHandle, ringTimeoutSec: number): Promise<HistoryFigures> {
  const events = (await handle.fetchHistory()).events ?? [];
  const figures: HistoryFigures = { taskTimeouts: 0, taskFailures: 0, failureCauses: {}, historyLength: events.length };
  let requestScheduledId: number | undefined;
  let timerStartedId: number | undefined;
  let timerFiredAt = -1;
  events.forEach((event, index) => {
    const at = ms(event.eventTime);
    const id = Number(event.eventId);
    if (event.workflowExecutionStartedEventAttributes) figures.startedEventMs = at;
    if (event.workflowTaskStartedEventAttributes) {
      figures.firstTaskStartedMs ??= at;
      if (timerFiredAt >= 0 && index > timerFiredAt && figures.timerActedMs === undefined) figures.timerActedMs = at;
    }
    if (event.workflowTaskCompletedEventAttributes) figures.firstTaskCompletedMs ??= at;
    if (event.workflowTaskTimedOutEventAttributes) figures.taskTimeouts += 1;
    const failed = event.workflowTaskFailedEventAttributes;
    if (failed) {
      figures.taskFailures += 1;
      const cause = FAILURE_CAUSES[Number(failed.cause ?? 0)] ?? `cause-${Number(failed.cause ?? 0)}`;
      figures.failureCauses[cause] = (figures.failureCauses[cause] ?? 0) + 1;
    }
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled && /^request(Floor)?Transfer$/.test(scheduled.activityType?.name ?? '') && !requestScheduledId) {
      requestScheduledId = id;
      figures.requestScheduledMs = at;
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started && Number(started.scheduledEventId) === requestScheduledId) figures.requestStartedMs ??= at;
    const timer = event.timerStartedEventAttributes;
    if (timer && Number(timer.startToFireTimeout?.seconds ?? 0) === ringTimeoutSec && timerStartedId === undefined) {
      timerStartedId = id;
      figures.timerDueMs = (at ?? 0) + ringTimeoutSec * 1000;
    }
    const fired = event.timerFiredEventAttributes;
    if (fired && timerStartedId !== undefined && Number(fired.startedEventId) === timerStartedId) {
      figures.timerFiredMs = at;
      timerFiredAt = index;
    }
  });
  return figures;
}

function spread(values: Array<number | undefined>): Percentiles | undefined {
  return percentiles(values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
}

async function runBurst(stack: Stack, n: number, ringTimeoutSec: number, step: string): Promise<BurstResult> {
  const bounded = <T>(work: Promise<T>, timeoutMs: number, what: string) =>
    Promise.race([
      work,
      stack.failed,
      sleep(timeoutMs, undefined, { ref: false }).then(() => {
        throw new Error(`${what} did not finish in ${timeoutMs / 1000} s`);
      }),
    ]);
  const starters = Array.from({ length: n }, (_, i) => stack.prepare(`${step}-${i}`, ringTimeoutSec));
  const pids = { ...stack.pids, bench: process.pid };
  const pidList = Object.values(pids);
  const burstWindow = new UsageWindow(pidList);
  const wholeWindow = new UsageWindow(pidList);
  const first = Date.now();
  // All at once: every start call is issued in this tick.
  const started = await bounded(Promise.all(starters.map((start) => start())), 60_000 + n * 100, `${n} start calls`);
  // Wait until every request arrived (or the bound: a minute plus 300 ms per transfer).
  const arrivalDeadline = first + 60_000 + n * 300;
  let arrivals: Array<number | undefined> = [];
  for (;;) {
    arrivals = started.map((s) => stack.requestArrival(s.key));
    if (arrivals.every((a) => a !== undefined) || Date.now() > arrivalDeadline) break;
    await Promise.race([sleep(100), stack.failed]);
  }
  const lastArrival = Math.max(...arrivals.map((a) => a ?? 0));
  const burstUsage = burstWindow.finish();
  progress(`  ${stack.system} ${n}: ${arrivals.filter((a) => a !== undefined).length}/${n} requests sent; ringing`);
  // Every transfer closes after its ring timeout (and, for Switchboard, ending the leg); 32 result() calls at a time
  // (a long poll each: 2,000 at once exhaust the namespace's poller limit).
  let unfinished = 0;
  await bounded(
    pool(started, 32, async (s) => {
      try {
        const result = (await stack.client.workflow.getHandle(s.workflowId).result()) as { state?: string };
        if (stack.system === 'switchboard' && result.state !== 'failed') unfinished += 1;
      } catch {
        unfinished += 1;
      }
    }),
    (ringTimeoutSec + 120) * 1000 + n * 150,
    'the ringing transfers'
  );
  const wholeUsage = wholeWindow.finish();
  const figures: HistoryFigures[] = new Array(n);
  await bounded(
    pool(
      started.map((s, i) => ({ s, i })),
      16,
      async ({ s, i }) => {
        figures[i] = await historyFigures(stack.client.workflow.getHandle(s.workflowId), ringTimeoutSec);
      }
    ),
    120_000 + n * 50,
    'reading the histories'
  );
  const burstSec = (lastArrival - first) / 1000;
  const processes: BurstResult['processes'] = {};
  for (const [role, pid] of Object.entries(pids)) {
    const burstCpuSec = burstUsage.get(pid)?.cpuSec ?? 0;
    processes[role] = {
      burstCpuSec,
      burstCores: burstSec > 0 ? burstCpuSec / burstSec : 0,
      totalCpuSec: wholeUsage.get(pid)?.cpuSec ?? 0,
      peakRssMiB: (wholeUsage.get(pid)?.peakRssBytes ?? 0) / 2 ** 20,
    };
  }
  const per = (f: (s: Started, h: HistoryFigures, arrival: number | undefined) => number | undefined) =>
    spread(
      started.map((s, i) =>
        f(s, figures[i] ?? { taskTimeouts: 0, taskFailures: 0, failureCauses: {}, historyLength: 0 }, arrivals[i])
      )
    );
  const minus = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : a - b;
  return {
    system: stack.system,
    n,
    ringTimeoutSec,
    missingRequests: arrivals.filter((a) => a === undefined).length,
    unfinished,
    startToRequestMs: per((s, _h, arrival) => minus(arrival, s.startMs)),
    startCallMs: per((s) => s.startedMs - s.startMs),
    burstSec,
    requestsPerSec: burstSec > 0 ? arrivals.filter((a) => a !== undefined).length / burstSec : 0,
    breakdown: {
      startCallToStartedEvent: per((s, h) => minus(h.startedEventMs, s.startMs)),
      startedToFirstTaskStarted: per((_s, h) => minus(h.firstTaskStartedMs, h.startedEventMs)),
      firstTaskStartedToCompleted: per((_s, h) => minus(h.firstTaskCompletedMs, h.firstTaskStartedMs)),
      requestScheduledToStarted: per((_s, h) => minus(h.requestStartedMs, h.requestScheduledMs)),
      requestStartedToArrival: per((_s, h, arrival) => minus(arrival, h.requestStartedMs)),
    },
    workflowTaskTimeouts: figures.reduce((sum, h) => sum + (h?.taskTimeouts ?? 0), 0),
    workflowTaskFailures: figures.reduce((sum, h) => sum + (h?.taskFailures ?? 0), 0),
    transfersWithTaskTimeouts: figures.filter((h) => (h?.taskTimeouts ?? 0) > 0).length,
    historyEventsPerTransfer: figures.reduce((sum, h) => sum + (h?.historyLength ?? 0), 0) / n,
    workflowTaskFailureCauses: figures.reduce<Record<string, number>>((all, h) => {
      for (const [cause, count] of Object.entries(h?.failureCauses ?? {})) all[cause] = (all[cause] ?? 0) + count;
      return all;
    }, {}),
    ringTimerFiredLateMs: per((_s, h) => minus(h.timerFiredMs, h.timerDueMs)),
    ringTimeoutActedLateMs: per((_s, h) => minus(h.timerActedMs, h.timerDueMs)),
    processes,
  };
}

/** A few short transfers first (1 s ring timeout): the worker polls, its code is warm, the connections are open. */
async function warmUp(stack: Stack): Promise<void> {
  const starters = Array.from({ length: WARMUP }, (_, i) => stack.prepare(`warm-${i}`, 1));
  const started = await Promise.race([Promise.all(starters.map((start) => start())), stack.failed]);
  const done = pool(started, WARMUP, async (s) => {
    await stack.client.workflow.getHandle(s.workflowId).result();
  });
  await Promise.race([
    done,
    stack.failed,
    sleep(120_000, undefined, { ref: false }).then(() => {
      throw new Error(`${stack.system}: the warm-up did not finish in 120 s`);
    }),
  ]);
}

// ---------------------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------------------

const fixed = (value: number | undefined, digits = 0) => (value === undefined ? '—' : value.toFixed(digits));
const triple = (p: Percentiles | undefined) => (p ? `${fixed(p.p50)} / ${fixed(p.p99)} / ${fixed(p.max)}` : '—');

const sent = (r: BurstResult) => Math.max(1, r.n - r.missingRequests);

function render(results: BurstResult[]): string {
  const sizes = [...new Set(results.map((r) => r.n))];
  const blocks: string[] = [];
  for (const n of sizes) {
    const at = results.filter((r) => r.n === n);
    const roles = [...new Set(at.flatMap((r) => Object.keys(r.processes)))];
    const rows: string[][] = [
      [`burst of ${n}, ring timeout ${at[0]?.ringTimeoutSec} s; ms p50 / p99 / max`, ...at.map((r) => r.system)],
      ['start → request sent', ...at.map((r) => triple(r.startToRequestMs))],
      ['  start call → started event', ...at.map((r) => triple(r.breakdown.startCallToStartedEvent))],
      ['  started → first workflow task started', ...at.map((r) => triple(r.breakdown.startedToFirstTaskStarted))],
      ['  first workflow task (local activity)', ...at.map((r) => triple(r.breakdown.firstTaskStartedToCompleted))],
      ['  request activity schedule → start', ...at.map((r) => triple(r.breakdown.requestScheduledToStarted))],
      ['  request activity start → arrival', ...at.map((r) => triple(r.breakdown.requestStartedToArrival))],
      ['start call returned', ...at.map((r) => triple(r.startCallMs))],
      ['requests sent / s over the burst', ...at.map((r) => fixed(r.requestsPerSec, 1))],
      ['ring timer fired − due', ...at.map((r) => triple(r.ringTimerFiredLateMs))],
      ['ring timeout acted on − due', ...at.map((r) => triple(r.ringTimeoutActedLateMs))],
      [
        'CPU ms per request sent, during the burst',
        ...at.map((r) =>
          fixed((Object.values(r.processes).reduce((sum, p) => sum + p.burstCpuSec, 0) * 1000) / sent(r))
        ),
      ],
      ...roles.map((role) => [
        `${role}: CPU ms per request sent`,
        ...at.map((r) => {
          const p = r.processes[role];
          return p ? fixed((p.burstCpuSec * 1000) / sent(r)) : '—';
        }),
      ]),
      ...roles.map((role) => [
        `${role}: cores during burst / peak RSS MiB`,
        ...at.map((r) => {
          const p = r.processes[role];
          return p ? `${p.burstCores.toFixed(2)} / ${p.peakRssMiB.toFixed(0)}` : '—';
        }),
      ]),
      ['history events per transfer', ...at.map((r) => fixed(r.historyEventsPerTransfer, 1))],
      [
        'workflow task timeouts (transfers) / failures',
        ...at.map(
          (r) =>
            `${r.workflowTaskTimeouts} (${r.transfersWithTaskTimeouts}) / ${r.workflowTaskFailures}` +
            (r.workflowTaskFailures > 0
              ? ` (${Object.entries(r.workflowTaskFailureCauses)
                  .map(([cause, count]) => `${count} ${cause}`)
                  .join(', ')})`
              : '')
        ),
      ],
      ['missing requests / unfinished', ...at.map((r) => `${r.missingRequests} / ${r.unfinished}`)],
    ];
    const sb = at.find((r) => r.system === 'switchboard');
    const floor = at.find((r) => r.system === 'floor');
    blocks.push(table(rows));
    if (sb?.startToRequestMs && floor?.startToRequestMs) {
      blocks.push(
        `switchboard ÷ floor, start → request sent: p50 ${(sb.startToRequestMs.p50 / floor.startToRequestMs.p50).toFixed(2)}×, ` +
          `p99 ${(sb.startToRequestMs.p99 / floor.startToRequestMs.p99).toFixed(2)}×`
      );
    }
    blocks.push('');
  }
  return blocks.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

/** Worker settings in effect (the WORKER_* variables the worker processes inherit), for the record. */
function workerSettings(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => /^WORKER_/.test(name))) as Record<
    string,
    string
  >;
}

export async function burstBench(opts: BurstOptions): Promise<void> {
  const machine = machineInfo(opts.temporal ? 'external' : 'dev server');
  const settings = workerSettings();
  progress(
    `burst: ${opts.search ? `search over ${opts.sizes.join(', ')}` : opts.sizes.join(', ')} ` +
      `(${opts.systems.join(', ')}), ring timeout ${opts.ringTimeoutSec} s, load ${machine.loadAverageAtStart.join(' ')}` +
      `, worker settings ${Object.keys(settings).length ? JSON.stringify(settings) : 'defaults'}`
  );
  const results: BurstResult[] = [];
  const largest: Partial<Record<BurstSystem, number>> = {};
  let temporalVersion = 'external';
  for (const system of opts.systems) {
    const stack = await startStack(system, opts.temporal, opts.dynamicConfig);
    temporalVersion = stack.temporal.version;
    try {
      await warmUp(stack);
      progress(`${system}: stack up and warm`);
      for (const n of opts.sizes) {
        if (opts.search && (Date.now() - startedAt) / 1000 > opts.budgetSec) {
          progress(`  time budget (${opts.budgetSec} s) spent: no burst larger than ${largest[system] ?? 0}`);
          break;
        }
        const result = await runBurst(stack, n, opts.ringTimeoutSec, `${n}`);
        results.push(result);
        const p99 = result.startToRequestMs?.p99 ?? Number.POSITIVE_INFINITY;
        const held = result.missingRequests === 0 && p99 <= opts.goalMs;
        progress(
          `  ${system} ${n}: start → request sent p50 ${fixed(result.startToRequestMs?.p50)} p99 ${fixed(p99)} ` +
            `max ${fixed(result.startToRequestMs?.max)} ms; ring timeout acted on p99 ` +
            `${fixed(result.ringTimeoutActedLateMs?.p99)} ms late${opts.search ? (held ? ' (holds)' : ' (misses the goal)') : ''}`
        );
        if (held) largest[system] = Math.max(largest[system] ?? 0, n);
        if (opts.search && !held) break;
      }
    } finally {
      await stack.close();
    }
  }
  const output = [
    '',
    `${machine.nproc} × ${machine.cpuModel}, Node ${machine.node}, Temporal SDK ${machine.temporalSdk}, ` +
      `${temporalVersion}, load at start ${machine.loadAverageAtStart.join(' ')}`,
    `worker settings: ${Object.keys(settings).length ? JSON.stringify(settings) : 'defaults'}`,
    `dev server dynamic config: ${Object.keys(opts.dynamicConfig).length ? JSON.stringify(opts.dynamicConfig) : 'defaults'}`,
    '',
    render(results),
    ...(opts.search
      ? [
          `largest burst with start → request sent p99 ≤ ${opts.goalMs} ms: ` +
            opts.systems.map((s) => `${s} ${largest[s] ?? 'none'}`).join(', '),
        ]
      : []),
  ].join('\n');
  console.log(output);
  const file = writeResult(opts.search ? 'burst-search' : 'burst', {
    command: opts.command,
    at: new Date().toISOString(),
    machine: { ...machine, temporalCli: temporalVersion },
    parameters: { ...opts, destination: 'no-answer', timing: TIMING, warmup: WARMUP, workerSettings: settings },
    results,
    largest: opts.search ? largest : undefined,
    table: output.split('\n'),
  });
  progress(`done; figures in ${file}`);
  // A search's last size may miss its requests on purpose (that is where it stops); a transfer that did not end is
  // a failure either way.
  if (results.some((r) => r.unfinished > 0 || (!opts.search && r.missingRequests > 0))) process.exitCode = 1;
}
