/**
 * The relay's promise with real transfers: `transferCall` workflows ring their destinations, then Temporal goes away
 * for longer than Daily's whole webhook retry schedule while the destinations answer, hang up or go on ringing. When
 * Temporal is back, every transfer ends with its true outcome, Daily (the sandbox) saw only 200s, and the spool is
 * empty. Under both of Daily's event models.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { TransferClient } from '../../src/client/transfers';
import { DailyClient } from '../../src/daily';
import type { DevServer } from '../../src/local/dev-server';
import { freePort, startDevServer } from '../../src/local/dev-server';
import { findTemporalCli } from '../../src/local/temporal-cli';
import { WEBHOOK_PATH } from '../../src/relay/app';
import type { RunningRelay } from '../../src/relay/server';
import { startRelay } from '../../src/relay/server';
import { Spool } from '../../src/relay/spool';
import { setupWebhook } from '../../src/relay/webhook-setup';
import type { Sandbox } from '../../src/sandbox';
import { startSandbox } from '../../src/sandbox';
import type { TransferResult } from '../../src/shared';
import { createSwitchboardWorker } from '../../src/worker';
import { quietRuntime, switchboardWorkflowBundle } from '../helpers/temporal';
import { waitFor } from '../helpers/wait';
import { SECRET } from './deliveries';

// Daily's `exponential` schedule, scaled down: 5 attempts, waits of 200, 400, 400, 400 ms — 1.4 s in all.
const RETRY_BASE_MS = 200;
const RETRY_CAP_MS = 400;
const WHOLE_RETRY_SCHEDULE_MS = RETRY_BASE_MS + 3 * RETRY_CAP_MS;
/** Temporal stays down this long: three whole retry schedules, and long enough for the calls below to play out. */
const OUTAGE_MS = Math.max(3 * WHOLE_RETRY_SCHEDULE_MS, 5000);
jest.setTimeout(240_000);

/** Answers 2.5 s after the request and hangs up 1 s later: while Temporal is away, so its events wait in the spool. */
const ANSWERS = 'sip:answers-in-outage@pbx.example.com';
const NEVER = 'sip:never-answers@pbx.example.com';

describe.each(['docs', 'extended'] as const)("Temporal away while transfers ring, under Daily's %s model", (model) => {
  const binary = findTemporalCli();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-outage-transfers-'));
  const dbFile = path.join(dataDir, 'temporal.db');
  const spoolPath = path.join(dataDir, 'relay.sqlite');
  const taskQueue = `outage-transfers-${model}`;
  let port: number;
  let server: DevServer | undefined;
  let sandbox: Sandbox;
  let daily: DailyClient;
  let relay: RunningRelay;
  let workerConnection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;

  beforeAll(async () => {
    if (!binary) throw new Error('needs the temporal CLI: run `npm run setup` or set TEMPORAL_CLI_PATH');
    quietRuntime();
    port = await freePort();
    server = await startDevServer({ binary, port, dbFile });
    sandbox = await startSandbox({
      port: 0,
      model: { completedStatus: model },
      timing: { triggeredMs: 10, initiatedMs: 20, retryBaseMs: RETRY_BASE_MS, retryCapMs: RETRY_CAP_MS },
    });
    sandbox.setScenario(ANSWERS, { kind: 'answer', afterMs: 2500, hangUpAfterMs: 1000 });
    sandbox.setScenario(NEVER, { kind: 'no-answer' });
    daily = new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase });
    relay = await startRelay(
      {
        temporal: { address: `127.0.0.1:${port}`, namespace: 'default' },
        port: 0,
        host: '127.0.0.1',
        secrets: SECRET,
        watchdogIntervalSec: 60,
        spoolPath,
      },
      { logger: pino({ level: 'silent' }) }
    );
    await setupWebhook({ daily, url: `${relay.url}${WEBHOOK_PATH}`, hmac: SECRET });
    workerConnection = await NativeConnection.connect({ address: `127.0.0.1:${port}` });
    worker = await createSwitchboardWorker({
      connection: workerConnection,
      namespace: 'default',
      taskQueue,
      daily,
      workflowBundle: await switchboardWorkflowBundle(),
      tuning: { shutdownGraceTime: '1s' },
    });
    running = worker.run();
  });

  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await workerConnection?.close();
    await relay?.close();
    await daily?.close();
    await sandbox?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('every transfer ends with its true outcome, Daily sees only 200s, nothing is left in the spool', async () => {
    const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    const transfers = new TransferClient(new Client({ connection }), taskQueue);
    const calls = Array.from({ length: 4 }, (_, i) => {
      const room = `outage-${model}-${i}`;
      const { sipUri } = sandbox.createRoom(room);
      return { room, sipUri, sessionId: sandbox.addCaller(room).sessionId, answers: i % 2 === 0 };
    });
    const started = [];
    for (const call of calls) {
      started.push(
        await transfers.start({
          room: call.room,
          sessionId: call.sessionId,
          // The answering destination's ring budget outlasts the outage; the other one's ends during it.
          attempts: [
            call.answers
              ? { method: 'sipCallTransfer', toEndPoint: ANSWERS, answerTimeoutSec: 60 }
              : { method: 'sipCallTransfer', toEndPoint: NEVER, answerTimeoutSec: 3 },
          ],
          onExhausted: { action: 'rollback' },
        })
      );
    }
    // Every request reached Daily and the leg left the room before Temporal goes away.
    await waitFor('every leg out of its room', () =>
      calls.every((call) => sandbox.participant(call.room, call.sessionId)?.state !== 'in-room')
    );

    await server?.stop();
    server = undefined;
    await sleep(OUTAGE_MS);
    const spooled = new Spool(spoolPath, { readonly: true });
    const heldDuringOutage = spooled.pending('signal').length;
    spooled.close();
    server = await startDevServer({ binary: binary as string, port, dbFile });

    const results: TransferResult[] = [];
    for (const transfer of started) results.push(await transfer.handle.result());
    await connection.close();

    // The answering destinations' `answered` and `completed` waited in the spool; the others' ring budgets ran out.
    expect(heldDuringOutage).toBeGreaterThanOrEqual(4);
    for (const [i, call] of calls.entries()) {
      const result = results[i]!;
      const requests = sandbox.requests({ path: 'sipCallTransfer', room: call.room });
      if (call.answers) {
        expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
        // Daily's timestamps are whole seconds: a 1 s call measures 0–2 s.
        expect(result.callDurationSec).toBeLessThanOrEqual(2);
        expect(requests).toHaveLength(1);
      } else {
        expect(result).toMatchObject({ state: 'rolled_back', outcome: 'no-answer' });
        expect(requests.map((r) => (r.body as { toEndPoint: string }).toEndPoint)).toEqual([NEVER, call.sipUri]);
        // Back where it came from: a leg in its own room again, under the new session id Daily gives it there.
        const back = sandbox.participant(call.room, call.sessionId);
        expect(back).toMatchObject({ room: call.room, sessionId: expect.any(String) });
        expect(sandbox.participant(call.room, back!.sessionId!)?.state).toBe('in-room');
      }
    }
    expect(sandbox.deliveries().filter((d) => d.status !== 200)).toEqual([]);
    expect(sandbox.webhooks()).toMatchObject([{ state: 'ACTIVE', failedCount: 0 }]);
    await waitFor('the spool to drain', () => {
      const spool = new Spool(spoolPath, { readonly: true });
      const left = spool.pending('signal').length;
      spool.close();
      return left === 0;
    });
  });
});
