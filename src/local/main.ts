/**
 * `npm start`: the whole system locally with zero configuration. Ctrl-C stops everything.
 *
 * Env (all optional): TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), RELAY_PORT (8080), SANDBOX_PORT (8090),
 * SWITCHBOARD_DATA_DIR (.switchboard), DAILY_API_KEY + DAILY_API_URL + DAILY_WEBHOOK_SECRET to use real Daily.
 */
import path from 'node:path';
import { z } from 'zod';
import { parseEnv } from '../config';
import { DEFAULT_DAILY_API_BASE } from '../daily/client';
import { Runtime } from '@temporalio/worker';
import { createLogger, temporalLogger } from '../logger';
import { startLocalStack } from './stack';

const localEnv = z.object({
  TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  RELAY_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  SANDBOX_PORT: z.coerce.number().int().min(1).max(65535).default(8090),
  SWITCHBOARD_DATA_DIR: z.string().default(path.join(process.cwd(), '.switchboard')),
  DAILY_API_KEY: z.string().min(1).optional(),
  DAILY_API_URL: z.url().default(DEFAULT_DAILY_API_BASE),
  DAILY_WEBHOOK_SECRET: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('warn'),
});

async function main(): Promise<void> {
  const env = parseEnv('local', localEnv, process.env);
  const logger = createLogger('switchboard', env.LOG_LEVEL);
  Runtime.install({ logger: temporalLogger(logger) });
  console.log('Starting Switchboard locally…');
  const stack = await startLocalStack({
    dataDir: env.SWITCHBOARD_DATA_DIR,
    temporalPort: env.TEMPORAL_PORT,
    uiPort: env.TEMPORAL_UI_PORT,
    relayPort: env.RELAY_PORT,
    sandboxPort: env.SANDBOX_PORT,
    daily: env.DAILY_API_KEY
      ? { apiKey: env.DAILY_API_KEY, apiUrl: env.DAILY_API_URL, webhookSecret: env.DAILY_WEBHOOK_SECRET }
      : undefined,
    logger,
  });

  const demoEnv = env.TEMPORAL_PORT === 7233 ? '' : `TEMPORAL_ADDRESS=${stack.temporalAddress} `;
  const sandboxEnv = env.SANDBOX_PORT === 8090 ? '' : `SANDBOX_URL=${stack.sandboxUrl} `;
  console.log(
    [
      '',
      'Switchboard is running',
      `  Temporal UI     ${stack.uiUrl}`,
      `  Temporal        ${stack.temporalAddress}   (data in ${env.SWITCHBOARD_DATA_DIR})`,
      `  Relay           ${stack.relayUrl}/webhooks/daily   (spool ${stack.relaySpoolPath})`,
      stack.sandboxUrl
        ? `  Daily sandbox   ${stack.sandboxUrl}/v1   (no DAILY_API_KEY set)`
        : '  Daily           real API (DAILY_API_KEY set): point your webhook at the relay with `switchboard webhook setup`',
      '',
      ...(stack.sandboxUrl
        ? [
            'Start a demo transfer (in another terminal) and watch it in the Temporal UI:',
            `  ${demoEnv}${sandboxEnv}npm run demo`,
          ]
        : []),
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n')
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    stack
      .stop()
      .then(() => {
        console.log('Stopped.');
        process.exit(0);
      })
      .catch((err: unknown) => {
        console.error(err);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
