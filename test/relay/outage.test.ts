import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import pino from 'pino';
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
import { TRANSFER_EVENT_TYPES, transferWorkflowId } from '../../src/shared';
import { quietRuntime } from '../helpers/temporal';
import { waitFor } from '../helpers/wait';
import { SECRET } from './deliveries';
import { receivedQuery, recordDailyEvents } from './fixtures/recorder';
import { RelayProcess } from './relay-process';

// The relay's promise: Temporal may be away for longer than Daily would ever retry, and the relay may die with
// events still spooled, yet Daily sees only 200s and every transfer event reaches its workflow.
const taskQueue = 'relay-outage';

// Daily's `exponential` schedule, scaled down: 5 attempts, waits of 200, 400, 400, 400 ms — 1.4 s in all. The
// outages below last several times that, so a relay that answered anything but 200 would lose events.
const RETRY_BASE_MS = 200;
const RETRY_CAP_MS = 400;
const WHOLE_RETRY_SCHEDULE_MS = RETRY_BASE_MS + 3 * RETRY_CAP_MS;
// Each test restarts the dev server and waits out an outage; on a loaded machine that exceeds Jest's default.
jest.setTimeout(180_000);

interface Leg {
  room: string;
  sessionId: string;
}

describe('durable intake', () => {
  const binary = findTemporalCli();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-relay-outage-'));
  const dbFile = path.join(dataDir, 'temporal.db');
  let port: number;
  let server: DevServer | undefined;
  let sandbox: Sandbox;
  let daily: DailyClient;
  let legCounter = 0;

  beforeAll(async () => {
    if (!binary) throw new Error('needs the temporal CLI: run `npm run setup` or set TEMPORAL_CLI_PATH');
    quietRuntime();
    port = await freePort();
    server = await startDevServer({ binary, port, dbFile });
    sandbox = await startSandbox({
      port: 0,
      timing: { triggeredMs: 10, initiatedMs: 20, retryBaseMs: RETRY_BASE_MS, retryCapMs: RETRY_CAP_MS },
      defaultScenario: { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 },
    });
    daily = new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase });
  });

  afterAll(async () => {
    await daily?.close();
    await sandbox?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Calls whose transfer workflows (recorders standing in for `transferCall`) run before Temporal goes down. */
  async function runningLegs(count: number): Promise<Leg[]> {
    const legs = Array.from({ length: count }, () => {
      const room = `outage-${(legCounter += 1)}`;
      sandbox.createRoom(room);
      return { room, sessionId: sandbox.addCaller(room).sessionId };
    });
    const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    const client = new Client({ connection });
    for (const leg of legs) {
      await client.workflow.start(recordDailyEvents, {
        taskQueue,
        workflowId: transferWorkflowId(leg.room, leg.sessionId),
      });
    }
    await connection.close();
    return legs;
  }

  const eventsOf = (leg: Leg) =>
    sandbox
      .emittedEvents()
      .filter(
        (e) =>
          (TRANSFER_EVENT_TYPES as readonly string[]).includes(e.type) &&
          e.payload.room === leg.room &&
          e.payload.session_id === leg.sessionId
      );

  /** Transfers every leg while Temporal is down, and waits until Daily is done with all their webhooks. */
  async function transferDuringOutage(legs: Leg[]): Promise<void> {
    const stoppedAt = Date.now();
    await server?.stop();
    server = undefined;
    for (const leg of legs) {
      await daily.sipCallTransfer(leg.room, { sessionId: leg.sessionId, toEndPoint: 'sip:agent@example.com' });
    }
    await waitFor('every transfer to end', () =>
      legs.every((leg) => eventsOf(leg).some((e) => e.type === 'calltransfer.completed'))
    );
    await sandbox.idle();
    // Longer than Daily would have kept retrying any event refused at the start of the outage.
    await sleep(Math.max(0, 3 * WHOLE_RETRY_SCHEDULE_MS - (Date.now() - stoppedAt)));
  }

  /** Every event Daily sent about each leg reached the leg's workflow. */
  async function expectAllDelivered(legs: Leg[]): Promise<void> {
    const nativeConnection = await NativeConnection.connect({ address: `127.0.0.1:${port}` });
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('./fixtures/recorder'),
    });
    const check = new Client({ connection: await Connection.connect({ address: `127.0.0.1:${port}` }) });
    try {
      await worker.runUntil(async () => {
        for (const leg of legs) {
          const handle = check.workflow.getHandle(transferWorkflowId(leg.room, leg.sessionId));
          const expected = new Set(eventsOf(leg).map((e) => e.id));
          expect(expected.size).toBeGreaterThanOrEqual(5);
          // At least once: a signal whose answer was lost may arrive twice; the real workflow dedupes by id.
          const received = await waitFor(`every event of ${leg.room}`, async () => {
            const ids = new Set((await handle.query(receivedQuery)).map((e) => e.id));
            return ids.size >= expected.size && ids;
          });
          expect(received).toEqual(expected);
        }
      });
    } finally {
      await check.connection.close();
      await nativeConnection.close();
    }
  }

  const onlyOks = () => {
    expect(sandbox.deliveries().filter((d) => d.status !== 200)).toEqual([]);
    expect(sandbox.webhooks()).toMatchObject([{ state: 'ACTIVE', failedCount: 0 }]);
  };

  test("Temporal down for longer than Daily's whole retry schedule: Daily sees only 200s, nothing is lost", async () => {
    const relay: RunningRelay = await startRelay(
      {
        temporal: { address: `127.0.0.1:${port}`, namespace: 'default' },
        port: 0,
        host: '127.0.0.1',
        secrets: SECRET,
        watchdogIntervalSec: 60,
        spoolPath: path.join(dataDir, 'in-process-relay.sqlite'),
      },
      { logger: pino({ level: 'silent' }) }
    );
    try {
      await setupWebhook({ daily, url: `${relay.url}${WEBHOOK_PATH}`, hmac: SECRET });
      const legs = await runningLegs(3);
      await transferDuringOutage(legs);
      onlyOks();
      const metrics = await (await fetch(`${relay.url}/metrics`)).text();
      const pending = Number(/^switchboard_relay_spool_pending_events (\d+)$/m.exec(metrics)?.[1]);
      expect(pending).toBe(legs.flatMap(eventsOf).length);

      server = await startDevServer({ binary: binary as string, port, dbFile });
      await expectAllDelivered(legs);
    } finally {
      await relay.close();
    }
  });

  test('the relay SIGKILLed mid-drain and restarted on its spool delivers the rest', async () => {
    const spoolPath = path.join(dataDir, 'relay-process.sqlite');
    const relay = new RelayProcess({
      RELAY_PORT: String(await freePort()),
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      DAILY_WEBHOOK_SECRET: SECRET,
      RELAY_SPOOL_PATH: spoolPath,
      // One signal at a time, one event per signal: the drain lasts long enough to be interrupted.
      RELAY_DRAIN_CONCURRENCY: '1',
      RELAY_SIGNAL_BATCH: '1',
      LOG_LEVEL: 'info',
    });
    try {
      await relay.start();
      // The domain's webhook still points at the first test's relay: move it, on purpose.
      await setupWebhook({ daily, url: `${relay.url}${WEBHOOK_PATH}`, hmac: SECRET, replace: true });
      sandbox.reset();
      // Enough events that draining them one signal at a time takes a while (about 1 s here).
      const legs = await runningLegs(30);
      await transferDuringOutage(legs);
      onlyOks();
      const total = legs.flatMap(eventsOf).length;

      // Killed as soon as the spool shows the drain has begun: watched on the file itself, since the relay's log lines
      // arrive in buffered bursts, after the drain they report may have finished.
      const left = new Spool(spoolPath, { readonly: true });
      const spooled = left.pending('signal').length;
      // Watched while the server starts: the drain may begin (and end) before its start-up check returns.
      const starting = startDevServer({ binary: binary as string, port, dbFile });
      const deadline = Date.now() + 60_000;
      while (left.pending('signal').length === spooled && Date.now() < deadline) await sleep(5);
      await relay.kill('SIGKILL');
      server = await starting;
      const stillSpooled = left.pending('signal').length;
      left.close();
      expect(stillSpooled).toBeGreaterThan(0);
      expect(stillSpooled).toBeLessThan(total);

      await relay.start();
      await expectAllDelivered(legs);
    } finally {
      await relay.kill('SIGTERM');
    }
  });
});
