/**
 * `npm run test:cluster`: Switchboard on a self-hosted Temporal cluster, as docker-compose.yml describes it, without
 * Docker. It builds (once, cached) the Temporal server, its schema tool and the UI server from the Go module proxy,
 * runs Debian's PostgreSQL on a private port and data directory, creates the schemas, starts the server (PostgreSQL
 * persistence and visibility, the search attributes registered), the UI, two workers and two relays behind a
 * round-robin proxy, and the sandbox as Daily. Then transfers run while a worker and a relay are SIGKILLed and the
 * Temporal server and PostgreSQL are restarted; it checks that every transfer ends with its scenario's outcome, that
 * no transfer request took effect twice, that no webhook was lost, and that `switchboard replay` replays every
 * history the run produced. Everything listens on 127.0.0.1 and is stopped at the end, also on failure.
 *
 * Exit 0 when every check passes. The figures (build time, run time, transfers, faults survived) end the output.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { Command } from 'commander';
import { NodeProcess } from '../../bench/processes';
import { positiveInteger, waitForHttp } from '../../bench/stack';
import { TransferClient } from '../../src/client/transfers';
import type { TransferRequest } from '../../src/input';
import { freePort } from '../../src/local/dev-server';
import { WEBHOOK_PATH } from '../../src/relay/app';
import { SandboxControl } from '../../src/sandbox/control-client';
import type { DestinationScenario } from '../../src/sandbox';
import type { AttemptOutcome, TransferMethod, TransferResult, TransferState } from '../../src/shared';
import { TASK_QUEUE } from '../../src/shared';
import { ensureGoBinary, goModuleDir } from './build';
import { ensurePostgresInstalled, Postgres } from './postgres';
import { startProxy, type RoundRobinProxy } from './proxy';
import { NAMESPACE, REPO_ROOT, relayEnvironment, workerEnvironment } from './spec';
import { setupSchemas, startTemporalServer, startUi, type TemporalCluster } from './temporal';

const runStarted = Date.now();
const since = (start: number) => ((Date.now() - start) / 1000).toFixed(1);
function log(line: string): void {
  console.log(`[${since(runStarted).padStart(6)} s] ${line}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios: what each transfer must end in, decided before it starts
// ---------------------------------------------------------------------------------------------------------------

const KINDS = ['answered', 'second-answers', 'no-answer-rollback', 'refer'] as const;
type Kind = (typeof KINDS)[number];

interface Planned {
  index: number;
  kind: Kind;
  room: string;
  sessionId: string;
  request: TransferRequest;
  scenarios: Array<[string, DestinationScenario]>;
  expected: {
    state: TransferState;
    attempts: Array<{ method: TransferMethod; toEndPoint: string; outcome: AttemptOutcome }>;
    fallback?: { action: 'rollback'; toEndPoint: string };
  };
}

/**
 * Calls last long enough to span the faults; the ring timeout and the reconcile window outlast the longest outage
 * (a Temporal or PostgreSQL restart takes seconds, Daily's webhook retries tens of seconds).
 */
const RING_SEC = 60;
const RECONCILE_WINDOW_SEC = 30;
/**
 * The rollback rings the room with the attempt's timeout: it must outlast an outage too, or the timer fires before
 * the room's `answered` (held by the relay while Temporal is down) is signaled, and a caller back in the room is
 * reported failed.
 */
const ROLLBACK_RING_SEC = 20;

function plan(index: number, room: string, sessionId: string, roomSipUri: string): Planned {
  const kind = KINDS[index % KINDS.length] as Kind;
  const call = (): DestinationScenario => ({
    kind: 'answer',
    afterMs: 1_000 + ((index * 397) % 3_000),
    hangUpAfterMs: 20_000 + ((index * 7_919) % 20_000),
  });
  const base = { room, sessionId, requestId: `cluster-${index}`, reconcileWindowSec: RECONCILE_WINDOW_SEC };
  switch (kind) {
    case 'answered': {
      const to = `sip:agent-${index}@pbx.cluster.example`;
      return {
        index,
        kind,
        room,
        sessionId,
        scenarios: [[to, call()]],
        request: {
          ...base,
          attempts: [{ toEndPoint: to, answerTimeoutSec: RING_SEC }],
          onExhausted: { action: 'none' },
        },
        expected: {
          state: 'completed',
          attempts: [{ method: 'sipCallTransfer', toEndPoint: to, outcome: 'answered' }],
        },
      };
    }
    case 'second-answers': {
      const first = `sip:nobody-${index}@pbx.cluster.example`;
      const second = `sip:backup-${index}@pbx.cluster.example`;
      return {
        index,
        kind,
        room,
        sessionId,
        scenarios: [
          [first, { kind: 'no-answer' }],
          [second, call()],
        ],
        request: {
          ...base,
          attempts: [
            { toEndPoint: first, answerTimeoutSec: 3 },
            { toEndPoint: second, answerTimeoutSec: RING_SEC },
          ],
          onExhausted: { action: 'none' },
        },
        expected: {
          state: 'completed',
          attempts: [
            { method: 'sipCallTransfer', toEndPoint: first, outcome: 'no-answer' },
            { method: 'sipCallTransfer', toEndPoint: second, outcome: 'answered' },
          ],
        },
      };
    }
    case 'no-answer-rollback': {
      // Never answers: the ring timeout decides, whichever webhook schema the sandbox models (Daily's documented one
      // reports no busy), and the caller goes back to the room.
      const to = `+1555${String(2_000_000 + index).slice(-7)}`;
      return {
        index,
        kind,
        room,
        sessionId,
        scenarios: [[to, { kind: 'no-answer' }]],
        request: {
          ...base,
          attempts: [{ toEndPoint: to, answerTimeoutSec: ROLLBACK_RING_SEC }],
          onExhausted: { action: 'rollback' },
        },
        expected: {
          state: 'rolled_back',
          attempts: [{ method: 'sipCallTransfer', toEndPoint: to, outcome: 'no-answer' }],
          fallback: { action: 'rollback', toEndPoint: roomSipUri },
        },
      };
    }
    case 'refer': {
      const to = `sip:ivr-${index}@pbx.cluster.example`;
      return {
        index,
        kind,
        room,
        sessionId,
        scenarios: [[to, { kind: 'refer-accept', afterMs: 1_000 + ((index * 131) % 2_000) }]],
        request: {
          ...base,
          attempts: [{ method: 'sipRefer', toEndPoint: to, answerTimeoutSec: RING_SEC }],
          onExhausted: { action: 'none' },
        },
        expected: { state: 'completed', attempts: [{ method: 'sipRefer', toEndPoint: to, outcome: 'answered' }] },
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

interface Check {
  name: string;
  passed: boolean;
  detail: string;
  failures: string[];
  /** Workflow ids the failures are about: their histories are saved beside the logs. */
  workflowIds?: string[];
}

/** Everything this run started, stopped in reverse order at the end (bench/processes.ts kills any left on exit). */
const stops: Array<{ name: string; stop: () => Promise<void> }> = [];
async function stopAll(): Promise<void> {
  for (const { name, stop } of stops.reverse()) {
    try {
      await stop();
    } catch (err) {
      console.error(`stopping ${name}: ${(err as Error).message}`);
    }
  }
  stops.length = 0;
}

async function main(): Promise<void> {
  const flags = new Command('test:cluster')
    .description('Switchboard on a PostgreSQL-backed Temporal cluster, two workers, two relays, under faults')
    .option('--transfers <n>', 'transfers, started over the first 40 s (default 40)', positiveInteger, 40)
    .parse()
    .opts<{ transfers: number }>();

  // 1. Binaries: built once per machine.
  log('building or finding the cluster binaries');
  const server = await ensureGoBinary('server', log);
  const sqlTool = await ensureGoBinary('sqlTool', log);
  const uiServer = await ensureGoBinary('ui', log);
  const buildSec = server.buildSec + sqlTool.buildSec + uiServer.buildSec;
  const pgBin = ensurePostgresInstalled(log);

  const stackStarted = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-cluster-'));
  // PostgreSQL runs as the postgres user: it must reach its data directory inside.
  chmodSync(dir, 0o755);
  const logs = path.join(dir, 'logs');
  mkdirSync(logs);
  let keepDir = false;
  try {
    // 2. PostgreSQL, the schemas, the Temporal server, the UI.
    const postgres = await Postgres.create({
      bin: pgBin,
      dir,
      port: await freePort(),
      logFile: path.join(logs, 'postgresql.log'),
      log,
    });
    stops.push({ name: 'PostgreSQL', stop: () => postgres.stop() });
    setupSchemas({ sqlTool: sqlTool.path, serverModuleDir: goModuleDir('server'), postgres });
    log('schemas created: temporal, temporal_visibility (the server module’s versioned PostgreSQL schemas)');
    const temporal = await startTemporalServer({
      binary: server.path,
      dir: path.join(dir, 'temporal'),
      postgres,
      logFile: path.join(logs, 'temporal.log'),
      log,
    });
    stops.push({ name: 'Temporal server', stop: () => temporal.stop() });
    const ui = await startUi({
      binary: uiServer.path,
      dir: path.join(dir, 'ui'),
      temporalAddress: temporal.address,
      logFile: path.join(logs, 'ui.log'),
    });
    stops.push({ name: 'Temporal UI', stop: () => ui.stop() });
    await waitForHttp(`${ui.url}/api/v1/namespaces/${NAMESPACE}`, 'the Temporal UI server');
    log(`Temporal UI: ${ui.url}`);

    // 3. Two relays behind the proxy, the sandbox as Daily (its webhook points at the proxy), two workers.
    const secret = randomBytes(32).toString('base64');
    const relayPorts = [await freePort(), await freePort()];
    const proxy = await startProxy(relayPorts);
    stops.push({ name: 'proxy', stop: () => proxy.close() });
    const sandboxPort = await freePort();
    const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
    const sandboxProcess = nodeProcess('sandbox', 'src/sandbox/main.ts', logs, {
      SANDBOX_PORT: String(sandboxPort),
      SANDBOX_HOST: '127.0.0.1',
      SANDBOX_WEBHOOK_URL: `${proxy.url}${WEBHOOK_PATH}`,
      SANDBOX_WEBHOOK_SECRET: secret,
    });
    const sandbox = new SandboxControl(sandboxUrl);
    await waitForHttp(`${sandboxUrl}/_sandbox/info`, 'the sandbox');
    const { apiKey } = await sandbox.info();
    stops.push({ name: 'sandbox', stop: () => sandbox.close() });
    const relays = relayPorts.map((port, i) =>
      nodeProcess(
        `relay-${i + 1}`,
        'src/relay/main.ts',
        logs,
        relayEnvironment({
          temporalAddress: temporal.address,
          namespace: NAMESPACE,
          host: '127.0.0.1',
          port,
          webhookSecret: secret,
          dailyApiKey: apiKey,
          dailyApiUrl: sandbox.apiBase,
          watchdogIntervalSec: 10,
          spoolPath: path.join(dir, `relay-${i + 1}-spool.sqlite`),
        })
      )
    );
    const workers = [1, 2].map((n) =>
      nodeProcess(
        `worker-${n}`,
        'src/worker.ts',
        logs,
        workerEnvironment({
          temporalAddress: temporal.address,
          namespace: NAMESPACE,
          taskQueue: TASK_QUEUE,
          dailyApiKey: apiKey,
          dailyApiUrl: sandbox.apiBase,
          logLevel: 'warn',
        })
      )
    );
    for (const proc of [...workers, ...relays]) stops.push({ name: proc.name, stop: () => proc.stop() });
    stops.push({ name: 'sandbox process', stop: () => sandboxProcess.stop() });
    await Promise.all(relayPorts.map((port) => waitForHttp(`http://127.0.0.1:${port}/readyz`, `relay on ${port}`)));
    await waitForWebhook(sandbox);
    const connection = await Connection.connect({ address: temporal.address });
    stops.push({ name: 'client connection', stop: () => connection.close() });
    const client = new Client({ connection, namespace: NAMESPACE });
    await waitForPollers(client, 2);
    const stackSec = since(stackStarted);
    log(`stack up in ${stackSec} s: PostgreSQL, Temporal, UI, 2 workers, 2 relays behind ${proxy.url}, sandbox`);

    // 4. Transfers under faults.
    const outcome = await runTransfers({
      count: flags.transfers,
      client,
      sandbox,
      temporal,
      postgres,
      workers,
      relays,
      relayPorts,
    });

    // 5. The replay gate over every history the run produced, with the CLI as an operator runs it.
    const replay = await replayGate(temporal.address, flags.transfers);
    const checks = [...outcome.checks, replay];
    for (const workflowId of new Set(checks.flatMap((c) => c.workflowIds ?? []))) {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      writeFileSync(path.join(logs, `${workflowId.replace(/[^\w-]/g, '_')}.json`), JSON.stringify(history, null, 2));
    }
    const passed = checks.filter((c) => c.passed).length;
    const width = Math.max(...checks.map((c) => c.name.length));
    console.log('');
    for (const c of checks) console.log(`${c.passed ? 'PASS' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}`);
    for (const check of checks.filter((c) => !c.passed)) {
      console.log(`\n${check.name}:`);
      for (const failure of check.failures.slice(0, 20)) console.log(`  - ${failure}`);
    }
    printFigures({
      buildSec,
      cached: buildSec === 0,
      stackSec,
      transfersSec: outcome.seconds,
      transfers: flags.transfers,
      faults: outcome.faults,
      proxy,
      relayPorts,
    });
    console.log(`\ntest:cluster: ${passed} passed, ${checks.length - passed} failed`);
    if (passed !== checks.length) {
      keepDir = true;
      process.exitCode = 1;
    }
  } catch (err) {
    keepDir = true;
    throw err;
  } finally {
    log('stopping everything this run started');
    await stopAll();
    if (keepDir) console.log(`logs kept in ${logs}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** An entry point as its own process (`npm run worker` and the like), its output in `logs/<name>.log`. */
function nodeProcess(name: string, script: string, logs: string, env: Record<string, string>): NodeProcess {
  const logFile = path.join(logs, `${name}.log`);
  return new NodeProcess({
    name,
    script,
    env,
    onLine: (line, pid) => appendFileSync(logFile, `${pid} ${line}\n`),
    onUnexpectedExit: (proc, code, signal) => {
      log(`${name} exited on its own (${code ?? signal}):\n${proc.lastLines()}\n(logs: ${logs})`);
    },
  }).start();
}

/** The sandbox registers its webhook once the relays answer Daily's verification request. */
async function waitForWebhook(sandbox: SandboxControl): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await sandbox.webhooks()).length === 0) {
    if (Date.now() > deadline) throw new Error('the sandbox did not register its webhook to the relays');
    await sleep(250);
  }
}

/**
 * Until the worker process `pid` polls: the server lists a dead worker's poller for minutes, so a count would not
 * tell that the restarted one is back (the SDK's default identity is `<pid>@<host>`).
 */
async function waitForPoller(client: Client, pid: number, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: NAMESPACE,
      taskQueue: { name: TASK_QUEUE },
    });
    if (pollers.some((poller) => poller.identity?.startsWith(`${pid}@`))) return;
    if (Date.now() > deadline) throw new Error(`worker ${pid} did not poll ${TASK_QUEUE} in ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

async function waitForPollers(client: Client, count: number, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: NAMESPACE,
      taskQueue: { name: TASK_QUEUE },
    });
    if (new Set(pollers.map((poller) => poller.identity)).size >= count) return;
    if (Date.now() > deadline) throw new Error(`${count} workers did not poll ${TASK_QUEUE} in ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

interface Fault {
  what: string;
  atSec: number;
  /** From the fault until the part was back (a worker or relay restarted, the server or database serving). */
  downSec: number;
}

async function runTransfers(opts: {
  count: number;
  client: Client;
  sandbox: SandboxControl;
  temporal: TemporalCluster;
  postgres: Postgres;
  workers: NodeProcess[];
  relays: NodeProcess[];
  relayPorts: number[];
}): Promise<{ checks: Check[]; faults: Fault[]; seconds: string }> {
  const { sandbox } = opts;
  const transfers = new TransferClient(opts.client, TASK_QUEUE);
  const planned: Planned[] = [];
  for (let index = 0; index < opts.count; index++) {
    const room = `cluster-${index}`;
    const { sipUri } = await sandbox.createRoom(room);
    const { sessionId } = await sandbox.addCaller(room);
    const p = plan(index, room, sessionId, sipUri);
    for (const [to, scenario] of p.scenarios) await sandbox.setScenario(to, scenario);
    planned.push(p);
  }
  const started = Date.now();
  const at = () => Number(since(started));
  const deadline = started + 8 * 60_000;
  const results = new Map<number, TransferResult | Error>();
  const startWindowMs = 40_000;
  const running = planned.map(async (p) => {
    await sleep((p.index * startWindowMs) / planned.length);
    try {
      const { handle } = await retrying(deadline, () => transfers.start(p.request));
      results.set(p.index, await retrying(deadline, () => handle.result()));
    } catch (err) {
      results.set(p.index, err as Error);
    }
  });

  const faults: Fault[] = [];
  const fault = async (what: string, atSec: number, act: () => Promise<void>) => {
    const wait = started + atSec * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    const begin = Date.now();
    log(`fault: ${what}`);
    await act();
    const downSec = Number(since(begin));
    faults.push({ what, atSec: at(), downSec });
    log(`  back after ${downSec} s`);
  };
  const [worker1] = opts.workers as [NodeProcess];
  const [relay1] = opts.relays as [NodeProcess];
  await fault('worker-1 SIGKILLed', 8, async () => {
    await worker1.kill();
    await sleep(1_000);
    worker1.start();
    await waitForPoller(opts.client, worker1.pid);
  });
  await fault('relay-1 SIGKILLed', 16, async () => {
    await relay1.kill();
    await sleep(2_000);
    relay1.start();
    await waitForHttp(`http://127.0.0.1:${opts.relayPorts[0]}/readyz`, 'relay-1');
  });
  await fault('Temporal server restarted', 24, async () => {
    await opts.temporal.stop();
    await opts.temporal.start();
  });
  await fault('PostgreSQL restarted', 36, async () => {
    await opts.postgres.stop();
    await sleep(2_000);
    await opts.postgres.start();
  });

  const ticker = setInterval(() => log(`  ${results.size}/${planned.length} transfers closed`), 10_000);
  await Promise.all(running).finally(() => clearInterval(ticker));
  const seconds = since(started);
  log(`every transfer closed in ${seconds} s; waiting for the sandbox to deliver what is left`);
  await sandbox.idle(60_000);
  return { checks: await check(planned, results, sandbox), faults, seconds };
}

/** Retries what fails while a worker, a relay, Temporal or PostgreSQL is down; a failed workflow is an answer. */
async function retrying<T>(deadline: number, call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (err instanceof WorkflowFailedError || Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------------------------

const describe = (
  attempts: ReadonlyArray<{ method: string; toEndPoint: string; outcome?: string; decidedBy?: string }>
) =>
  attempts
    .map(
      (a) =>
        `${a.method === 'sipRefer' ? 'refer ' : ''}${a.toEndPoint}: ${a.outcome ?? '?'}` +
        (a.decidedBy ? ` (${a.decidedBy})` : '')
    )
    .join(', ');

async function check(
  planned: Planned[],
  results: Map<number, TransferResult | Error>,
  sandbox: SandboxControl
): Promise<Check[]> {
  const outcomes: string[] = [];
  const requests: string[] = [];
  const suspects: string[] = [];
  let effective = 0;
  let unknowns = 0;
  const requestLog = await sandbox.requests();
  for (const p of planned) {
    const result = results.get(p.index);
    const where = `#${p.index} ${p.kind}`;
    if (!result || result instanceof Error) {
      outcomes.push(`${where}: no result (${result?.message ?? 'never finished'})`);
      continue;
    }
    // A 200, or a lost response (it took effect; the worker never heard): Daily acted on it. 429s and 5xx did not.
    const tookEffect = requestLog.filter(
      (r) =>
        r.room === p.room &&
        (r.endpoint === 'sipCallTransfer' || r.endpoint === 'sipRefer') &&
        (r.status === 200 || r.faulted === 'lost-response')
    );
    const reached = (toEndPoint: string) =>
      tookEffect.filter((r) => (r.body as { toEndPoint?: string }).toEndPoint === toEndPoint).length;
    const got = result.attempts.map((a) => ({ method: a.method, toEndPoint: a.toEndPoint, outcome: a.outcome }));
    // `unknown` is a true outcome when a killed worker may have sent the request and nothing proves it did: the
    // workflow then refuses to risk a second transfer. It is true only if the request indeed never took effect.
    const honestUnknown = got.findIndex(
      (a, i) =>
        a.outcome === 'unknown' &&
        a.toEndPoint === p.expected.attempts[i]?.toEndPoint &&
        reached(a.toEndPoint) === 0 &&
        JSON.stringify(got.slice(0, i)) === JSON.stringify(p.expected.attempts.slice(0, i))
    );
    if (honestUnknown >= 0) {
      unknowns++;
      effective += tookEffect.length;
      const twice = got.filter((a) => reached(a.toEndPoint) > 1).map((a) => a.toEndPoint);
      if (twice.length > 0) requests.push(`${where}: more than one request took effect to ${twice.join(', ')}`);
      continue;
    }
    const fallback = result.fallback;
    const fallbackOk = p.expected.fallback
      ? fallback?.ok === true &&
        fallback.action === p.expected.fallback.action &&
        fallback.toEndPoint === p.expected.fallback.toEndPoint
      : fallback === undefined;
    if (
      result.state !== p.expected.state ||
      JSON.stringify(got) !== JSON.stringify(p.expected.attempts) ||
      !fallbackOk
    ) {
      suspects.push(result.workflowId);
      outcomes.push(
        `${where}: expected ${p.expected.state} [${describe(p.expected.attempts)}], got ${result.state} [${describe(result.attempts)}]` +
          (fallback ? ` (fallback ${fallback.action}: ${fallback.detail})` : '')
      );
    }
    // Daily's transfer POST is not idempotent: exactly one request per attempt (and fallback) may take effect.
    effective += tookEffect.length;
    const sent = tookEffect.map((r) => `${r.endpoint}→${(r.body as { toEndPoint?: string }).toEndPoint}`);
    const fallbackMethod = fallback?.action === 'refer' ? 'sipRefer' : 'sipCallTransfer';
    const attempts = [
      ...result.attempts.map((a) => `${a.method}→${a.toEndPoint}`),
      ...(fallback?.toEndPoint ? [`${fallbackMethod}→${fallback.toEndPoint}`] : []),
    ];
    if (JSON.stringify(sent) !== JSON.stringify(attempts)) {
      suspects.push(result.workflowId);
      requests.push(`${where}: attempts [${attempts.join(', ')}], requests that took effect [${sent.join(', ')}]`);
    }
  }
  const byKind = KINDS.map((kind) => `${planned.filter((p) => p.kind === kind).length} ${kind}`).join(', ');
  const deliveries = await sandbox.deliveries();
  const dropped = deliveries.filter((d) => d.status === 'dropped');
  const retried = deliveries.filter((d) => d.status !== 200 && d.status !== 'dropped').length;
  const webhookStates = (await sandbox.webhooks()).map((w) => w.state);
  const webhookFailures = [
    ...dropped.map((d) => `event ${d.eventId} (${d.type}) dropped after ${d.attempt} attempts`),
    ...webhookStates.filter((state) => state !== 'ACTIVE').map((state) => `the webhook is ${state}`),
  ];
  return [
    {
      name: 'every transfer ended with its scenario’s outcome',
      passed: outcomes.length === 0,
      detail:
        `${planned.length - outcomes.length - unknowns}/${planned.length} (${byKind})` +
        (unknowns > 0 ? `; ${unknowns} honestly unknown (request lost with a killed process, never took effect)` : ''),
      failures: outcomes,
      workflowIds: suspects,
    },
    {
      name: 'no transfer request took effect twice',
      passed: requests.length === 0,
      detail: `${effective} requests took effect, one per attempt`,
      failures: requests,
    },
    {
      name: 'no webhook lost, the webhook never FAILED',
      passed: webhookFailures.length === 0,
      detail: `${deliveries.length - retried} deliveries answered, ${retried} failed and retried, ${dropped.length} dropped`,
      failures: webhookFailures,
    },
  ];
}

/** `switchboard replay` as a separate process, over every transfer this cluster ran. */
async function replayGate(address: string, expected: number): Promise<Check> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'src/client/cli.ts'),
      '--json',
      'replay',
      '--limit',
      String(expected + 10),
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: NAMESPACE },
      stdio: ['ignore', 'pipe', 'pipe'],
    }
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const name = 'switchboard replay passes on every history';
  try {
    const report = JSON.parse(out) as { replayed: number; failures: Array<{ workflowId: string; error: string }> };
    const failures = report.failures.map((f) => `${f.workflowId}: ${f.error}`);
    if (report.replayed !== expected) failures.push(`replayed ${report.replayed} histories, the run has ${expected}`);
    return {
      name,
      passed: code === 0 && failures.length === 0,
      detail: `${report.replayed} histories replayed (exit ${code})`,
      failures,
    };
  } catch {
    return { name, passed: false, detail: `exit ${code}`, failures: [`${out}${err}`.trim()] };
  }
}

function printFigures(f: {
  buildSec: number;
  cached: boolean;
  stackSec: string;
  transfersSec: string;
  transfers: number;
  faults: Fault[];
  proxy: RoundRobinProxy;
  relayPorts: number[];
}): void {
  const relayShare = f.relayPorts.map((port, i) => `relay-${i + 1} ${f.proxy.connections.get(port) ?? 0}`).join(', ');
  console.log('\nfigures');
  console.log(`  build          ${f.cached ? 'cached (0 s)' : `${f.buildSec} s (Go)`}`);
  console.log(`  stack start    ${f.stackSec} s`);
  console.log(`  transfers      ${f.transfers} in ${f.transfersSec} s`);
  console.log(`  faults         ${f.faults.map((x) => `${x.what} (back in ${x.downSec} s)`).join('; ')}`);
  console.log(`  webhooks       connections through the proxy: ${relayShare}`);
  console.log(`  whole run      ${since(runStarted)} s`);
}

main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  await stopAll();
  process.exit(1);
});
