/**
 * `npm run relay`: the webhook → signal bridge as its own process, configured by environment (see `config.ts`).
 */
import pino from 'pino';
import { ConfigError } from '../config';
import { loadRelayConfig } from './config';
import { startRelay } from './server';

async function run(): Promise<void> {
  const config = loadRelayConfig();
  const logger = pino({ name: 'switchboard-relay' });
  const relay = await startRelay(config, { logger });

  const shutdown = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down');
    // A stuck close must not outlive the orchestrator's grace period silently.
    setTimeout(() => {
      logger.error('shutdown took more than 10 s; exiting');
      process.exit(1);
    }, 10_000).unref();
    relay.close().then(
      () => logger.info('relay stopped'),
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exitCode = 1;
      }
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

run().catch((err: unknown) => {
  // Configuration errors list every bad variable; a stack trace would only bury them.
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
