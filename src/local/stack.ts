/**
 * Everything on one machine with no accounts: an embedded Temporal dev server (data kept on disk), the worker and
 * the relay in this process, and — without a Daily API key — the sandbox standing in for Daily, its webhook
 * pointed at the relay.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import type { Worker } from '@temporalio/worker';
import { DailyClient } from '../daily';
import { WEBHOOK_PATH } from '../relay/app';
import type { RunningRelay } from '../relay/server';
import { startRelay } from '../relay/server';
import { setupWebhook } from '../relay/webhook-setup';
import { startSandbox } from '../sandbox';
import type { Sandbox } from '../sandbox';
import { TASK_QUEUE } from '../shared';
import { createSwitchboardWorker } from '../worker';
import type { DevServer } from './dev-server';
import { startDevServer } from './dev-server';
import { findTemporalCli } from './temporal-cli';
import type pino from 'pino';

export interface LocalStackOptions {
  dataDir: string;
  temporalPort: number;
  uiPort: number;
  relayPort: number;
  sandboxPort: number;
  /** Real Daily when set; the sandbox otherwise. */
  daily?: { apiKey: string; apiUrl: string; webhookSecret?: string };
  logger: pino.Logger;
}

export interface LocalStack {
  temporalAddress: string;
  uiUrl: string;
  relayUrl: string;
  /** The relay's spool (SQLite) under the data directory. */
  relaySpoolPath: string;
  sandboxUrl?: string;
  stop(): Promise<void>;
}

export class PortInUseError extends Error {
  public readonly name = 'PortInUseError';
  constructor(
    public readonly port: number,
    public readonly what: string,
    public readonly variable: string
  ) {
    super(`port ${port} (${what}) is in use: stop whatever holds it, or set ${variable} to another port`);
  }
}

async function assertPortFree(port: number, what: string, variable: string): Promise<void> {
  const server = createServer();
  const free = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (free) await new Promise((resolve) => server.close(resolve));
  else throw new PortInUseError(port, what, variable);
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const { logger } = opts;
  await assertPortFree(opts.temporalPort, 'Temporal frontend', 'TEMPORAL_PORT');
  await assertPortFree(opts.uiPort, 'Temporal UI', 'TEMPORAL_UI_PORT');
  await assertPortFree(opts.relayPort, 'relay', 'RELAY_PORT');
  if (!opts.daily) await assertPortFree(opts.sandboxPort, 'Daily sandbox', 'SANDBOX_PORT');

  const binary = findTemporalCli();
  if (!binary) throw new Error('no Temporal CLI found: run `npm run setup` (needs Go) or set TEMPORAL_CLI_PATH');
  mkdirSync(opts.dataDir, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch((err: unknown) => logger.error({ err }, 'stop failed'));
  };

  try {
    logger.info('starting Temporal dev server…');
    const server: DevServer = await startDevServer({
      binary,
      port: opts.temporalPort,
      uiPort: opts.uiPort,
      dbFile: path.join(opts.dataDir, 'temporal.db'),
    });
    stops.push(() => server.stop());

    let sandbox: Sandbox | undefined;
    let daily: DailyClient;
    let webhookSecret = opts.daily?.webhookSecret;
    if (opts.daily) {
      daily = new DailyClient({ apiKey: opts.daily.apiKey, baseUrl: opts.daily.apiUrl });
    } else {
      sandbox = await startSandbox({ port: opts.sandboxPort, log: (line) => logger.debug({ sandbox: line }) });
      stops.push(() => sandbox!.close());
      daily = new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase });
      webhookSecret = randomBytes(32).toString('base64');
    }
    stops.push(() => daily.close());
    if (!webhookSecret) throw new Error('DAILY_WEBHOOK_SECRET is required with DAILY_API_KEY (the webhook hmac)');

    const relay: RunningRelay = await startRelay(
      {
        temporal: { address: server.address, namespace: 'default' },
        port: opts.relayPort,
        host: '127.0.0.1',
        secrets: webhookSecret,
        watchdogIntervalSec: 60,
        spoolPath: path.join(opts.dataDir, 'relay-spool.sqlite'),
        ...(opts.daily ? { daily: { apiKey: opts.daily.apiKey, apiUrl: opts.daily.apiUrl } } : {}),
      },
      { logger: logger.child({ service: 'relay' }) }
    );
    stops.push(() => relay.close());
    if (sandbox) {
      // The sandbox is Daily here: point its webhook at the relay, as `switchboard webhook setup` does for Daily.
      await setupWebhook({ daily, url: `${relay.url}${WEBHOOK_PATH}`, hmac: webhookSecret });
    }

    const connection = await NativeConnection.connect({ address: server.address });
    stops.push(() => connection.close());
    const worker: Worker = await createSwitchboardWorker({
      connection,
      namespace: 'default',
      taskQueue: TASK_QUEUE,
      daily,
    });
    const running = worker.run();
    stops.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });

    return {
      temporalAddress: server.address,
      uiUrl: server.uiUrl ?? `http://localhost:${opts.uiPort}`,
      relayUrl: relay.url,
      relaySpoolPath: relay.spoolPath,
      sandboxUrl: sandbox?.url,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
