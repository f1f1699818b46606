/**
 * `npm run bench`: what a transfer costs with Switchboard, against three baselines run in the same invocation on the
 * same Temporal server, all on this machine and on loopback:
 *
 * - **switchboard**: `transferCall` on the production worker (`src/worker.ts`), Daily's events as webhooks from the
 *   sandbox through the relay (`src/relay/main.ts`), each its own process;
 * - **engine floor**: a minimal workflow of the same shape (`baselines/floor-workflow.ts`), signaled directly by a
 *   Temporal client on the sandbox's timeline: what Temporal itself costs here;
 * - **floor via relay**: the same, with every event POSTed to the relay as a signed webhook instead: the relay's cost
 *   per event, against the direct signal;
 * - **no durability**: an in-memory orchestrator (`baselines/in-memory-orchestrator.ts`) making the same REST calls
 *   to the sandbox and reacting to the same webhooks: what durability costs.
 *
 * Each runs a warm-up, then answered transfers one at a time (latency without queueing), then N at concurrency C in a
 * closed loop (throughput, CPU and memory, read from /proc for each process), and the bench prints one table; the
 * figures, machine, versions and parameters go to `bench/results/bench-<time>.json`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { Command, InvalidArgumentError } from 'commander';
import { Agent, request } from 'undici';
import { TransferClient } from '../src/client/transfers';
import { DailyClient } from '../src/daily';
import type { TransferInput } from '../src/shared';
import { transferWorkflowId } from '../src/shared';
import { freePort } from '../src/local/dev-server';
import { WEBHOOK_PATH } from '../src/relay/app';
import { setupWebhook } from '../src/relay/webhook-setup';
import type { Sandbox } from '../src/sandbox';
import { startSandbox } from '../src/sandbox';
import type { Timeline } from './baselines/event-source';
import type { BurstOptions } from './burst';
import { burstBench, DEFAULT_RING_TIMEOUT_SEC, SEARCH_SIZES } from './burst';
import { EventSource } from './baselines/event-source';
import type { floorTransfer } from './baselines/floor-workflow';
import type { InMemoryResult } from './baselines/in-memory-orchestrator';
import { NodeProcess, UsageWindow } from './processes';
import type { MachineInfo, Percentiles } from './report';
import { machineInfo, percentiles, table, writeResult } from './report';
import type { TemporalServer } from './stack';
import {
  exitWatch,
  positiveInteger,
  relayProcess,
  scrapeMetrics,
  startTemporal,
  waitForHttp,
  workerProcess,
} from './stack';

/** Daily's sequence for an answered transfer, with delays short enough to measure the machinery, not the phone. */
const TIMELINE: Timeline = { triggeredMs: 10, initiatedMs: 20, answerMs: 100, hangUpMs: 100 };
const DESTINATION = 'sip:agent@pbx.bench.example';
const ANSWER_TIMEOUT_SEC = 30;
const MAX_CALL_DURATION_SEC = 60;
/** Longest a measured run may take before the bench gives up on it. */
const PHASE_TIMEOUT_MS = 4 * 60_000;

/**
 * `latency`: transfers run one at a time, so that latencies are the system's own and not queueing; `transfers` at
 * `concurrency`: the loaded run that gives throughput and CPU (2 cores saturate at a few transfers in flight).
 */
const PRESETS = {
  full: { transfers: 300, concurrency: 20, warmup: 30, latency: 30 },
  quick: { transfers: 40, concurrency: 10, warmup: 10, latency: 10 },
};

interface Options {
  transfers: number;
  concurrency: number;
  warmup: number;
  latency: number;
  quick: boolean;
  temporal?: string;
  /** `--burst N` / `--burst-search`: the burst scenario (`burst.ts`) instead of the four runs. */
  burst?: BurstOptions;
}

function parseOptions(): Options {
  const flags = new Command('bench')
    .description('Measure Switchboard against its baselines (engine floor, no durability, direct signals)')
    .option('--transfers <n>', 'transfers per measured run (default 300, --quick 40)', positiveInteger)
    .option('--concurrency <n>', 'transfers in flight at once (default 20, --quick 10)', positiveInteger)
    .option('--quick', 'a smaller run that finishes in under a minute', false)
    .option('--temporal <host:port>', 'use this Temporal server (search attributes registered) instead of a dev server')
    .option(
      '--burst <n>',
      'start N transfers at once to a destination that never answers (see bench/README.md)',
      positiveInteger
    )
    .option(
      '--burst-search [sizes]',
      `the largest burst whose start → request sent p99 is within 2 s (sizes default ${SEARCH_SIZES.join(',')})`,
      sizeList
    )
    .option('--ring-timeout <sec>', `the burst's ring timeout (default ${DEFAULT_RING_TIMEOUT_SEC})`, positiveInteger)
    .option('--burst-system <name>', 'the burst for one system only: switchboard or floor (default both)', burstSystem)
    .option(
      '--dynamic-config <key=value>',
      "the burst's dev servers: a dynamic config value (repeatable), e.g. matching.numTaskqueueReadPartitions=1",
      dynamicConfigValue,
      {} as Record<string, string | number | boolean>
    )
    .parse()
    .opts<{
      transfers?: number;
      concurrency?: number;
      quick: boolean;
      temporal?: string;
      burst?: number;
      burstSearch?: number[] | true;
      ringTimeout?: number;
      burstSystem?: 'switchboard' | 'floor';
      dynamicConfig: Record<string, string | number | boolean>;
    }>();
  const preset = flags.quick ? PRESETS.quick : PRESETS.full;
  const search = flags.burstSearch !== undefined;
  const burst: BurstOptions | undefined =
    flags.burst !== undefined || search
      ? {
          sizes: search ? (flags.burstSearch === true ? SEARCH_SIZES : flags.burstSearch!) : [flags.burst!],
          search,
          ringTimeoutSec: flags.ringTimeout ?? DEFAULT_RING_TIMEOUT_SEC,
          systems: flags.burstSystem ? [flags.burstSystem] : ['floor', 'switchboard'],
          goalMs: 2000,
          budgetSec: 20 * 60,
          temporal: flags.temporal,
          dynamicConfig: flags.dynamicConfig,
          command: ['npm run bench --', ...process.argv.slice(2)].join(' '),
        }
      : undefined;
  return {
    burst,
    transfers: flags.transfers ?? preset.transfers,
    concurrency: flags.concurrency ?? preset.concurrency,
    warmup: preset.warmup,
    latency: preset.latency,
    quick: flags.quick,
    temporal: flags.temporal,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Measuring one run
// ---------------------------------------------------------------------------------------------------------------

/** One transfer as the bench saw it; times are epoch ms on this machine's clock (the server's is the same). */
interface Sample {
  workflowId: string;
  startMs: number;
  ok: boolean;
  /** Each event the transfer took in, and when its state was updated (workflow time of the task, for Temporal). */
  events: Array<{ id: string; type: string; appliedAtMs: number }>;
}

interface ProcessPids {
  /** The Switchboard worker, the floor's worker, or the in-memory orchestrator. */
  worker: number;
  relay?: number;
  temporal?: number;
}

interface Measured {
  /** The transfers run one at a time. */
  unloaded: Sample[];
  /** The transfers run at the chosen concurrency, over which CPU and memory are measured. */
  samples: Sample[];
  wallSec: number;
  cpuSec: { worker: number; relay?: number; temporal?: number };
  workerPeakRssBytes: number;
  /** Events the relay handed to Temporal or acknowledged as unmatched during the run, from its /metrics. */
  relayEvents?: number;
}

/** Runs `one` for labels run-0..run-(n-1), `concurrency` at a time, each slot starting the next when one ends. */
async function closedLoop(
  prefix: string,
  n: number,
  concurrency: number,
  one: (label: string) => Promise<Sample>
): Promise<Sample[]> {
  const samples: Sample[] = [];
  let next = 0;
  const slot = async () => {
    for (let i = next++; i < n; i = next++) samples.push(await one(`${prefix}-${i}`));
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, slot));
  return samples;
}

async function relayEventCount(relayUrl: string): Promise<number> {
  const metrics = await scrapeMetrics(relayUrl);
  return (
    (metrics.get('switchboard_relay_webhooks_signaled_total') ?? 0) +
    (metrics.get('switchboard_relay_webhooks_unmatched_total') ?? 0)
  );
}

/**
 * Warm-up (not measured: JIT, connection pools, caches), the unloaded latency run, then the loaded run with CPU and
 * RSS windows.
 */
async function measure(
  opts: Options,
  pids: ProcessPids,
  relayUrl: string | undefined,
  failed: Promise<never>,
  one: (label: string) => Promise<Sample>
): Promise<Measured> {
  const deadline = new Promise<never>((_resolve, reject) =>
    setTimeout(() => reject(new Error(`run did not finish in ${PHASE_TIMEOUT_MS / 1000} s`)), PHASE_TIMEOUT_MS).unref()
  );
  const bounded = <T>(work: Promise<T>) => Promise.race([work, failed, deadline]);
  await bounded(closedLoop('warm', opts.warmup, opts.concurrency, one));
  progress(`  warmed up; ${opts.latency} transfers one at a time`);
  const unloaded = await bounded(closedLoop('one', opts.latency, 1, one));
  progress(`  ${opts.transfers} transfers at concurrency ${opts.concurrency}`);
  const relayBefore = relayUrl ? await relayEventCount(relayUrl) : 0;
  const window = new UsageWindow(Object.values(pids).filter((pid): pid is number => pid !== undefined));
  const started = Date.now();
  const samples = await bounded(closedLoop('run', opts.transfers, opts.concurrency, one));
  const wallSec = (Date.now() - started) / 1000;
  const usage = window.finish();
  const cpu = (pid: number | undefined) => (pid === undefined ? undefined : (usage.get(pid)?.cpuSec ?? 0));
  return {
    unloaded,
    samples,
    wallSec,
    cpuSec: { worker: cpu(pids.worker) ?? 0, relay: cpu(pids.relay), temporal: cpu(pids.temporal) },
    workerPeakRssBytes: usage.get(pids.worker)?.peakRssBytes ?? 0,
    relayEvents: relayUrl ? (await relayEventCount(relayUrl)) - relayBefore : undefined,
  };
}

/** Mean history length of the transfers' workflows (Temporal's own unit of work and storage). */
async function meanHistoryLength(client: Client, samples: readonly Sample[]): Promise<number> {
  let total = 0;
  let next = 0;
  const slot = async () => {
    for (let i = next++; i < samples.length; i = next++) {
      const sample = samples[i];
      if (!sample) continue;
      const { historyLength } = await client.workflow.getHandle(sample.workflowId).describe();
      total += historyLength;
    }
  };
  await Promise.all(Array.from({ length: 8 }, slot));
  return total / samples.length;
}

/** When the sandbox sent each event (its first delivery that got a 200). */
function sandboxSendTimes(sandbox: Sandbox): (id: string) => number | undefined {
  const sent = new Map<string, number>();
  for (const delivery of sandbox.deliveries()) {
    if (delivery.status === 200 && !sent.has(delivery.eventId)) sent.set(delivery.eventId, delivery.at);
  }
  return (id) => sent.get(id);
}

/** How long the receiver took to answer that first delivery, as the sandbox (Daily's side) timed it. */
function sandboxAckTimes(sandbox: Sandbox): (id: string) => number | undefined {
  const ack = new Map<string, number>();
  for (const delivery of sandbox.deliveries()) {
    if (delivery.status === 200 && delivery.durationMs !== undefined && !ack.has(delivery.eventId)) {
      ack.set(delivery.eventId, delivery.durationMs);
    }
  }
  return (id) => ack.get(id);
}

// ---------------------------------------------------------------------------------------------------------------
// The four runs
// ---------------------------------------------------------------------------------------------------------------

interface PhaseReport {
  name: string;
  transfersPerSec: number;
  failedTransfers: number;
  /** One transfer at a time. */
  startToTriggeredMs?: Percentiles;
  eventToStateMs?: Percentiles;
  /** The event's sender waiting for its acknowledgement: the webhook's 200 (relay, orchestrator), or the signal call. */
  ackMs?: Percentiles;
  /** At the chosen concurrency. */
  loadedStartToTriggeredMs?: Percentiles;
  loadedEventToStateMs?: Percentiles;
  loadedAckMs?: Percentiles;
  historyEventsPerTransfer?: number;
  workerCpuMsPerTransfer: number;
  workerPeakRssMiB: number;
  relayCpuMsPerEvent?: number;
  relayEvents?: number;
  temporalCpuMsPerTransfer?: number;
  totalCpuMsPerTransfer: number;
}

function report(
  name: string,
  opts: Options,
  measured: Measured,
  sentAt: (id: string) => number | undefined,
  ackMs: (id: string) => number | undefined,
  historyEventsPerTransfer?: number
): PhaseReport {
  const { samples, cpuSec } = measured;
  const triggered = (of: Sample[]) =>
    percentiles(
      of.flatMap((s) => {
        const event = s.events.find((e) => e.type === 'calltransfer.triggered');
        return event ? [event.appliedAtMs - s.startMs] : [];
      })
    );
  const eventLatency = (of: Sample[]) =>
    percentiles(
      of.flatMap((s) =>
        s.events.flatMap((e) => {
          const sent = sentAt(e.id);
          return sent === undefined ? [] : [e.appliedAtMs - sent];
        })
      )
    );
  const ackLatency = (of: Sample[]) =>
    percentiles(
      of.flatMap((s) =>
        s.events.flatMap((e) => {
          const ms = ackMs(e.id);
          return ms === undefined ? [] : [ms];
        })
      )
    );
  const perTransfer = (sec: number | undefined) => (sec === undefined ? undefined : (sec * 1000) / opts.transfers);
  const relayCpuMsPerEvent =
    cpuSec.relay !== undefined && measured.relayEvents ? (cpuSec.relay * 1000) / measured.relayEvents : undefined;
  return {
    name,
    transfersPerSec: samples.filter((s) => s.ok).length / measured.wallSec,
    failedTransfers: [...measured.unloaded, ...samples].filter((s) => !s.ok).length,
    startToTriggeredMs: triggered(measured.unloaded),
    eventToStateMs: eventLatency(measured.unloaded),
    ackMs: ackLatency(measured.unloaded),
    loadedStartToTriggeredMs: triggered(samples),
    loadedEventToStateMs: eventLatency(samples),
    loadedAckMs: ackLatency(samples),
    historyEventsPerTransfer,
    workerCpuMsPerTransfer: perTransfer(cpuSec.worker) ?? 0,
    workerPeakRssMiB: measured.workerPeakRssBytes / 2 ** 20,
    relayCpuMsPerEvent,
    relayEvents: measured.relayEvents,
    temporalCpuMsPerTransfer: perTransfer(cpuSec.temporal),
    totalCpuMsPerTransfer: perTransfer(cpuSec.worker + (cpuSec.relay ?? 0) + (cpuSec.temporal ?? 0)) ?? 0,
  };
}

/**
 * Everything the runs share, started once up front: both workers bundle their workflow code at start (seconds of
 * CPU), so they start together, before anything is measured, and each is stopped after its own runs.
 */
interface Rig {
  opts: Options;
  temporal: TemporalServer;
  client: Client;
  relay: { process: NodeProcess; url: string; secret: string };
  watch: ReturnType<typeof exitWatch>;
  switchboard: { sandbox: Sandbox; daily: DailyClient; worker: NodeProcess; taskQueue: string };
  floor: { source: EventSource; worker: NodeProcess; taskQueue: string };
}

function transferInput(room: string, sessionId: string): TransferInput {
  return {
    room,
    sessionId,
    attempts: [{ method: 'sipCallTransfer', toEndPoint: DESTINATION, answerTimeoutSec: ANSWER_TIMEOUT_SEC }],
    onExhausted: { action: 'none' },
    requestId: randomUUID(),
    maxCallDurationSec: MAX_CALL_DURATION_SEC,
    reconcileWindowSec: 2,
    maxRetryAfterSec: 30,
  };
}

async function benchSandbox(): Promise<{ sandbox: Sandbox; daily: DailyClient }> {
  const sandbox = await startSandbox({
    port: 0,
    timing: { triggeredMs: TIMELINE.triggeredMs, initiatedMs: TIMELINE.initiatedMs },
  });
  sandbox.setScenario(DESTINATION, { kind: 'answer', afterMs: TIMELINE.answerMs, hangUpAfterMs: TIMELINE.hangUpMs });
  return { sandbox, daily: new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase }) };
}

async function switchboardRun(rig: Rig): Promise<PhaseReport> {
  const { opts, client, relay, watch } = rig;
  const { sandbox, daily, worker, taskQueue } = rig.switchboard;
  await setupWebhook({ daily, url: `${relay.url}${WEBHOOK_PATH}`, hmac: relay.secret });
  const transfers = new TransferClient(client, taskQueue);
  progress('switchboard');
  const pids = { worker: worker.pid, relay: relay.process.pid, temporal: rig.temporal.pid };
  const measured = await measure(opts, pids, relay.url, watch.failed, async (label) => {
    const room = `sb-${label}`;
    sandbox.createRoom(room);
    const { sessionId } = sandbox.addCaller(room);
    const startMs = Date.now();
    const started = await transfers.start(transferInput(room, sessionId));
    const result = await started.handle.result();
    return {
      workflowId: started.workflowId,
      startMs,
      ok: result.state === 'completed',
      events: [...result.attempts.flatMap((a) => a.events), ...result.lateEvents].map((e) => ({
        id: e.id,
        type: e.type,
        appliedAtMs: Date.parse(e.receivedAt),
      })),
    };
  });
  await sandbox.idle();
  const history = await meanHistoryLength(client, measured.samples);
  return report('switchboard', opts, measured, sandboxSendTimes(sandbox), sandboxAckTimes(sandbox), history);
}

/** The engine floor: its events signaled directly by a client, or POSTed to the relay as Daily webhooks. */
async function floorRun(rig: Rig, via: 'direct' | 'relay'): Promise<PhaseReport> {
  const { opts, client, relay, watch } = rig;
  const { source, worker, taskQueue } = rig.floor;
  source.deliverVia(
    via === 'direct' ? { kind: 'direct', client } : { kind: 'relay', url: relay.url, secret: relay.secret }
  );
  progress(via === 'direct' ? 'engine floor: direct signals' : 'engine floor: events through the relay');
  const retriesBefore = source.retries;
  const pids = {
    worker: worker.pid,
    temporal: rig.temporal.pid,
    relay: via === 'relay' ? relay.process.pid : undefined,
  };
  const measured = await measure(opts, pids, via === 'relay' ? relay.url : undefined, watch.failed, async (label) => {
    const room = `floor-${via}-${label}`;
    const sessionId = randomUUID();
    const startMs = Date.now();
    const handle = await client.workflow.start<typeof floorTransfer>('floorTransfer', {
      taskQueue,
      workflowId: transferWorkflowId(room, sessionId),
      args: [
        {
          room,
          sessionId,
          toEndPoint: DESTINATION,
          answerTimeoutSec: ANSWER_TIMEOUT_SEC,
          maxCallDurationSec: MAX_CALL_DURATION_SEC,
        },
      ],
    });
    const result = await handle.result();
    return {
      workflowId: handle.workflowId,
      startMs,
      ok: result.answered,
      events: result.events.map((e) => ({ id: e.id, type: e.type, appliedAtMs: e.receivedAtMs })),
    };
  });
  await source.idle();
  if (source.failures > 0) throw new Error(`${source.failures} engine-floor events were not accepted`);
  const retried = source.retries - retriesBefore;
  if (retried > 0) progress(`  the relay refused ${retried} deliveries (503 under load); each was sent again`);
  const history = await meanHistoryLength(client, measured.samples);
  return report(
    via === 'direct' ? 'engine floor' : 'floor via relay',
    opts,
    measured,
    (id) => source.sentAtMs(id),
    (id) => source.ackMs(id),
    history
  );
}

async function noDurabilityRun(rig: Rig): Promise<PhaseReport> {
  const { opts, watch } = rig;
  const { sandbox, daily } = await benchSandbox();
  const secret = randomBytes(32).toString('base64');
  const url = `http://127.0.0.1:${await freePort()}`;
  const orchestrator = new NodeProcess({
    name: 'in-memory-orchestrator',
    script: 'bench/baselines/in-memory-orchestrator.ts',
    env: {
      PORT: new URL(url).port,
      DAILY_API_URL: sandbox.apiBase,
      DAILY_API_KEY: sandbox.apiKey,
      DAILY_WEBHOOK_SECRET: secret,
    },
    onUnexpectedExit: watch.onUnexpectedExit,
  }).start();
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  try {
    await waitForHttp(`${url}/healthz`, 'in-memory orchestrator');
    await setupWebhook({ daily, url: `${url}${WEBHOOK_PATH}`, hmac: secret });
    progress('no durability');
    const measured = await measure(opts, { worker: orchestrator.pid }, undefined, watch.failed, async (label) => {
      const room = `mem-${label}`;
      sandbox.createRoom(room);
      const { sessionId } = sandbox.addCaller(room);
      const startMs = Date.now();
      const started = await request(`${url}/transfers`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(transferInput(room, sessionId)),
      });
      const { id } = (await started.body.json()) as { id: string };
      const done = await request(`${url}/transfers/${encodeURIComponent(id)}/result`, { dispatcher: agent });
      const result = (await done.body.json()) as InMemoryResult;
      return {
        workflowId: id,
        startMs,
        ok: result.state === 'completed',
        events: result.events.map((e) => ({ id: e.id, type: e.type, appliedAtMs: Date.parse(e.receivedAt) })),
      };
    });
    await sandbox.idle();
    return report('no durability', opts, measured, sandboxSendTimes(sandbox), sandboxAckTimes(sandbox));
  } finally {
    await orchestrator.stop();
    await sandbox.close();
    await daily.close();
    await agent.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------------------

const startedAt = Date.now();
function progress(what: string): void {
  console.log(`[${((Date.now() - startedAt) / 1000).toFixed(0).padStart(3)} s] ${what}`);
}

const fixed = (value: number | undefined, digits = 1) => (value === undefined ? '—' : value.toFixed(digits));
const triple = (p: Percentiles | undefined) => (p ? `${fixed(p.p50)} / ${fixed(p.p95)} / ${fixed(p.p99)}` : '—');
/** Acks are sub-millisecond to a few ms: two decimals. */
const tripleFine = (p: Percentiles | undefined) =>
  p ? `${fixed(p.p50, 2)} / ${fixed(p.p95, 2)} / ${fixed(p.p99, 2)}` : '—';
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? '—' : `${(a / b).toFixed(2)}×`;

function render(phases: PhaseReport[], opts: Options, machine: MachineInfo): string {
  const [sb, floor, viaRelay, memory] = phases as [PhaseReport, PhaseReport, PhaseReport, PhaseReport];
  const rows: string[][] = [
    ['', ...phases.map((p) => p.name)],
    [`completed transfers/s at concurrency ${opts.concurrency}`, ...phases.map((p) => fixed(p.transfersPerSec))],
    ['one at a time, ms (p50 / p95 / p99):'],
    ['  start → triggered', ...phases.map((p) => triple(p.startToTriggeredMs))],
    ['  webhook sent → state updated', ...phases.map((p) => triple(p.eventToStateMs))],
    ['  event acked (sender: 200 or signal)', ...phases.map((p) => tripleFine(p.ackMs))],
    [`at concurrency ${opts.concurrency}, ms (p50 / p95 / p99):`],
    ['  start → triggered', ...phases.map((p) => triple(p.loadedStartToTriggeredMs))],
    ['  webhook sent → state updated', ...phases.map((p) => triple(p.loadedEventToStateMs))],
    ['  event acked (sender: 200 or signal)', ...phases.map((p) => tripleFine(p.loadedAckMs))],
    ['history events / transfer', ...phases.map((p) => fixed(p.historyEventsPerTransfer))],
    ['worker CPU ms / transfer', ...phases.map((p) => fixed(p.workerCpuMsPerTransfer))],
    ['worker peak RSS MiB', ...phases.map((p) => fixed(p.workerPeakRssMiB, 0))],
    ['relay CPU ms / event', ...phases.map((p) => fixed(p.relayCpuMsPerEvent, 2))],
    ['Temporal server CPU ms / transfer', ...phases.map((p) => fixed(p.temporalCpuMsPerTransfer))],
    ['total CPU ms / transfer', ...phases.map((p) => fixed(p.totalCpuMsPerTransfer))],
  ];
  const failed = phases.filter((p) => p.failedTransfers > 0);
  const vs = (base: PhaseReport) =>
    [
      `throughput ${ratio(sb.transfersPerSec, base.transfersPerSec)}`,
      `start→triggered p50 ${ratio(sb.startToTriggeredMs?.p50, base.startToTriggeredMs?.p50)}`,
      `event→state p50 ${ratio(sb.eventToStateMs?.p50, base.eventToStateMs?.p50)}`,
      `CPU/transfer ${ratio(sb.totalCpuMsPerTransfer, base.totalCpuMsPerTransfer)}`,
    ].join(', ');
  const relayOverhead =
    viaRelay.eventToStateMs && floor.eventToStateMs
      ? `+${fixed(viaRelay.eventToStateMs.p50 - floor.eventToStateMs.p50)} ms p50 event→state ` +
        `(${fixed(floor.eventToStateMs.p50)} → ${fixed(viaRelay.eventToStateMs.p50)}), ` +
        `${fixed(viaRelay.relayCpuMsPerEvent, 2)} ms relay CPU per event, ` +
        `throughput ${ratio(viaRelay.transfersPerSec, floor.transfersPerSec)}`
      : '—';
  const pair = (p: Percentiles | undefined) => (p ? `${fixed(p.p50, 2)}/${fixed(p.p99, 2)}` : '—');
  const ackVs =
    `ack p50/p99 ms one at a time ${pair(viaRelay.ackMs)} (relay's 200) vs ${pair(floor.ackMs)} (signal), ` +
    `at concurrency ${opts.concurrency} ${pair(viaRelay.loadedAckMs)} vs ${pair(floor.loadedAckMs)}`;
  return [
    '',
    `per system: ${opts.warmup} warm-up, ${opts.latency} one at a time, ${opts.transfers} at concurrency ${opts.concurrency}; ` +
      `sandbox timeline ${TIMELINE.triggeredMs}/${TIMELINE.initiatedMs}/${TIMELINE.answerMs}/${TIMELINE.hangUpMs} ms`,
    `${machine.nproc} × ${machine.cpuModel}, Node ${machine.node}, Temporal SDK ${machine.temporalSdk}, ` +
      `${machine.temporalCli}, load ${machine.loadAverageAtStart.join(' ')}`,
    '',
    table(rows),
    '',
    `switchboard ÷ engine floor:  ${vs(floor)}`,
    `switchboard ÷ no durability: ${vs(memory)}`,
    `relay vs direct signal:      ${relayOverhead}`,
    `                             ${ackVs}`,
    ...(failed.length > 0
      ? ['', `NOT ALL TRANSFERS COMPLETED: ${failed.map((p) => `${p.name} ${p.failedTransfers}`).join(', ')}`]
      : []),
  ].join('\n');
}

/** Commander parser for `--burst-search 100,200,400`: increasing positive whole numbers. */
function sizeList(value: string): number[] {
  const sizes = value.split(',').map((part) => positiveInteger(part.trim()));
  if (sizes.some((size, i) => i > 0 && size <= (sizes[i - 1] ?? 0))) {
    throw new InvalidArgumentError('sizes must increase, e.g. 100,200,400.');
  }
  return sizes;
}

/** Commander parser for `--dynamic-config key=value` (a JSON value, else a string), accumulated over repeats. */
function dynamicConfigValue(
  value: string,
  previous: Record<string, string | number | boolean>
): Record<string, string | number | boolean> {
  const match = /^([\w.]+)=(.+)$/.exec(value);
  if (!match?.[1] || match[2] === undefined)
    throw new InvalidArgumentError('key=value, e.g. matching.numTaskqueueReadPartitions=1.');
  let parsed: string | number | boolean = match[2];
  try {
    const json: unknown = JSON.parse(match[2]);
    if (typeof json === 'number' || typeof json === 'boolean' || typeof json === 'string') parsed = json;
  } catch {
    // A plain string.
  }
  return { ...previous, [match[1]]: parsed };
}

function burstSystem(value: string): 'switchboard' | 'floor' {
  if (value !== 'switchboard' && value !== 'floor') throw new InvalidArgumentError('switchboard or floor.');
  return value;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  if (opts.burst) {
    if (opts.burst.search && opts.burst.sizes.length === 0) throw new Error('no burst sizes');
    return burstBench(opts.burst);
  }
  progress(`starting (${opts.quick ? 'quick' : 'full'}: ${opts.transfers} transfers, concurrency ${opts.concurrency})`);
  const temporal = await startTemporal({ address: opts.temporal });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const watch = exitWatch();
  const secret = randomBytes(32).toString('base64');
  const relay = relayProcess({
    port: await freePort(),
    temporalAddress: temporal.address,
    webhookSecret: secret,
    onUnexpectedExit: watch.onUnexpectedExit,
  });
  const source = await EventSource.start(TIMELINE, { kind: 'direct', client });
  const sandbox = await benchSandbox();
  const floorQueue = `bench-floor-${randomUUID()}`;
  const floorWorker = new NodeProcess({
    name: 'floor-worker',
    script: 'bench/baselines/floor-worker.ts',
    env: { TEMPORAL_ADDRESS: temporal.address, FLOOR_TASK_QUEUE: floorQueue, FLOOR_EVENT_SOURCE_URL: source.url },
    onUnexpectedExit: watch.onUnexpectedExit,
  });
  const taskQueue = `bench-${randomUUID()}`;
  const worker = workerProcess({
    name: 'worker',
    temporalAddress: temporal.address,
    taskQueue,
    dailyApiUrl: sandbox.sandbox.apiBase,
    dailyApiKey: sandbox.sandbox.apiKey,
    onUnexpectedExit: watch.onUnexpectedExit,
  });
  try {
    relay.process.start();
    worker.start();
    floorWorker.start();
    await waitForHttp(`${relay.url}/readyz`, 'relay');
    const rig: Rig = {
      opts,
      temporal,
      client,
      relay: { ...relay, secret },
      watch,
      switchboard: { ...sandbox, worker, taskQueue },
      floor: { source, worker: floorWorker, taskQueue: floorQueue },
    };
    const machine = machineInfo(temporal.version);
    const floor = await floorRun(rig, 'direct');
    const viaRelay = await floorRun(rig, 'relay');
    await floorWorker.stop();
    const switchboard = await switchboardRun(rig);
    await worker.stop();
    const phases = [switchboard, floor, viaRelay, await noDurabilityRun(rig)];
    const output = render(phases, opts, machine);
    console.log(output);
    const file = writeResult(opts.quick ? 'bench-quick' : 'bench', {
      command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
      at: new Date().toISOString(),
      machine,
      parameters: { ...opts, timeline: TIMELINE, answerTimeoutSec: ANSWER_TIMEOUT_SEC, runner: 'node --import tsx' },
      phases,
      table: output.split('\n'),
    });
    progress(`done; figures in ${file}`);
    if (phases.some((p) => p.failedTransfers > 0)) process.exitCode = 1;
  } finally {
    await worker.stop();
    await floorWorker.stop();
    await source.close();
    await sandbox.sandbox.close();
    await sandbox.daily.close();
    await relay.process.stop();
    await connection.close();
    await temporal.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
