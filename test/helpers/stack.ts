import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { TransferClient } from '../../src/client/transfers';
import { DailyClient } from '../../src/daily';
import { createRelay, WEBHOOK_PATH } from '../../src/relay/app';
import { setupWebhook } from '../../src/relay/webhook-setup';
import type { Sandbox, SandboxOptions } from '../../src/sandbox';
import { startSandbox } from '../../src/sandbox';
import { clientTracingInterceptors, type Tracing } from '../../src/telemetry/tracing';
import { createSwitchboardWorker } from '../../src/worker';
import { startTestTemporal, switchboardWorkflowBundle } from './temporal';

/** Scaled-down sandbox timings: the sequence of events is Daily's, the waits are tens of milliseconds. */
export const FAST_TIMING: SandboxOptions['timing'] = {
  triggeredMs: 10,
  initiatedMs: 20,
  outcomeMs: 50,
  roomAnswerMs: 100,
  retryBaseMs: 100,
  retryCapMs: 1000,
};

/**
 * The whole system for integration tests, all over real sockets: a Temporal dev server, the Daily sandbox, the relay
 * (Daily's webhook points at it, with a real secret) and a worker whose Daily client talks to the sandbox.
 */
export interface TestStack {
  env: TestWorkflowEnvironment;
  sandbox: Sandbox;
  relay: FastifyInstance;
  relayUrl: string;
  webhookSecret: string;
  daily: DailyClient;
  transfers: TransferClient;
  taskQueue: string;
  /** A fresh room with one dial-in caller. */
  newCall(): { room: string; sessionId: string; roomSipUri: string };
  /** Restarts the worker (e.g. with another Daily client). */
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

let roomCounter = 0;

export async function startStack(
  opts: {
    sandbox?: SandboxOptions;
    env?: TestWorkflowEnvironment;
    worker?: boolean;
    /** Traces the relay's signals, the worker, and `transfers`' starts (see `startTracing`). */
    tracing?: Tracing;
  } = {}
): Promise<TestStack> {
  const env = opts.env ?? (await startTestTemporal());
  const sandbox = await startSandbox({ port: 0, timing: FAST_TIMING, ...opts.sandbox });
  const webhookSecret = randomBytes(32).toString('base64');
  // Like startRelay: no client-side retries, whose timers could outlive the connection at teardown.
  const relayConnection = await Connection.connect({ address: env.address, interceptors: [] });
  const relay = createRelay({
    temporal: new Client({
      connection: relayConnection,
      namespace: env.namespace ?? 'default',
      interceptors: opts.tracing && clientTracingInterceptors(),
    }),
    secrets: webhookSecret,
    isTemporalReady: async () => true,
  });
  await relay.listen({ port: 0, host: '127.0.0.1' });
  const relayUrl = `http://127.0.0.1:${(relay.server.address() as AddressInfo).port}`;
  const daily = new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase });
  await setupWebhook({ daily, url: `${relayUrl}${WEBHOOK_PATH}`, hmac: webhookSecret });

  const taskQueue = `test-${randomUUID()}`;
  const workflowBundle = await switchboardWorkflowBundle({ tracing: !!opts.tracing });
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  const startWorker = async () => {
    worker = await createSwitchboardWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      daily,
      workflowBundle,
      plugins: opts.tracing && [opts.tracing.workerPlugin],
      tuning: { shutdownGraceTime: '1s' },
    });
    running = worker.run();
  };
  const stopWorker = async () => {
    if (worker && worker.getState() === 'RUNNING') worker.shutdown();
    await running;
    worker = undefined;
  };
  if (opts.worker !== false) await startWorker();

  const stack: TestStack = {
    env,
    sandbox,
    relay,
    relayUrl,
    webhookSecret,
    daily,
    transfers: new TransferClient(
      opts.tracing
        ? new Client({
            connection: env.connection,
            namespace: env.namespace ?? 'default',
            interceptors: clientTracingInterceptors(),
          })
        : env.client,
      taskQueue
    ),
    taskQueue,
    newCall() {
      const room = `room-${process.pid}-${++roomCounter}`;
      const { sipUri } = sandbox.createRoom(room);
      const { sessionId } = sandbox.addCaller(room);
      return { room, sessionId, roomSipUri: sipUri };
    },
    stopWorker,
    startWorker,
    async close() {
      await stopWorker();
      // The sandbox first: it is the webhook sender holding keep-alive connections to the relay.
      await sandbox.close();
      await relay.close();
      await relayConnection.close();
      await daily.close();
      if (!opts.env) await env.teardown();
    },
  };
  return stack;
}
