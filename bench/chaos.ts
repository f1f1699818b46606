/**
 * `npm run chaos`: transfers in flight across two worker processes while processes die, in two bounded scenarios
 * (`--scenario`; `all`, the default, runs both, each on a fresh stack):
 *
 * - `crashes`: hundreds of transfers while workers are SIGKILLed and restarted, the Temporal dev server (data on
 *   disk) is stopped and started again, the relay is killed and restarted, and the sandbox answers with 429s, 5xx and
 *   lost responses and delivers webhooks twice and in reverse order;
 * - `outage`: the Temporal dev server stopped for longer than the sandbox's whole webhook retry schedule while
 *   transfers ring and webhooks flow (twice each), so the relay's spool fills; the relay SIGKILLed with that full
 *   spool and started again on the same file; then Temporal started again on the same data file.
 *
 * Then it checks what durability promises:
 *
 * 1. every transfer closed with the outcome its scenario dictates (and the caller's leg is where it should be);
 * 2. exactly one transfer request took effect per attempt at the sandbox (Daily does not dedupe them);
 * 3. every webhook delivery the relay answered 200 was applied (signaled) or counted as unmatched, and no workflow
 *    acted on an event twice or on an event Daily never sent;
 * 4. the webhook never went `FAILED` and no event was dropped after its retries;
 * 5. Daily saw only 2xx from the relay (a delivery that found no relay at all is allowed only while it was killed);
 * 6. nothing was lost in the spool: every event accepted was signaled or dead-lettered with a reason, and the spool
 *    file holds no job at the end;
 * 7. (`outage`) the faults happened as scheduled: Temporal was away for longer than the whole retry schedule, and
 *    the relay was killed holding events.
 *
 * It ends with `N passed, N failed` and exits non-zero on any failure. The figures and failures are also written to
 * `bench/results/chaos-<time>.json`. Expected outcomes come from the scenarios and from what the sandbox (Daily) did,
 * never from the results.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { Command, Option } from 'commander';
import { TransferClient } from '../src/client/transfers';
import { DailyClient } from '../src/daily';
import type { TransferRequest } from '../src/input';
import { freePort } from '../src/local/dev-server';
import { WEBHOOK_PATH } from '../src/relay/app';
import type { DeadLetter, Job } from '../src/relay/spool';
import { Spool } from '../src/relay/spool';
import { setupWebhook } from '../src/relay/webhook-setup';
import type { DestinationScenario, Fault, Sandbox, SandboxTiming } from '../src/sandbox';
import { startSandbox } from '../src/sandbox';
import type { AttemptOutcome, TransferMethod, TransferResult, TransferState } from '../src/shared';
import type { NodeProcess } from './processes';
import { machineInfo, writeResult } from './report';
import type { TemporalServer } from './stack';
import { positiveInteger, relayProcess, scrapeMetrics, startTemporal, waitForHttp, workerProcess } from './stack';

/**
 * Daily's sequence at a pace where hundreds of transfers overlap. Webhook retries: 5 attempts, 3 s · 2^n apart (3, 6,
 * 12, 24 s), so an event is retried for 45 s — longer than any outage below: the relay takes up to ~10 s to come back
 * on a loaded 2-core machine, the Temporal dev server ~3–8 s (2–4 s to stop, 1.5 s or more to start), and the two are
 * 52 s apart so that no event's retries span both. Daily itself backs off up to 15 minutes: this is the harsher
 * schedule.
 */
const RETRY_BASE_MS = 3_000;
const RETRY_CAP_MS = 24_000;
const WEBHOOK_TIMEOUT_MS = 5_000;
const TIMING: Partial<SandboxTiming> = {
  triggeredMs: 10,
  initiatedMs: 20,
  outcomeMs: 1_000,
  roomAnswerMs: 300,
  webhookTimeoutMs: WEBHOOK_TIMEOUT_MS,
  retryBaseMs: RETRY_BASE_MS,
  retryCapMs: RETRY_CAP_MS,
};
/** From an event's first attempt to its fifth and last: the waits between them (3 + 6 + 12 + 24 = 45 s). */
const WHOLE_RETRY_SCHEDULE_SEC =
  [0, 1, 2, 3].reduce((sum, n) => sum + Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** n), 0) / 1000;
/**
 * While webhooks are reordered, each transfer's events are held up to this long, then delivered newest first. Daily
 * promises no order, and its concurrent deliveries and retries reorder events by seconds, not by whole calls.
 */
const REORDER_HOLD_MS = 5_000;
/**
 * How long a transfer waits for Daily's `triggered` after a request with an unknown outcome. Once the leg is out of
 * the room, a missing `triggered` is what makes the workflow send again, so the window must outlast the longest
 * webhook delay here: held for the reorder (5 s), then first refused during the relay's outage (up to ~10 s) and
 * delivered by the retry 21 s after that.
 */
const RECONCILE_WINDOW_SEC = 30;
/** The whole run of one scenario, transfers included, must end within this. */
const DEADLINE_MS = 7 * 60_000;

/**
 * The `outage` scenario: Temporal is stopped at `OUTAGE_AT_SEC` — or later, once every transfer's first request has
 * reached Daily (at most `OUTAGE_WAIT_SEC` more), so that Daily has calls ringing to report — for `OUTAGE_SEC`, well
 * past the sandbox's whole retry schedule: any event refused at the start of the outage would have been dropped.
 * `KILL_AFTER_SEC` into it, with the spool holding everything Daily sent since, the relay is SIGKILLed and started
 * again on its file at once (a relay takes 2–25 s to start on a loaded 2-core machine; Daily's deliveries meanwhile
 * find no relay and are retried, and the sandbox's 45 s of retries must cover that).
 */
const OUTAGE_AT_SEC = 30;
const OUTAGE_WAIT_SEC = 45;
const OUTAGE_SEC = 75;
const KILL_AFTER_SEC = 50;

const SCENARIO_NAMES = ['crashes', 'outage'] as const;
type ScenarioName = (typeof SCENARIO_NAMES)[number];

interface Scenario {
  name: ScenarioName;
  defaultTransfers: number;
  /**
   * Transfers start at a steady rate over this window. `crashes`: answered calls last one to two minutes, so that
   * well over a hundred are in flight at once while the event rate stays within what Temporal on SQLite (with fsync)
   * keeps up with on 2 shared cores: the run tests durability, not overload.
   */
  startWindowSec: number;
  /** The ring timeout of the destinations that answer. */
  ringSec: number;
  /** How long a transfer waits for Daily's `triggered` after a request with an unknown outcome. */
  reconcileWindowSec: number;
  /** Daily API faults: the drip, and a failed first request to each second destination and rollback. */
  apiFaults: boolean;
  /** Ranges (ms) of the destinations' behaviour: an agent answering and hanging up, a busy line, a REFER accepted. */
  calls: {
    answerMs: [number, number];
    hangUpMs: [number, number];
    busyMs: [number, number];
    referMs: [number, number];
  };
}

const SCENARIOS: Record<ScenarioName, Scenario> = {
  crashes: {
    name: 'crashes',
    defaultTransfers: 200,
    startWindowSec: 120,
    ringSec: 60,
    reconcileWindowSec: RECONCILE_WINDOW_SEC,
    apiFaults: true,
    calls: {
      answerMs: [1_000, 5_000],
      hangUpMs: [60_000, 120_000],
      // Busy within the reorder hold, so that `completed` (busy) can arrive before `initiated`.
      busyMs: [1_000, REORDER_HOLD_MS - 1_000],
      referMs: [1_000, 3_000],
    },
  },
  // Every timer a transfer set before the outage must outlast it and the drain after it: a ring timeout or a reconcile
  // window that ran out while Temporal was away would fire at once when it came back, racing the spooled events that
  // settle it — a true `answered` could lose to the timer (ring 240 s, reconcile window 100 s, against a 75 s outage
  // and a drain of seconds). Daily's API works throughout: this run is about the relay.
  // Every transfer starts before the outage and its destination answers, is busy or accepts the REFER 20–60 s later
  // (calls last 20–60 s), so that most of Daily's events (answered, busy, completed) arrive while Temporal is away.
  outage: {
    name: 'outage',
    defaultTransfers: 100,
    startWindowSec: 20,
    ringSec: 240,
    reconcileWindowSec: 100,
    apiFaults: false,
    calls: {
      answerMs: [20_000, 60_000],
      hangUpMs: [20_000, 60_000],
      busyMs: [20_000, 60_000],
      referMs: [20_000, 60_000],
    },
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Scenarios and what each must end in
// ---------------------------------------------------------------------------------------------------------------

const KINDS = ['answered', 'second-answers', 'busy-rollback', 'refer'] as const;
type Kind = (typeof KINDS)[number];

interface Expected {
  state: TransferState;
  attempts: Array<{ method: TransferMethod; toEndPoint: string; outcome: AttemptOutcome }>;
  /** The fallback, when the scenario exhausts the destinations (recorded apart from the attempts). */
  fallback?: { action: 'rollback' | 'none'; toEndPoint?: string; ok: boolean };
  /** Where the caller's leg ends: hung up after the call, moved, back in its room, parked (flagged), or never moved. */
  leg: 'ended' | 'transferred' | 'back-in-room' | 'parked' | 'in-room';
  /** The transfer must be flagged for operators (`needsAttention`): the evidence ran out. */
  needsAttention?: boolean;
}

interface Planned {
  index: number;
  kind: Kind;
  room: string;
  sessionId: string;
  request: TransferRequest;
  expected: Expected;
  scenarios: Array<[string, DestinationScenario]>;
  /**
   * A fault for the request that follows an earlier one, when the leg is already out of the room (a second
   * destination, a rollback): there only Daily's `triggered` tells whether it took effect.
   */
  outsideRoomFault?: { toEndPoint: string; fault: Fault };
}

/** mulberry32: the run's timings are reproducible from `--seed`. */
function random(seed: number): (min: number, max: number) => number {
  let state = seed >>> 0;
  return (min, max) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(min + unit * (max - min));
  };
}

/** Transfer `index`'s scenario and outcome; `createRoom` makes its room at the sandbox and returns the room's SIP URI. */
function plan(
  index: number,
  between: (min: number, max: number) => number,
  createRoom: (room: string) => string,
  model: 'docs' | 'extended',
  scenario: Scenario
): Planned {
  const kind = KINDS[index % KINDS.length] as Kind;
  const room = `chaos-${index}`;
  const sessionId = randomUUID();
  const roomSipUri = createRoom(room);
  const { answerMs, hangUpMs, busyMs, referMs } = scenario.calls;
  const call = (): DestinationScenario => ({
    kind: 'answer',
    afterMs: between(...answerMs),
    hangUpAfterMs: between(...hangUpMs),
  });
  // Long enough for any event's delays here: a reorder hold, then a delivery refused during an outage and retried.
  const ring = scenario.ringSec;
  const base = {
    room,
    sessionId,
    requestId: `chaos-${index}`,
    reconcileWindowSec: scenario.reconcileWindowSec,
    maxCallDurationSec: 240,
  };
  // Every second-destination and rollback request fails once: half with a 503 (no effect), half with the response
  // lost after it took effect.
  const outsideRoomFault = (toEndPoint: string) => ({
    toEndPoint,
    fault: (index % 8 < 4 ? { kind: 'server-error', status: 503 } : { kind: 'lost-response' }) satisfies Fault,
  });
  const perKind = (): Omit<Planned, 'index' | 'kind' | 'room' | 'sessionId'> => {
    switch (kind) {
      case 'answered': {
        const to = `sip:agent-${index}@pbx.chaos.example`;
        return {
          scenarios: [[to, call()]],
          request: { ...base, attempts: [{ toEndPoint: to, answerTimeoutSec: ring }], onExhausted: 'none' },
          expected: {
            state: 'completed',
            attempts: [{ method: 'sipCallTransfer', toEndPoint: to, outcome: 'answered' }],
            leg: 'ended',
          },
        };
      }
      case 'second-answers': {
        const first = `sip:nobody-${index}@pbx.chaos.example`;
        const second = `sip:backup-${index}@pbx.chaos.example`;
        return {
          scenarios: [
            [first, { kind: 'no-answer' }],
            [second, call()],
          ],
          outsideRoomFault: outsideRoomFault(second),
          request: {
            ...base,
            attempts: [
              { toEndPoint: first, answerTimeoutSec: 3 },
              { toEndPoint: second, answerTimeoutSec: ring },
            ],
            onExhausted: 'none',
          },
          expected: {
            state: 'completed',
            attempts: [
              { method: 'sipCallTransfer', toEndPoint: first, outcome: 'no-answer' },
              { method: 'sipCallTransfer', toEndPoint: second, outcome: 'answered' },
            ],
            leg: 'ended',
          },
        };
      }
      case 'busy-rollback': {
        const to = `+1555${String(1_000_000 + index).slice(-7)}`;
        return {
          scenarios: [[to, { kind: 'busy', afterMs: between(...busyMs) }]],
          outsideRoomFault: outsideRoomFault(roomSipUri),
          request: { ...base, attempts: [{ toEndPoint: to, answerTimeoutSec: ring }], onExhausted: 'rollback' },
          expected: {
            state: 'rolled_back',
            // Daily documents no busy status: under `docs` it is a destination that never answers.
            attempts: [
              { method: 'sipCallTransfer', toEndPoint: to, outcome: model === 'extended' ? 'busy' : 'no-answer' },
            ],
            fallback: { action: 'rollback', toEndPoint: roomSipUri, ok: true },
            leg: 'back-in-room',
          },
        };
      }
      case 'refer': {
        const to = `sip:ivr-${index}@pbx.chaos.example`;
        return {
          scenarios: [[to, { kind: 'refer-accept', afterMs: between(...referMs) }]],
          request: {
            ...base,
            attempts: [{ method: 'sipRefer', toEndPoint: to, answerTimeoutSec: ring }],
            onExhausted: 'none',
          },
          expected: {
            state: 'completed',
            attempts: [{ method: 'sipRefer', toEndPoint: to, outcome: 'answered' }],
            leg: 'transferred',
          },
        };
      }
    }
  };
  return { index, kind, room, sessionId, ...perKind() };
}

/**
 * API faults, dripped in during the run so they hit whichever requests come next, at every stage (on top of each
 * plan's `outsideRoomFault`).
 */
const FAULT_DRIP: Array<{ path: 'sipCallTransfer' | 'sipRefer'; fault: Fault }> = [
  { path: 'sipCallTransfer', fault: { kind: 'rate-limit', retryAfterSec: 1 } },
  { path: 'sipCallTransfer', fault: { kind: 'lost-response' } },
  { path: 'sipCallTransfer', fault: { kind: 'server-error', status: 502 } },
  { path: 'sipRefer', fault: { kind: 'server-error', status: 503 } },
  { path: 'sipRefer', fault: { kind: 'lost-response' } },
  { path: 'sipRefer', fault: { kind: 'rate-limit' } },
];

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

/** Moves to the first transfer's start once the stack is up: the schedule and the timeline count from there. */
let startedAt = Date.now();
const elapsed = () => ((Date.now() - startedAt) / 1000).toFixed(1).padStart(5);
const timeline: Array<{ atSec: number; action: string }> = [];
function log(action: string): void {
  timeline.push({ atSec: Math.round((Date.now() - startedAt) / 100) / 10, action });
  console.log(`[${elapsed()} s] ${action}`);
}

interface RelayLine {
  /** The relay process that wrote it (it is killed and started again). */
  pid: number;
  eventId: string;
  outcome: 'signaled' | 'unmatched';
}

interface Check {
  name: string;
  passed: boolean;
  detail: string;
  failures: string[];
  /** What the JSON keeps about each failure to debug it: the workflow's record and what the sandbox saw. */
  evidence?: unknown[];
}

/** A failed transfer's record next to the sandbox's requests for its room, for the JSON. */
function transferEvidence(p: Planned, result: TransferResult, sandbox: Sandbox): unknown {
  return {
    transfer: p.index,
    kind: p.kind,
    workflowId: result.workflowId,
    state: result.state,
    attempts: result.attempts.map((a) => ({
      toEndPoint: a.toEndPoint,
      outcome: a.outcome,
      decidedBy: a.decidedBy,
      requests: a.requests,
      startedAt: a.startedAt,
      endedAt: a.endedAt,
      events: a.events.map((e) => `${e.receivedAt} ${e.type}${e.acted ? '' : ' (not acted on)'}`),
    })),
    fallback: result.fallback,
    lateEvents: result.lateEvents.map((e) => `${e.receivedAt} ${e.type}`),
    sandboxRequests: sandbox.requests({ room: p.room }).map((r) => ({
      at: new Date(r.at).toISOString(),
      endpoint: r.endpoint,
      toEndPoint: (r.body as { toEndPoint?: string } | undefined)?.toEndPoint,
      status: r.status,
      faulted: r.faulted,
    })),
    leg: sandbox.participant(p.room, p.sessionId),
  };
}

interface Flags {
  transfers?: number;
  seed: number;
  reorder: boolean;
  model: 'docs' | 'extended';
}

async function main(): Promise<void> {
  const flags = new Command('chaos')
    .description(
      'Transfers under worker crashes, Temporal and relay restarts and Daily faults (crashes), and under a Temporal ' +
        'outage longer than Daily retries with the relay killed on a full spool (outage)'
    )
    .addOption(
      new Option('--scenario <name>', 'which schedule: crashes, outage, or both one after the other')
        .choices([...SCENARIO_NAMES, 'all'])
        .default('all')
    )
    .option(
      '--transfers <n>',
      `transfers per scenario (default ${SCENARIOS.crashes.defaultTransfers} for crashes, ` +
        `${SCENARIOS.outage.defaultTransfers} for outage)`,
      positiveInteger
    )
    .option('--seed <n>', 'seed for the scenarios’ timings (default: random, printed)', positiveInteger)
    .option('--no-reorder', 'deliver webhooks in order (duplicates still on): isolates failures that reordering causes')
    .addOption(
      new Option('--model <model>', "Daily's event model: what it documents, or its newer schema")
        .choices(['docs', 'extended'])
        .default('docs')
    )
    .parse()
    .opts<{
      scenario: ScenarioName | 'all';
      transfers?: number;
      seed?: number;
      reorder: boolean;
      model: 'docs' | 'extended';
    }>();
  const seed = flags.seed ?? 1 + Math.floor(Math.random() * 2 ** 30);
  const names = flags.scenario === 'all' ? SCENARIO_NAMES : [flags.scenario];
  const outcomes: Array<{ name: ScenarioName; summary: string; passed: boolean }> = [];
  for (const name of names) outcomes.push({ name, ...(await runScenario(SCENARIOS[name], { ...flags, seed })) });
  if (outcomes.length > 1) {
    console.log('');
    for (const o of outcomes) console.log(`${o.passed ? 'PASS' : 'FAIL'}  scenario ${o.name}: ${o.summary}`);
  }
  process.exitCode = outcomes.every((o) => o.passed) ? 0 : 1;
}

/** One scenario on a stack of its own (dev server on a fresh data file, sandbox, relay and spool, two workers). */
async function runScenario(scenario: Scenario, flags: Flags): Promise<{ summary: string; passed: boolean }> {
  const runStarted = Date.now();
  startedAt = runStarted;
  timeline.length = 0;
  const { seed } = flags;
  const transferCount = flags.transfers ?? scenario.defaultTransfers;
  log(
    `chaos run, scenario ${scenario.name}: ${transferCount} transfers (seed ${seed}, Daily's ${flags.model} event model)`
  );

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-chaos-'));
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const dbFile = path.join(dataDir, 'temporal.db');
  const temporalPort = await freePort();
  let temporal: TemporalServer = await startTemporal({ dbFile, port: temporalPort });
  const machine = machineInfo(temporal.version);
  const sandbox = await startSandbox({ port: 0, timing: TIMING, model: { completedStatus: flags.model } });
  const between = random(seed);
  const planned = Array.from({ length: transferCount }, (_, i) =>
    plan(i, between, (room) => sandbox.createRoom(room).sipUri, flags.model, scenario)
  );
  const daily = new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase });
  // gRPC's reconnect backoff grows to minutes during an outage; the run should see Temporal back within seconds.
  const connection = await Connection.connect({
    address: temporal.address,
    channelArgs: { 'grpc.max_reconnect_backoff_ms': 5000 },
  });
  const taskQueue = `chaos-${randomUUID()}`;
  const client = new Client({ connection });
  const transfers = new TransferClient(client, taskQueue);

  // The relay: its log lines are the per-event record of what it did with each delivery, across restarts.
  const relayLines: RelayLine[] = [];
  const relayErrors = new Map<string, number>();
  const unexpectedExits: string[] = [];
  const restartOnCrash = (proc: NodeProcess, code: number | null, signal: NodeJS.Signals | null) => {
    unexpectedExits.push(`${proc.name} exited on its own (${code ?? signal}) at ${elapsed().trim()} s`);
    log(`${proc.name} exited on its own (${code ?? signal}); restarting it`);
    proc.start();
  };
  const secret = randomBytes(32).toString('base64');
  const relay = relayProcess({
    port: await freePort(),
    temporalAddress: temporal.address,
    webhookSecret: secret,
    onUnexpectedExit: restartOnCrash,
    onLine: (line, pid) => {
      const entry = jsonLine(line);
      if (typeof entry?.eventId !== 'string') return;
      // Why the relay asked Daily to retry: the first line of the signal's error, counted.
      const cause = typeof entry.error === 'string' ? entry.error.split('\n')[0] : undefined;
      if (cause !== undefined) relayErrors.set(cause, (relayErrors.get(cause) ?? 0) + 1);
      const outcome =
        entry.msg === 'event signaled'
          ? 'signaled'
          : entry.msg === 'no running transfer for event'
            ? 'unmatched'
            : undefined;
      if (outcome) relayLines.push({ pid, eventId: entry.eventId, outcome });
    },
  });
  // The workers log at warn level: what they warn about (a reconciled request, a rate limit) explains failures.
  const workerWarnings: Array<Record<string, unknown>> = [];
  const workers = [1, 2].map((n) =>
    workerProcess({
      name: `worker-${n}`,
      temporalAddress: temporal.address,
      taskQueue,
      dailyApiUrl: sandbox.apiBase,
      dailyApiKey: sandbox.apiKey,
      onUnexpectedExit: restartOnCrash,
      onLine: (line) => {
        const entry = workerWarnings.length < 500 ? jsonLine(line) : undefined;
        if (entry) workerWarnings.push({ worker: n, ...pick(entry, ['msg', 'workflowId', 'detail', 'error']) });
      },
    })
  ) as [NodeProcess, NodeProcess];

  const results = new Map<number, TransferResult | Error>();
  const running: Array<Promise<void>> = [];
  const inFlight = () => running.length - results.size;
  let peakInFlight = 0;
  // The webhook's state, watched for the whole run: FAILED even for a moment is a failure.
  const webhookStates = new Set<string>();
  let maxFailedCount = 0;
  const watch = setInterval(() => {
    peakInFlight = Math.max(peakInFlight, inFlight());
    for (const webhook of sandbox.webhooks()) {
      webhookStates.add(webhook.state);
      maxFailedCount = Math.max(maxFailedCount, webhook.failedCount);
    }
  }, 100);

  let temporalOutageSec = 0;
  // The outage scenario's figures.
  let spooledAtKill: number | undefined;
  let drainedSec: number | undefined;
  let stopDrainPoll = () => undefined as void;
  /** When the relay was dead (SIGKILLed until it answered again). */
  const relayDown: Array<{ from: number; to: number }> = [];
  try {
    relay.process.start();
    for (const worker of workers) worker.start();
    await waitForHttp(`${relay.url}/readyz`, 'relay');
    await setupWebhook({ daily, url: `${relay.url}${WEBHOOK_PATH}`, hmac: secret });
    for (const p of planned) {
      sandbox.addCaller(p.room, { sessionId: p.sessionId });
      for (const [to, scenario] of p.scenarios) sandbox.setScenario(to, scenario);
      if (p.outsideRoomFault && scenario.apiFaults) {
        const { toEndPoint, fault } = p.outsideRoomFault;
        sandbox.queueFault({ path: 'sipCallTransfer', toEndPoint }, fault);
      }
    }
    await waitForPollers(client, taskQueue, workers.length);
    const upSec = ((Date.now() - runStarted) / 1000).toFixed(1);
    startedAt = Date.now();
    log(`stack up in ${upSec} s: Temporal ${temporal.address} (data on disk), relay ${relay.url}, 2 workers polling`);

    const deadline = runStarted + DEADLINE_MS - 30_000;
    /** Starts every transfer at its time, without waiting for earlier starts (they retry through outages). */
    const startAll = async () => {
      log(`starting ${planned.length} transfers over ${scenario.startWindowSec} s`);
      const starts: Array<Promise<void>> = [];
      for (const p of planned) {
        const wait = startedAt + (p.index * scenario.startWindowSec * 1000) / planned.length - Date.now();
        if (wait > 0) await sleep(wait);
        starts.push(
          retrying(`start transfer ${p.index}`, deadline, () => transfers.start(p.request)).then((started) => {
            running.push(
              retrying(`result of transfer ${p.index}`, deadline, () => started.handle.result()).then(
                (result) => void results.set(p.index, result),
                (err: unknown) => void results.set(p.index, err instanceof Error ? err : new Error(String(err)))
              )
            );
          })
        );
      }
      await Promise.all(starts);
      log(`all ${planned.length} started`);
    };
    const dripFaults = (round: number) => {
      const { path: endpoint, fault } = FAULT_DRIP[round % FAULT_DRIP.length] as (typeof FAULT_DRIP)[number];
      sandbox.queueFault({ path: endpoint }, fault);
      const other = FAULT_DRIP[(round + 1) % FAULT_DRIP.length] as (typeof FAULT_DRIP)[number];
      sandbox.queueFault({ path: other.path }, other.fault);
    };
    const killWorker = async (worker: NodeProcess) => {
      log(`SIGKILL ${worker.name} (${inFlight()} transfers in flight)`);
      await worker.kill();
    };
    const restartWorker = (worker: NodeProcess) => {
      log(`restart ${worker.name}`);
      worker.start();
    };

    /**
     * SIGKILLs the relay, counts the jobs its spool file holds, and starts it again on the same file and port after
     * `downSec`; returns that count. Daily's deliveries meanwhile find no relay: the window is recorded for the check
     * that Daily saw only 2xx.
     */
    const killRelay = async (downSec: number): Promise<number> => {
      const from = Date.now();
      await relay.process.kill();
      const spooled = spooledJobs(relay.spoolPath).length;
      if (downSec > 0) await sleep(downSec * 1000);
      relay.process.start();
      await waitForHttp(`${relay.url}/healthz`, 'relay');
      relayDown.push({ from, to: Date.now() });
      return spooled;
    };

    // The schedule: each step runs at its time (or as soon as the previous one has finished).
    const [w1, w2] = workers;
    const steps: Array<[number, () => Promise<void> | void]> =
      scenario.name === 'outage'
        ? outageSteps()
        : [
            [10, () => killWorker(w1)],
            [13, () => restartWorker(w1)],
            [
              20,
              () => {
                const reversed = flags.reorder
                  ? `, each transfer’s events held up to ${REORDER_HOLD_MS / 1000} s and reversed`
                  : '';
                log(`webhook faults on: every event twice${reversed}`);
                sandbox.setWebhookFaults({ duplicate: 1, reorder: flags.reorder, reorderHoldMs: REORDER_HOLD_MS });
              },
            ],
            [
              28,
              async () => {
                log('SIGKILL relay');
                const spooled = await killRelay(0);
                log(`relay restarted (its spool file held ${spooled} jobs)`);
              },
            ],
            [45, () => killWorker(w2)],
            [48, () => restartWorker(w2)],
            [
              80,
              async () => {
                log('stopping the Temporal dev server');
                const down = Date.now();
                await temporal.stop();
                temporal = await startTemporal({ dbFile, port: temporalPort });
                temporalOutageSec = (Date.now() - down) / 1000;
                log(`Temporal dev server back after ${temporalOutageSec.toFixed(1)} s (same data file)`);
              },
            ],
            [
              90,
              () => {
                log('webhook faults off');
                sandbox.setWebhookFaults({});
              },
            ],
            [
              100,
              async () => {
                await killWorker(w1);
                await killWorker(w2);
              },
            ],
            [
              103,
              () => {
                restartWorker(w1);
                restartWorker(w2);
              },
            ],
          ];
    /**
     * Temporal away for far longer than Daily retries an event, while transfers ring and webhooks flow (each twice):
     * the relay keeps answering 200 and its spool fills; SIGKILLed with that full spool, it starts again on the
     * file; then Temporal comes back on its data file and the relay drains what it holds.
     */
    function outageSteps(): Array<[number, () => Promise<void> | void]> {
      return [
        [
          5,
          () => {
            log('webhook faults on: every event twice');
            sandbox.setWebhookFaults({ duplicate: 1 });
          },
        ],
        [
          OUTAGE_AT_SEC,
          async () => {
            const requested = () =>
              new Set(
                sandbox
                  .requests()
                  .filter((r) => r.endpoint === 'sipCallTransfer' || r.endpoint === 'sipRefer')
                  .map((r) => r.room)
              ).size;
            const waitUntil = Date.now() + OUTAGE_WAIT_SEC * 1000;
            while (requested() < planned.length && Date.now() < waitUntil) await sleep(250);
            log(
              `stopping the Temporal dev server for ${OUTAGE_SEC} s (${inFlight()} transfers in flight, ` +
                `${requested()} of them requested from Daily; the sandbox retries an event for ` +
                `${WHOLE_RETRY_SCHEDULE_SEC} s)`
            );
            const down = Date.now();
            await temporal.stop();
            log('Temporal dev server stopped');

            await sleep(down + KILL_AFTER_SEC * 1000 - Date.now());
            const metrics = await scrapeMetrics(relay.url);
            log(
              `SIGKILL relay: /metrics says ${metrics.get('switchboard_relay_spool_pending_events') ?? '?'} jobs ` +
                `spooled, the oldest ${(metrics.get('switchboard_relay_spool_oldest_pending_age_seconds') ?? 0).toFixed(0)} s old`
            );
            spooledAtKill = await killRelay(0);
            log(`relay restarted on the same spool file, which held ${spooledAtKill} jobs`);

            await sleep(down + OUTAGE_SEC * 1000 - Date.now());
            temporal = await startTemporal({ dbFile, port: temporalPort });
            const back = Date.now();
            temporalOutageSec = (back - down) / 1000;
            log(`Temporal dev server back after ${temporalOutageSec.toFixed(1)} s (same data file)`);
            // How long the drain of what the outage left took: until the oldest job still spooled is younger than
            // Temporal's return (new events keep arriving as the transfers move on).
            const poll = setInterval(() => {
              scrapeMetrics(relay.url).then(
                (metrics) => {
                  const oldestSec = metrics.get('switchboard_relay_spool_oldest_pending_age_seconds');
                  const now = Date.now();
                  if (oldestSec === undefined || drainedSec !== undefined || now - oldestSec * 1000 < back) return;
                  drainedSec = (now - back) / 1000;
                  clearInterval(poll);
                  log(
                    `every event spooled during the outage handed to Temporal ${drainedSec.toFixed(1)} s after it came ` +
                      `back (${metrics.get('switchboard_relay_spool_pending_events') ?? '?'} newer jobs spooled)`
                  );
                },
                () => undefined
              );
            }, 500);
            poll.unref();
            stopDrainPoll = () => clearInterval(poll);
          },
        ],
        [
          OUTAGE_AT_SEC + OUTAGE_SEC + 15,
          () => {
            log('webhook faults off');
            sandbox.setWebhookFaults({});
          },
        ],
      ];
    }
    if (scenario.apiFaults) {
      for (let round = 0; round < 22; round += 1) steps.push([round * 5 + 2, () => dripFaults(round)]);
    }
    steps.sort((a, b) => a[0] - b[0]);
    const starting = startAll();
    for (const [atSec, step] of steps) {
      const wait = startedAt + atSec * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      await step();
    }
    await starting;

    log(`chaos over (at most ${peakInFlight} transfers were in flight at once); waiting for them to finish`);
    const ticker = setInterval(() => log(`  ${results.size}/${planned.length} transfers closed`), 10_000);
    await Promise.all(running).finally(() => clearInterval(ticker));
    log('every transfer has a result; waiting for the sandbox to deliver what is left');
    const idleWait = Math.max(1_000, runStarted + DEADLINE_MS - 10_000 - Date.now());
    await Promise.race([sandbox.idle(), sleep(idleWait, undefined, { ref: false })]);
    clearInterval(watch);

    stopDrainPoll();
    // Late events (after a transfer closed) are still being dead-lettered: the spool must empty before it is judged.
    let finalMetrics = await scrapeMetrics(relay.url);
    const drainDeadline = Math.max(Date.now() + 10_000, runStarted + DEADLINE_MS);
    while ((finalMetrics.get('switchboard_relay_spool_pending_events') ?? 0) > 0 && Date.now() < drainDeadline) {
      await sleep(500);
      finalMetrics = await scrapeMetrics(relay.url);
    }
    const checks = [
      checkOutcomes(planned, results, sandbox),
      checkRequests(planned, results, sandbox),
      checkWebhooks(planned, results, sandbox, relayLines, relay.process.pid, finalMetrics),
      checkWebhookState(sandbox, webhookStates, maxFailedCount, temporalOutageSec, relayErrors),
      checkOnly2xx(sandbox, relayDown),
      checkNothingLost(sandbox, relayLines, relay.spoolPath),
      ...(scenario.name === 'outage' ? [checkOutageRan(temporalOutageSec, spooledAtKill, drainedSec)] : []),
    ];
    const passed = checks.filter((c) => c.passed).length;
    const width = Math.max(...checks.map((c) => c.name.length));
    console.log('');
    for (const c of checks) console.log(`${c.passed ? 'PASS' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}`);
    for (const check of checks.filter((c) => !c.passed)) {
      console.log(`\n${check.name}:`);
      for (const failure of check.failures.slice(0, 20)) console.log(`  - ${failure}`);
      if (check.failures.length > 20) console.log(`  … and ${check.failures.length - 20} more`);
    }
    if (unexpectedExits.length > 0) console.log(`\nnote: ${unexpectedExits.join('; ')}`);
    const summary = `${passed} passed, ${checks.length - passed} failed`;
    const file = writeResult(scenario.name === 'crashes' ? 'chaos' : `chaos-${scenario.name}`, {
      command: ['npm run chaos', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
      at: new Date().toISOString(),
      machine,
      parameters: {
        transfers: planned.length,
        scenario: scenario.name,
        startWindowSec: scenario.startWindowSec,
        ringSec: scenario.ringSec,
        reconcileWindowSec: scenario.reconcileWindowSec,
        apiFaults: scenario.apiFaults,
        seed,
        reorder: flags.reorder,
        timing: TIMING,
        faults: FAULT_DRIP,
      },
      durationSec: (Date.now() - runStarted) / 1000,
      timeline,
      peakInFlight,
      temporalOutageSec,
      relayDown: relayDown.map((w) => ({
        fromSec: (w.from - startedAt) / 1000,
        toSec: (w.to - startedAt) / 1000,
      })),
      spooledAtKill,
      drainedSec,
      finalRelayMetrics: Object.fromEntries(
        [...finalMetrics].filter(([name]) => /^switchboard_relay_(webhooks|spool|dead|signal_retries|ack)/.test(name))
      ),
      unexpectedExits,
      workerWarnings,
      startedAt: new Date(startedAt).toISOString(),
      checks: checks.map((c) => ({ ...c, failures: c.failures.slice(0, 50), evidence: c.evidence?.slice(0, 50) })),
      summary,
    });
    console.log(`\n${summary} (${((Date.now() - runStarted) / 1000).toFixed(0)} s in all; details in ${file})`);
    return { summary, passed: passed === checks.length };
  } finally {
    clearInterval(watch);
    stopDrainPoll();
    for (const worker of workers) await worker.kill();
    await sandbox.close();
    await relay.process.stop();
    await daily.close();
    await connection.close();
    await temporal.stop();
  }
}

/** A pino JSON log line, or undefined for anything else a process prints. */
function jsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function pick(entry: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => entry[key] !== undefined).map((key) => [key, entry[key]]));
}

/** Until `count` workers poll the task queue: the schedule must not kill a worker that is still bundling. */
async function waitForPollers(client: Client, taskQueue: string, count: number, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue },
    });
    if (new Set(pollers.map((poller) => poller.identity)).size >= count) return;
    if (Date.now() > deadline)
      throw new Error(`${count} workers did not poll ${taskQueue} within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/**
 * Retries what fails while a worker, the relay or Temporal is down (connection errors, deadlines), until `deadline`.
 * A workflow that failed is an answer, not an outage: it is returned as the error it is.
 */
async function retrying<T>(what: string, deadline: number, call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (err instanceof WorkflowFailedError) throw err;
      if (Date.now() > deadline) throw new Error(`${what}: gave up at the deadline (${(err as Error).message})`);
      await sleep(500);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Invariants
// ---------------------------------------------------------------------------------------------------------------

const describeAttempts = (attempts: ReadonlyArray<{ method: string; toEndPoint: string; outcome?: string }>) =>
  attempts.map((a) => `${a.method === 'sipRefer' ? 'refer ' : ''}${a.toEndPoint}: ${a.outcome ?? '?'}`).join(', ');

/**
 * What a plan must end in, given what Daily (the sandbox's request log) did. A request sent while the caller was
 * already out of the room (a second destination, a rollback) that failed with a 5xx took no effect, and no webhook
 * can confirm it: the leg model never sends it again, so the attempt is `unknown` and the transfer flagged. Which
 * request a dripped fault hits is chance; the log says which did.
 */
function expectedFor(p: Planned, sandbox: Sandbox): Expected {
  const sent = sandbox
    .requests({ room: p.room })
    .filter((r) => r.endpoint === 'sipCallTransfer' || r.endpoint === 'sipRefer');
  const to = (toEndPoint: string) => sent.filter((r) => (r.body as { toEndPoint?: string }).toEndPoint === toEndPoint);
  // Nothing Daily acted on: every request refused (5xx, 429) or never sent (a worker killed before sending it).
  const unheard = (toEndPoint: string) =>
    !to(toEndPoint).some((r) => r.status === 200 || r.faulted === 'lost-response');
  const [first, second] = p.expected.attempts;
  // The first destination, asked while the caller is in the room, is sent again after each refusal — up to the
  // workflow's 5 requests, which dripped faults can use up.
  if (first && unheard(first.toEndPoint) && to(first.toEndPoint).length >= 5) {
    const gaveUp = { ...first, outcome: 'api-error' as const };
    // Then the next destination is asked with the caller still in the room, or the rollback finds nothing to undo.
    if (p.kind === 'second-answers' && second) return { ...p.expected, attempts: [gaveUp, second] };
    if (p.kind === 'busy-rollback') {
      return { state: 'rolled_back', attempts: [gaveUp], fallback: { action: 'rollback', ok: true }, leg: 'in-room' };
    }
    return { state: 'failed', attempts: [gaveUp], leg: 'in-room' };
  }
  if (p.kind === 'second-answers' && first && second && !unheard(first.toEndPoint) && unheard(second.toEndPoint)) {
    // Nothing else rings, and `none` does not leave the caller ringing the first destination: the leg is ended.
    return {
      state: 'failed',
      attempts: [first, { ...second, outcome: 'unknown' }],
      fallback: { action: 'none', ok: true },
      leg: 'ended',
      needsAttention: true,
    };
  }
  const rollback = p.expected.fallback?.toEndPoint;
  if (p.kind === 'busy-rollback' && rollback && unheard(rollback)) {
    return {
      ...p.expected,
      state: 'failed',
      fallback: { action: 'rollback', toEndPoint: rollback, ok: false },
      leg: 'parked',
      needsAttention: true,
    };
  }
  return p.expected;
}

function checkOutcomes(planned: Planned[], results: Map<number, TransferResult | Error>, sandbox: Sandbox): Check {
  const failures: string[] = [];
  const evidence: unknown[] = [];
  const byKind = new Map<Kind, number>();
  for (const p of planned) {
    const result = results.get(p.index);
    const where = `#${p.index} ${p.kind}`;
    if (!result || result instanceof Error) {
      failures.push(`${where}: no result (${result?.message ?? 'never finished'})`);
      continue;
    }
    const expected = expectedFor(p, sandbox);
    const got = result.attempts.map((a) => ({ method: a.method, toEndPoint: a.toEndPoint, outcome: a.outcome }));
    const { fallback } = result;
    const fallbackOk = expected.fallback
      ? fallback?.ok === expected.fallback.ok &&
        fallback.action === expected.fallback.action &&
        fallback.toEndPoint === expected.fallback.toEndPoint
      : fallback === undefined;
    if (
      result.state !== expected.state ||
      JSON.stringify(got) !== JSON.stringify(expected.attempts) ||
      !fallbackOk ||
      (result.needsAttention !== undefined) !== (expected.needsAttention ?? false)
    ) {
      const expectedFallback = expected.fallback
        ? `, then ${expected.fallback.action} to ${expected.fallback.toEndPoint ?? 'the leg'} (ok: ${expected.fallback.ok})`
        : '';
      failures.push(
        `${where}: expected ${expected.state} [${describeAttempts(expected.attempts)}${expectedFallback}]` +
          `${expected.needsAttention ? ', flagged' : ''}, ` +
          `got ${result.state} [${describeAttempts(got)}]${fallback ? ` (fallback ${fallback.action}: ${fallback.detail})` : ''}`
      );
      evidence.push(transferEvidence(p, result, sandbox));
      continue;
    }
    const leg = sandbox.participant(p.room, p.sessionId);
    const legOk =
      expected.leg === 'back-in-room'
        ? leg?.room === p.room &&
          leg.sessionId !== undefined &&
          sandbox.participant(p.room, leg.sessionId)?.state === 'in-room'
        : leg?.state === expected.leg;
    if (!legOk) {
      failures.push(`${where}: caller's leg should be ${expected.leg}, is ${JSON.stringify(leg)}`);
      evidence.push(transferEvidence(p, result, sandbox));
      continue;
    }
    byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + 1);
  }
  const counts = KINDS.map((kind) => `${byKind.get(kind) ?? 0} ${kind}`).join(', ');
  return {
    name: 'every transfer closed with its scenario’s outcome',
    passed: failures.length === 0,
    detail: `${planned.length - failures.length}/${planned.length} (${counts})`,
    failures,
    evidence,
  };
}

function checkRequests(planned: Planned[], results: Map<number, TransferResult | Error>, sandbox: Sandbox): Check {
  const failures: string[] = [];
  const refused = new Map<string, number>();
  let effective = 0;
  let lost = 0;
  for (const p of planned) {
    const sent = sandbox
      .requests({ room: p.room })
      .filter((r) => r.endpoint === 'sipCallTransfer' || r.endpoint === 'sipRefer');
    // A 200, or a lost response (it took effect; the worker never heard): Daily acted on it. 429s and 5xx did not.
    const tookEffect = sent.filter((r) => r.status === 200 || r.faulted === 'lost-response');
    for (const r of sent) {
      if (!tookEffect.includes(r)) refused.set(String(r.status), (refused.get(String(r.status)) ?? 0) + 1);
    }
    effective += tookEffect.length;
    lost += sent.filter((r) => r.faulted === 'lost-response').length;
    const result = results.get(p.index);
    if (!result || result instanceof Error) {
      failures.push(`#${p.index} ${p.kind}: no result to compare ${tookEffect.length} requests with`);
      continue;
    }
    const requested = tookEffect.map((r) => `${r.endpoint}→${(r.body as { toEndPoint?: string }).toEndPoint}`);
    // The fallback transfer (rollback or refer) is one more attempt at Daily, recorded in `fallback`.
    const { fallback } = result;
    const fallbackMethod = fallback?.action === 'refer' ? 'sipRefer' : 'sipCallTransfer';
    // Exactly one request took effect per attempt — none or one for an attempt that ended unknown or api-error (and a
    // fallback that failed) — and never two.
    const fallbackAttempt = fallback?.toEndPoint
      ? [{ key: `${fallbackMethod}→${fallback.toEndPoint}`, sure: fallback.ok }]
      : [];
    const attempts = [
      ...result.attempts.map((a) => ({
        key: `${a.method}→${a.toEndPoint}`,
        // Refused or never confirmed: none may have taken effect.
        sure: a.outcome !== 'unknown' && a.outcome !== 'api-error',
      })),
      ...fallbackAttempt,
    ];
    const count = (key: string) => requested.filter((r) => r === key).length;
    const wrong = [
      ...attempts.filter((a) => (a.sure ? count(a.key) !== 1 : count(a.key) > 1)).map((a) => a.key),
      ...requested.filter((r) => !attempts.some((a) => a.key === r)),
    ];
    if (wrong.length > 0) {
      failures.push(
        `#${p.index} ${p.kind}: attempts [${attempts.map((a) => a.key).join(', ')}], requests that took effect [${requested.join(', ')}]`
      );
    }
  }
  const refusals = [...refused].map(([status, n]) => `${n}×${status}`).join(', ') || 'none';
  return {
    name: 'exactly one transfer request per attempt (at most one when it ended unknown or api-error)',
    passed: failures.length === 0,
    detail: `${effective} took effect (${lost} with the response lost); refused and sent again: ${refusals}`,
    failures,
  };
}

function checkWebhooks(
  planned: Planned[],
  results: Map<number, TransferResult | Error>,
  sandbox: Sandbox,
  relayLines: RelayLine[],
  relayPid: number,
  finalMetrics: Map<string, number>
): Check {
  const failures: string[] = [];
  const delivered = new Map<string, number>();
  for (const d of sandbox.deliveries())
    if (d.status === 200) delivered.set(d.eventId, (delivered.get(d.eventId) ?? 0) + 1);
  const applied = new Map<string, number>();
  for (const line of relayLines) applied.set(line.eventId, (applied.get(line.eventId) ?? 0) + 1);
  // Each event answered 200 must be applied (signaled, or found no running transfer) at least once, by this relay or
  // a later one draining its spool. The relay dedupes by event id, so several 200s for one event stand for one record.
  for (const [eventId, count] of delivered) {
    const records = applied.get(eventId) ?? 0;
    if (records === 0) failures.push(`event ${eventId}: ${count} deliveries answered 200, none applied`);
  }
  // The log is only a faithful record if the running relay's own counters agree with what it logged.
  const counted =
    (finalMetrics.get('switchboard_relay_webhooks_signaled_total') ?? 0) +
    (finalMetrics.get('switchboard_relay_webhooks_unmatched_total') ?? 0);
  const logged = relayLines.filter((line) => line.pid === relayPid).length;
  if (counted !== logged) failures.push(`relay /metrics counts ${counted} events applied, its log ${logged}`);
  // Workflows: at most one effect per event id, and only for events Daily sent about that leg.
  const emitted = new Set(sandbox.emittedEvents().map((e) => e.id));
  for (const p of planned) {
    const result = results.get(p.index);
    if (!result || result instanceof Error) continue;
    const ids = [...result.attempts.flatMap((a) => a.events), ...result.lateEvents].map((e) => e.id);
    const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (duplicates.length > 0) failures.push(`#${p.index}: recorded ${duplicates.join(', ')} more than once`);
    const unknown = ids.filter((id) => !emitted.has(id));
    if (unknown.length > 0) failures.push(`#${p.index}: recorded events the sandbox never sent: ${unknown.join(', ')}`);
  }
  const deliveries200 = [...delivered.values()].reduce((a, b) => a + b, 0);
  const signaled = relayLines.filter((l) => l.outcome === 'signaled').length;
  const unmatched = relayLines.length - signaled;
  return {
    name: 'every delivered webhook applied or unmatched',
    passed: failures.length === 0,
    detail: `${deliveries200} deliveries answered 200 for ${delivered.size} events: ${signaled} signaled, ${unmatched} unmatched`,
    failures,
  };
}

function checkWebhookState(
  sandbox: Sandbox,
  states: Set<string>,
  maxFailedCount: number,
  outageSec: number,
  relayErrors: Map<string, number>
): Check {
  const failures: string[] = [];
  const webhook = sandbox.webhooks()[0];
  if (!webhook) failures.push('the webhook is gone');
  else if (webhook.retryType !== 'exponential') failures.push(`retryType is ${webhook.retryType}`);
  if (states.has('FAILED')) failures.push('the webhook was FAILED during the run');
  const deliveries = sandbox.deliveries();
  const dropped = deliveries.filter((d) => d.status === 'dropped');
  for (const d of dropped) failures.push(`event ${d.eventId} (${d.type}) dropped after ${d.attempt} attempts`);
  // When deliveries failed, per 10 s of the run, and what the relay said about the 503s it answered.
  const failedPer10s: Record<string, Record<string, number>> = {};
  for (const d of deliveries) {
    if (d.status === 200 || d.status === 'dropped') continue;
    const from = Math.floor((d.at - startedAt) / 10_000) * 10;
    const bucket = (failedPer10s[`${from}-${from + 10} s`] ??= {});
    bucket[String(d.status)] = (bucket[String(d.status)] ?? 0) + 1;
  }
  const evidence: unknown[] = [{ failedAttemptsPer10s: failedPer10s, relay503Causes: Object.fromEntries(relayErrors) }];
  evidence.push(
    ...dropped.map((d) => ({
      eventId: d.eventId,
      type: d.type,
      attempts: deliveries
        .filter((a) => a.eventId === d.eventId && a.status !== 'dropped')
        .map((a) => `${new Date(a.at).toISOString()} attempt ${a.attempt}: ${a.status}`),
    }))
  );
  const retried = new Map<string, number>();
  for (const d of deliveries) {
    if (d.status !== 200 && d.status !== 'dropped')
      retried.set(String(d.status), (retried.get(String(d.status)) ?? 0) + 1);
  }
  const retries = [...retried].map(([status, n]) => `${n}×${status}`).join(', ') || 'none';
  const maxAttempt = Math.max(0, ...deliveries.map((d) => d.attempt));
  return {
    name: 'webhook never FAILED, nothing dropped',
    passed: failures.length === 0,
    detail:
      `states seen: ${[...states].join(', ')}; failed attempts retried: ${retries} (up to attempt ${maxAttempt}, ` +
      `${maxFailedCount} in a row; Temporal outage ${outageSec.toFixed(1)} s); ${dropped.length} dropped`,
    failures,
    evidence,
  };
}

/** The jobs a relay's spool file still holds (signals and forwards), read beside the relay or after its death. */
function spooledJobs(spoolPath: string): Job[] {
  const spool = new Spool(spoolPath, { readonly: true });
  try {
    return [...spool.pending('signal'), ...spool.pending('forward')];
  } finally {
    spool.close();
  }
}

/**
 * Daily saw only 2xx from the relay: the relay answers 200 for everything it can verify and store, whatever Temporal
 * does. An attempt that got no answer at all (connection refused or reset, no answer within the sandbox's timeout) is
 * allowed only while the relay was dead, from a SIGKILL until it answered again.
 */
function checkOnly2xx(sandbox: Sandbox, relayDown: ReadonlyArray<{ from: number; to: number }>): Check {
  const failures: string[] = [];
  const statuses = new Map<string, number>();
  let whileDown = 0;
  let attempts = 0;
  for (const d of sandbox.deliveries()) {
    if (d.status === 'dropped') continue; // checkWebhookState's
    attempts += 1;
    const where = `event ${d.eventId} (${d.type}) attempt ${d.attempt} at ${new Date(d.at).toISOString()}`;
    if (typeof d.status === 'number') {
      statuses.set(String(d.status), (statuses.get(String(d.status)) ?? 0) + 1);
      if (d.status < 200 || d.status > 299) failures.push(`${where}: the relay answered ${d.status}`);
      continue;
    }
    // Sent up to one timeout before the kill (it never got its answer), or before the relay listened again.
    if (relayDown.some((w) => d.at >= w.from - WEBHOOK_TIMEOUT_MS && d.at <= w.to + 1_000)) whileDown += 1;
    else failures.push(`${where}: no answer while the relay was up`);
  }
  const answered = [...statuses].map(([status, n]) => `${n}×${status}`).join(', ') || 'none';
  return {
    name: 'Daily saw only 2xx from the relay',
    passed: failures.length === 0,
    detail:
      `${attempts} attempts: answered ${answered}; ${whileDown} found no relay while it was SIGKILLed ` +
      `(${relayDown.length} kill${relayDown.length === 1 ? '' : 's'}, ` +
      `${relayDown.map((w) => `${((w.to - w.from) / 1000).toFixed(1)} s`).join(', ') || '—'} down)`,
    failures,
  };
}

/**
 * Nothing lost in the spool: every event the relay answered 200 for was signaled (its log, across restarts) or is
 * in the dead-letter table with a reason, and the spool file holds no job any more (read from the file itself).
 */
function checkNothingLost(sandbox: Sandbox, relayLines: RelayLine[], spoolPath: string): Check {
  const failures: string[] = [];
  const spool = new Spool(spoolPath, { readonly: true });
  let left: Job[];
  let deadLetters: DeadLetter[];
  try {
    left = [...spool.pending('signal'), ...spool.pending('forward')];
    deadLetters = spool.deadLetters();
  } finally {
    spool.close();
  }
  for (const job of left.slice(0, 20)) {
    failures.push(
      `still spooled: ${job.kind} of ${job.eventId} (${job.type}) for ${job.lane} after ${job.attempts} tries` +
        `${job.lastError ? ` (last: ${job.lastError.split('\n')[0]})` : ''}`
    );
  }
  if (left.length > 20) failures.push(`… and ${left.length - 20} more jobs still spooled`);
  const signaled = new Set(relayLines.filter((l) => l.outcome === 'signaled').map((l) => l.eventId));
  const deadReason = new Map<string, string>();
  for (const d of deadLetters) {
    if (d.eventId !== undefined) deadReason.set(d.eventId, d.reason);
    if (!d.reason) failures.push(`dead letter ${d.id} (${d.eventId ?? 'no id'}) has no reason`);
  }
  const accepted = new Set(sandbox.deliveries().flatMap((d) => (d.status === 200 ? [d.eventId] : [])));
  let signaledCount = 0;
  const reasons = new Map<string, number>();
  for (const id of accepted) {
    const reason = deadReason.get(id);
    if (signaled.has(id)) signaledCount += 1;
    else if (reason !== undefined) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    else failures.push(`event ${id}: answered 200, neither signaled nor dead-lettered`);
  }
  const dead = [...reasons].map(([reason, n]) => `${n} ${reason}`).join(', ') || 'none';
  const lost = accepted.size - signaledCount - [...reasons.values()].reduce((a, b) => a + b, 0);
  return {
    name: 'nothing lost: every accepted event signaled or dead-lettered, spool empty',
    passed: failures.length === 0,
    detail:
      `${accepted.size} events answered 200: ${signaledCount} signaled, dead-lettered ${dead}, ${lost} lost; ` +
      `${left.length} jobs left in the spool file`,
    failures,
  };
}

/** The outage scenario really did what it claims: Temporal away past the whole retry schedule, a full spool killed. */
function checkOutageRan(outageSec: number, spooledAtKill: number | undefined, drainedSec: number | undefined): Check {
  const failures: string[] = [];
  if (outageSec <= WHOLE_RETRY_SCHEDULE_SEC) {
    failures.push(
      `Temporal was away ${outageSec.toFixed(1)} s, not longer than the ${WHOLE_RETRY_SCHEDULE_SEC} s schedule`
    );
  }
  if (!spooledAtKill) failures.push(`the relay was SIGKILLed holding ${spooledAtKill ?? 'no'} jobs`);
  return {
    name: 'long outage and full-spool kill happened',
    passed: failures.length === 0,
    detail:
      `Temporal away ${outageSec.toFixed(1)} s (> the ${WHOLE_RETRY_SCHEDULE_SEC} s retry schedule); relay SIGKILLed ` +
      `holding ${spooledAtKill ?? '?'} jobs, restarted on its file; the outage's events drained ` +
      `${drainedSec === undefined ? '(not seen)' : `${drainedSec.toFixed(1)} s`} after Temporal came back`,
    failures,
  };
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
