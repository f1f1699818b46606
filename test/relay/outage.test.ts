import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
import { setupWebhook } from '../../src/relay/webhook-setup';
import type { Sandbox } from '../../src/sandbox';
import { startSandbox } from '../../src/sandbox';
import { TRANSFER_EVENT_TYPES, transferWorkflowId } from '../../src/shared';
import { quietRuntime } from '../helpers/temporal';
import { waitFor } from '../helpers/wait';
import { SECRET } from './deliveries';
import { receivedQuery, recordDailyEvents } from './fixtures/recorder';

// The whole promise of the relay: Temporal goes down while Daily keeps sending, comes back on the same data, and
// every transfer event still reaches its workflow — with Daily's webhook never switched off.
const taskQueue = 'relay-outage';

describe('Temporal outage while Daily keeps sending', () => {
  const binary = findTemporalCli();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-relay-outage-'));
  let server: DevServer | undefined;
  let relay: RunningRelay | undefined;
  let sandbox: Sandbox | undefined;
  let daily: DailyClient | undefined;

  afterAll(async () => {
    await relay?.close();
    await daily?.close();
    await sandbox?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('nothing is lost and the webhook stays ACTIVE', async () => {
    if (!binary) throw new Error('needs the temporal CLI: run `npm run setup` or set TEMPORAL_CLI_PATH');
    quietRuntime();
    const port = await freePort();
    const dbFile = path.join(dataDir, 'temporal.db');
    server = await startDevServer({ binary, port, dbFile });

    relay = await startRelay(
      {
        temporal: { address: server.address, namespace: 'default' },
        port: 0,
        host: '127.0.0.1',
        secrets: SECRET,
        watchdogIntervalSec: 60,
      },
      { logger: pino({ level: 'silent' }) }
    );
    // Backoff of 1, 2, 4, 8 s between Daily's 5 attempts: the outage must fit in that window, as in production it
    // must fit in Daily's ~15 minutes.
    sandbox = await startSandbox({
      port: 0,
      timing: { triggeredMs: 10, initiatedMs: 20, retryBaseMs: 1000, retryCapMs: 8000 },
      defaultScenario: { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 },
    });
    daily = new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase });
    await setupWebhook({ daily, url: `${relay.url}${WEBHOOK_PATH}`, hmac: SECRET });

    // Three calls whose transfers are running when Temporal goes down.
    const legs = ['a', 'b', 'c'].map((name) => {
      const room = `outage-${name}`;
      sandbox?.createRoom(room);
      return { room, sessionId: sandbox?.addCaller(room).sessionId ?? '' };
    });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    for (const leg of legs) {
      await client.workflow.start(recordDailyEvents, {
        taskQueue,
        workflowId: transferWorkflowId(leg.room, leg.sessionId),
      });
    }
    await connection.close();

    await server.stop();
    for (const leg of legs) {
      await daily.sipCallTransfer(leg.room, { sessionId: leg.sessionId, toEndPoint: 'sip:agent@example.com' });
    }
    const forLeg = (leg: { room: string; sessionId: string }) =>
      (sandbox?.emittedEvents() ?? []).filter(
        (e) =>
          (TRANSFER_EVENT_TYPES as readonly string[]).includes(e.type) &&
          e.payload.room === leg.room &&
          e.payload.session_id === leg.sessionId
      );
    // Every transfer has run to its end (`completed`) and each of its events has been refused at least once.
    const refused = () => new Set(sandbox?.deliveries().flatMap((d) => (d.status === 503 ? [d.eventId] : [])));
    await waitFor('the relay to refuse every event while Temporal is down', () => {
      const ended = legs.every((leg) => forLeg(leg).some((e) => e.type === 'calltransfer.completed'));
      const seen = refused();
      return ended && legs.flatMap(forLeg).every((e) => seen.has(e.id));
    });

    server = await startDevServer({ binary, port, dbFile });
    await sandbox.idle();

    expect(sandbox.deliveries().filter((d) => d.status === 'dropped')).toEqual([]);
    expect(sandbox.webhooks()).toMatchObject([{ state: 'ACTIVE' }]);

    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('./fixtures/recorder'),
    });
    const check = new Client({ connection: await Connection.connect({ address: server.address }) });
    try {
      await worker.runUntil(async () => {
        for (const leg of legs) {
          const received = await check.workflow
            .getHandle(transferWorkflowId(leg.room, leg.sessionId))
            .query(receivedQuery);
          // At least once: a signal whose answer was lost may arrive twice; the real workflow dedupes by id.
          expect(new Set(received.map((e) => e.id))).toEqual(new Set(forLeg(leg).map((e) => e.id)));
        }
      });
    } finally {
      await check.connection.close();
      await nativeConnection.close();
    }
  });
});
